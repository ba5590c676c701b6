"""Backtests started from a version's page: a Job with progress, results kept per market under
RLS (a narrower reader sees their markets' part only), cancellation that keeps nothing,
staleness, the drill-down with both traces, the CSV."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from leadops.core.access import system_context
from leadops.markets.services import market_access_grant
from leadops.markets.teams import team_ensure, team_member_set
from routing.backtests import backtest_execute, backtest_start
from routing.models import BacktestPart, BacktestRun
from routing.versions import rule_set_ensure, version_draft_create, version_draft_update
from tests.factories import UserFactory
from tests.leads.test_api_ingest import post
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    from leadops.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def two_markets(table, key_all, market_a, market_b, inbound, author, approver):
    """Leads in A and B routed by a global fallback to each market's Inbound; a global draft
    that sends everything to a Night team that only A has."""
    with system_context("tests"):
        team_b = team_ensure(actor=SYSTEM, market=market_b, name="Inbound")
        team_member_set(actor=SYSTEM, team=team_b, user=UserFactory.create(username="bea"))
        night = team_ensure(actor=SYSTEM, market=market_a, name="Night")
        team_member_set(actor=SYSTEM, team=night, user=UserFactory.create(username="owl"))
    publish(None, [rule("inbound", team="Inbound")], author=author, approver=approver)
    for n, country in enumerate(["DE", "DE", "FR"]):
        post(key_all, {"source": "web", "email": f"bt{n}@example.com", "country": country})
    with system_context("tests"):
        return version_draft_create(
            actor=author,
            rule_set=rule_set_ensure(actor=author, market=None),
            content={"rules": [rule("night", team="Night")]},
            change_note="nights",
        )


def test_a_backtest_runs_as_a_job_and_keeps_each_markets_part(
    client, two_markets, market_a, market_b, author, eager, django_capture_on_commit_callbacks
):
    # when RevOps start a backtest from the draft's page
    client.force_login(author)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/routing/ruleversion/{two_markets.pk}/act/", {"action": "backtest"})

    # then the job finished and each market has its part: A's two leads move to Night, B's
    # lead becomes unroutable (B has no Night team)
    with system_context("tests"):
        run = BacktestRun.objects.get()
        parts = {p.market.code: p.summary for p in BacktestPart.objects.select_related("market")}
        assert run.job.state == "succeeded"
    assert parts["AAA"]["moved"] == 2
    assert parts["AAA"]["matrix"] == [{"before": "Inbound", "after": "Night", "leads": 2}]
    assert parts["BBB"]["newly_unroutable"] == 1

    # and the page shows the whole result to RevOps, with the CSV and a drill-down
    page = client.get(f"/admin/routing/backtestrun/{run.pk}/change/").content.decode()
    assert 'id="bt-moved">2<' in page
    assert 'id="bt-newly-unroutable">1<' in page
    csv = client.get(f"/admin/routing/backtestrun/{run.pk}/csv/").content.decode()
    assert csv.count("\n") == 4  # header and three changed leads
    with system_context("tests"):
        lead_id = BacktestPart.objects.get(market=market_a).changed[0]["lead"]
    drill = client.get(f"/admin/routing/backtestrun/{run.pk}/lead/{lead_id}/").content.decode()
    assert "published then" in drill
    assert "v1 night" in drill or "night" in drill


def test_a_narrower_reader_sees_only_their_markets_part(two_markets, market_a, author, client):
    # given a finished backtest over A and B
    with system_context("tests"):
        run = backtest_start(
            actor=author, version=two_markets, market_ids=[market_a.pk, two_markets_b(market_a)]
        )
    backtest_execute(run_id=run.pk)
    # and an approver who sees global rows but holds market A only
    narrow = UserFactory.create(username="nora", is_staff=True)
    narrow.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["see_global", "view_backtestrun", "view_ruleversion", "view_ruleset"]
        )
    )
    with system_context("tests"):
        market_access_grant(actor=SYSTEM, market=market_a, user=narrow)
    client.force_login(narrow)

    # when they open it, then they read A's figures only and are told a part is not theirs
    page = client.get(f"/admin/routing/backtestrun/{run.pk}/change/").content.decode()
    assert 'id="bt-moved">2<' in page
    assert 'id="bt-newly-unroutable">0<' in page
    assert "1 of the markets it ran on are not yours" in page
    csv = client.get(f"/admin/routing/backtestrun/{run.pk}/csv/").content.decode()
    assert "BBB" not in csv


def two_markets_b(market_a):
    from leadops.markets.models import Market

    with system_context("tests"):
        return Market.objects.get(code="BBB").pk


def test_a_cancelled_backtest_keeps_nothing_and_an_edited_draft_makes_it_stale(
    two_markets, market_a, author
):
    with system_context("tests"):
        run = backtest_start(actor=author, version=two_markets, market_ids=[market_a.pk])
        BacktestRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    assert backtest_execute(run_id=run.pk) == {"cancelled": True}
    with system_context("tests"):
        assert not BacktestPart.objects.filter(run=run).exists()
        run.refresh_from_db()
        assert run.cancelled
        assert run.job.state == "failed"

        from routing.backtests import run_is_stale

        assert not run_is_stale(run)
        version_draft_update(
            actor=author, version=two_markets, content={"rules": [rule("x", team="Night")]}
        )
        run.refresh_from_db()
        assert run_is_stale(run)
