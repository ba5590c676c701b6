"""Backtests replay past leads at their own moment against the past as it was: members and
their settings, absences, the lead's values then, the version published then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User

from leadops.core.access import system_context
from leadops.leads.models import Lead
from leadops.markets.models import TeamMember
from leadops.markets.teams import out_of_office_add, team_ensure, team_member_set
from routing.backtest import backtest_run, stale
from routing.models import Decision
from routing.versions import rule_set_ensure, version_draft_create, version_draft_update
from tests.factories import UserFactory
from tests.leads.test_api_ingest import post
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db

# After the fixtures made the team (now): the past a backtest rebuilds starts there.
T0 = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


def lead(name, country="DE", **extra):
    return {"source": "web", "email": f"{name}@example.com", "country": country, **extra}


def draft(market, author, rules):
    with system_context("tests"):
        return version_draft_create(
            actor=author,
            rule_set=rule_set_ensure(actor=author, market=market),
            content={"rules": rules},
            change_note="what if",
        )


def run(version, market):
    with system_context("tests"):
        return backtest_run(version=version, market_ids=[market.pk])


def test_the_baseline_rerun_equals_the_stored_decisions_when_nothing_changed(
    table, key_a, market_a, inbound, author, approver
):
    # given leads routed by v1, and a draft with exactly v1's rules
    de = {"field": "country", "op": "eq", "value": "DE"}
    v1 = publish(
        market_a,
        [rule("de", de, team="Inbound"), rule("rest", team="Inbound")],
        author=author,
        approver=approver,
    )
    for n in range(6):
        post(key_a, lead(f"same{n}"))
    same = draft(market_a, author, v1.content["rules"])

    # when it is backtested
    result = run(same, market_a)

    # then every lead is unchanged, the baseline names the stored rule and team, and the matrix
    # adds up to the leads evaluated
    assert result.evaluated == 6
    assert result.changes["unchanged"] == 6
    with system_context("tests"):
        stored = Counter_of(Decision.objects.values_list("rule", flat=True))
    assert dict(result.rules_before) == stored
    assert sum(result.matrix.values()) == result.evaluated


def Counter_of(values):
    from collections import Counter

    return dict(Counter(values))


def test_a_draft_that_moves_leads_shows_them_in_the_matrix(
    table, key_a, market_a, inbound, author, approver
):
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    with system_context("tests"):
        night = team_ensure(actor=SYSTEM, market=market_a, name="Night")
        team_member_set(actor=SYSTEM, team=night, user=UserFactory.create(username="owl"))
    for n in range(3):
        post(key_a, lead(f"mv{n}"))
    hot = {"field": "score", "op": "gte", "value": 1000}
    moved = draft(market_a, author, [rule("hot", hot, team="Inbound"), rule("night", team="Night")])

    result = run(moved, market_a)

    assert result.changes["moved"] == 3
    assert result.matrix[("Inbound", "Night")] == 3
    assert result.rules_after["night"] == 3
    assert sum(result.matrix.values()) == result.evaluated


def test_a_lead_routed_before_a_membership_change_sees_the_old_members(
    table, key_a, market_a, inbound, author, approver
):
    # given a lead routed while ann, ben, cat and dan were on the team
    with time_machine.travel(T0, tick=False):
        publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
        post(key_a, lead("early"))
    # and later dan left and eve joined
    with time_machine.travel(T0 + timedelta(days=1), tick=False), system_context("tests"):
        team_member_set(
            actor=SYSTEM, team=inbound, user=User.objects.get(username="dan"), is_active=False
        )
        team_member_set(actor=SYSTEM, team=inbound, user=UserFactory.create(username="eve"))
    same = draft(market_a, author, [rule("all", team="Inbound")])

    # when it is backtested today
    result = run(same, market_a)

    # then the lead was replayed against the team as it was: dan in, eve not yet
    assert result.evaluated == 1
    assert result.changes["unchanged"] == 1
    replay = _only_replay(same, market_a)
    assert replay.before.pool == ("ann", "ben", "cat", "dan")
    assert replay.after.pool == ("ann", "ben", "cat", "dan")


def test_a_past_absence_and_past_field_values_are_honoured(
    table, key_a, market_a, inbound, author, approver
):
    # given ben away on T0, when a DE lead arrived; the lead is FR today
    with system_context("tests"):
        ben = TeamMember.objects.get(team=inbound, user__username="ben")
        out_of_office_add(
            actor=SYSTEM,
            member=ben,
            starts_at=T0 - timedelta(hours=1),
            ends_at=T0 + timedelta(hours=1),
        )
    with time_machine.travel(T0, tick=False):
        publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
        body = post(key_a, lead("moved.away")).json()
    with time_machine.travel(T0 + timedelta(days=2), tick=False), system_context("tests"):
        stored = Lead.objects.get(pk=body["lead_id"])
        stored.country = "FR"
        stored.save()
    # a draft that routes only DE leads, to the team
    de_only = draft(
        market_a,
        author,
        [rule("de", {"field": "country", "op": "eq", "value": "DE"}, team="Inbound")],
    )

    result = run(de_only, market_a)

    # then the lead counts as DE (its value then), and ben is not in the pool (away then)
    assert result.rules_after["de"] == 1  # today's FR would have matched no rule
    replay = _only_replay(de_only, market_a)
    assert "ben" not in replay.after.pool
    assert replay.after.pool == ("ann", "cat", "dan")


def _only_replay(version, market):
    from routing.backtest import _leads, _Past, _replay
    from routing.engine import compile_version
    from routing.world import Published

    with system_context("tests"):
        past = _Past([market.pk])
        chunk = _leads([market.pk], None, None, None)
        trial = Published(
            version.pk, version.number, version.market_id, compile_version(version.content)
        )
        [replayed] = list(_replay(chunk, past, trial))
    return replayed


def test_caps_make_a_result_approximate_and_staleness_and_cancellation_are_told(
    table, key_a, market_a, inbound, author, approver
):
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    post(key_a, lead("capped"))
    with system_context("tests"):
        for member in TeamMember.objects.filter(team=inbound).select_related("user"):
            team_member_set(actor=SYSTEM, team=inbound, user=member.user, cap_open=5)
    trial = draft(market_a, author, [rule("all", team="Inbound", pick="least_loaded")])

    result = run(trial, market_a)
    assert result.approximate == 1  # least loaded: the loads of that moment are not known

    with system_context("tests"):
        assert not stale(version=trial, ran_on=result.content_hash)
        version_draft_update(
            actor=author, version=trial, content={"rules": [rule("all", team="Inbound")]}
        )
        trial.refresh_from_db()
        assert stale(version=trial, ran_on=result.content_hash)
        stopped = backtest_run(version=trial, market_ids=[market_a.pk], cancelled=lambda: True)
    assert stopped.cancelled
    assert stopped.evaluated == 0


def test_the_command_prints_the_same_numbers_and_says_what_is_wrong(
    table, key_a, market_a, inbound, author, approver
):
    import io
    import json

    from django.core.management import CommandError, call_command

    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    for n in range(2):
        post(key_a, lead(f"cmd{n}"))
    trial = draft(
        market_a,
        author,
        [rule("none", {"field": "score", "op": "gte", "value": 999}, team="Inbound")],
    )

    out = io.StringIO()
    call_command(
        "routing_backtest", "--version", str(trial.pk), "--market", "AAA", "--json", stdout=out
    )
    summary = json.loads(out.getvalue())
    assert summary["evaluated"] == 2
    assert summary["newly_unroutable"] == 2
    assert summary["matrix"] == [{"before": "Inbound", "after": "(unroutable)", "leads": 2}]

    with pytest.raises(CommandError, match="no routing version 999999"):
        call_command("routing_backtest", "--version", "999999")
    with pytest.raises(CommandError, match="no market 'ZZ'"):
        call_command("routing_backtest", "--version", str(trial.pk), "--market", "ZZ")
