"""The dashboard and the manager's home against a known data set: exact figures per reader,
scoping, test leads left out, and the figures after a retag and an erasure."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.services import subject_erase
from leadops.core.access import system_context
from leadops.leads.ingest import Refused, leads_ingest, submissions_reject
from leadops.leads.models import Lead
from leadops.leads.prepare import IngestItem
from leadops.leads.rollups import intake_hours_fold
from leadops.leads.services import lead_market_set
from leadops.markets.services import manager_group_name
from leadops.markets.teams import team_ensure, team_member_set
from leadops.queue.models import ExceptionItem
from leadops.queue.services import exception_resolve
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(table, web, partner, revops_user):
    """In A: a1 created then merged, a held lead (quarantined; a person releases it after 30
    minutes), a test lead. In B: b1 created, a1 again (a review across A and B). One rejected."""
    ingest(web, {"email": "a1@x.io", **DE})
    ingest(web, {"email": "a1@x.io", "title": "CTO", **DE})
    ingest(web, {"email": "held@x.io", "phone": "call me maybe", **DE})
    ingest(partner, {"email": "b1@y.io", **FR})
    ingest(web, {"email": "a1@x.io", **FR})
    fields = {"email": "robot@x.io", **DE}
    leads_ingest(
        items=[IngestItem(source=web, payload=fields, fields=fields, synthetic=True)], actor=SYSTEM
    )
    submissions_reject(
        actor=SYSTEM, refused=[Refused(source=web, payload={}, errors={"email": ["x"]})]
    )
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="quarantined")
        ExceptionItem.objects.filter(pk=item.pk).update(
            created_at=timezone.now() - timedelta(minutes=30)
        )
        item.refresh_from_db()
        exception_resolve(actor=revops_user, item=item, resolution="release")
    intake_hours_fold()  # what beat does every minute


def manager_of(*markets):
    user = UserFactory.create(is_staff=True)
    for market in markets:
        user.groups.add(Group.objects.get(name=manager_group_name(market)))
    return user


def figures(client, user, query=""):
    client.force_login(user)
    page = client.get("/admin/dashboard/" + query)
    assert page.status_code == 200
    return page.context


def test_a_manager_of_one_market_sees_that_market_only(client, data, market_a):
    ctx = figures(client, manager_of(market_a))

    assert ctx["intake"].total == 3
    assert ctx["intake"].by_outcome == {"created": 1, "merged": 1, "quarantined": 1}
    assert (ctx["dedupe_rate"], ctx["quarantine_rate"]) == ("33.3 %", "33.3 %")
    exceptions = ctx["exceptions"]
    assert (exceptions.open_total, exceptions.overdue_total) == (0, 0)  # B's review is not hers
    assert exceptions.resolved == 1
    assert exceptions.median_minutes == 30.0
    assert (exceptions.leads, exceptions.leads_needing_a_person) == (2, 1)
    assert ctx["manual_rate"] == "50.0 %"


def test_revops_sees_every_market_and_the_rejected(client, data, revops_user):
    ctx = figures(client, revops_user)

    assert ctx["intake"].total == 6
    assert ctx["intake"].by_outcome == {
        "created": 2,
        "merged": 1,
        "review": 1,
        "quarantined": 1,
        "rejected": 1,
    }
    assert (ctx["dedupe_rate"], ctx["quarantine_rate"]) == ("40.0 %", "20.0 %")
    assert [(r["kind"], r["market"], r["open"]) for r in ctx["open_rows"]] == [
        ("duplicate_review", "BBB", 1)
    ]
    assert b"intake-chart" in client.get("/admin/dashboard/").content


def test_the_market_and_period_filters_narrow_every_figure(client, data, revops_user):
    only_b = figures(client, revops_user, "?market=BBB")
    long_ago = figures(client, revops_user, "?since=2020-01-01&until=2020-01-31")

    assert only_b["intake"].by_outcome == {"created": 1, "review": 1}
    assert only_b["exceptions"].leads == 2
    assert long_ago["intake"].total == 0
    assert (
        b"No submission arrived"
        in client.get("/admin/dashboard/?since=2020-01-01&until=2020-01-31").content
    )


def test_numbers_link_to_the_filtered_lists_behind_them(client, data, revops_user):
    ctx = figures(client, revops_user, "?market=AAA")
    [(_, merged, link)] = [c for c in ctx["outcome_cells"] if c[0] == "merged"]

    listed = client.get(link)

    assert merged == 1
    assert listed.status_code == 200
    assert len(listed.context["cl"].result_list) == 1


def test_a_retag_moves_the_figures_and_an_erasure_leaves_them(
    client, data, market_a, market_b, revops_user
):
    with system_context("tests"):
        lead = Lead.objects.get(email_norm="held@x.io")
        lead_market_set(actor=revops_user, lead=lead, market=market_b)
    subject_erase(actor=revops_user, identity="email:a1@x.io")
    stale = figures(client, manager_of(market_a))["intake"].by_outcome
    intake_hours_fold()

    a = figures(client, manager_of(market_a))
    b = figures(client, manager_of(market_b))

    # until the fold, the rollup still counts the moved lead in A; then its submission moved
    # with it, and the erased person's rows still count
    assert stale == {"created": 1, "merged": 1, "quarantined": 1}
    assert a["intake"].by_outcome == {"created": 1, "merged": 1}
    assert b["intake"].by_outcome == {"created": 1, "review": 1, "quarantined": 1}


def test_sections_of_features_to_come_say_so_without_zeros(client, data, revops_user):
    client.force_login(revops_user)

    html = client.get("/admin/dashboard/").content.decode()

    assert "arrive with the CRM connectors" in html
    assert "arrive with the routing engine" not in html  # routing has its own section now
    assert "arrive with lead SLAs" not in html  # and so do SLAs


def test_people_land_where_they_work(client, data, market_a, revops_user):
    from tests.factories import TEST_PASSWORD

    manager = manager_of(market_a)
    nobody = UserFactory.create(is_staff=True)
    landed = {}
    for user in (revops_user, manager, nobody):
        client.logout()
        answer = client.post(
            "/admin/login/", {"username": user.username, "password": TEST_PASSWORD}, follow=True
        )
        landed[user.username] = answer.redirect_chain[-1][0]

    assert landed == {
        revops_user.username: "/admin/dashboard/",
        manager.username: "/admin/home/",
        nobody.username: "/admin/",
    }


def test_a_managers_home_shows_her_queue_team_and_todays_intake(client, data, market_b, web):
    rep = UserFactory.create(username="rep_b")
    with system_context("tests"):
        team_member_set(
            actor=SYSTEM, team=team_ensure(actor=SYSTEM, market=market_b, name="B team"), user=rep
        )
    manager = manager_of(market_b)
    client.force_login(manager)

    page = client.get("/admin/home/")

    ctx = page.context
    assert ctx["queue_open"] == 0  # the B/A review needs both markets
    assert ctx["today"].total == 2
    [(market, people)] = ctx["teams"]
    assert (market.code, [c.user.username for c in people]) == ("BBB", ["rep_b"])


def test_the_rollup_equals_the_rows_and_a_second_fold_writes_nothing(data):
    from django.db import connection

    from leadops.leads.models import IntakeHour, Submission

    with system_context("tests"):
        rolled = sum(IntakeHour.objects.exclude(kind="lead").values_list("count", flat=True))
        raw = Submission.objects.exclude(lead__is_synthetic=True).count()
        before = list(IntakeHour.objects.order_by("id").values_list("id", "count"))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd + n_tup_ins + n_tup_del FROM pg_stat_xact_user_tables"
                " WHERE relname = 'leads_intakehour'"
            )
            writes_before = cursor.fetchone()[0]
        intake_hours_fold()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd + n_tup_ins + n_tup_del FROM pg_stat_xact_user_tables"
                " WHERE relname = 'leads_intakehour'"
            )
            writes_after = cursor.fetchone()[0]
        after = list(IntakeHour.objects.order_by("id").values_list("id", "count"))

    assert rolled == raw == 6
    assert after == before
    assert writes_after == writes_before


def test_a_merge_takes_the_absorbed_lead_out_of_the_leads_created(client, data, revops_user):
    from leadops.leads.merges import leads_merge

    before = figures(client, revops_user)["exceptions"].leads
    with system_context("tests"):
        review = ExceptionItem.objects.get(kind="duplicate_review")
        absorbed = Lead.objects.get(pk=review.target_id)
        survivor = Lead.objects.get(pk=review.details["candidates"][0]["lead"])
        leads_merge(actor=revops_user, survivor=survivor, absorbed=absorbed)
    intake_hours_fold()

    after = figures(client, revops_user)["exceptions"].leads

    assert (before, after) == (4, 3)  # a1, held, b1 and a1-in-B; then a1-in-B merged away
