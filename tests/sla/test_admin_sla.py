"""SLAs in the admin: RevOps write and publish policy drafts (published ones are read-only),
the lead list shows each lead's clock and filters by it, the lead page shows the clock with
its history and holds and resumes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from leadops.core.access import system_context
from leadops.sla.models import PolicyVersion, Timer
from leadops.sla.sweep import timers_sweep
from tests.sla.conftest import SYSTEM, clock, new_lead, sla_publish

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)

DRAFT = {
    "market": "",
    "key": "inbound-demo",
    "name": "Inbound demo requests",
    "change_note": "the promise sales asked for",
    "priority": "100",
    "sources": "web",
    "score_min": "",
    "score_max": "",
    "field": "",
    "field_value": "",
    "starts_on": "receipt",
    "minutes": "60",
    "hours": "market",
    "warn_percent": "75",
    "ladder": "notify_owner 0\nfile_breach 30",
    "activity_kinds": "call, email, meeting",
    "response_by": "anyone",
}


def test_revops_write_a_draft_and_publish_it_and_the_published_version_is_read_only(
    client, revops_user, market_a
):
    client.force_login(revops_user)

    # when RevOps add a draft through the form, with one mistake first
    bad = client.post(
        "/admin/sla/policyversion/add/",
        {**DRAFT, "market": market_a.pk, "minutes": "0", "ladder": "notify_owner soon"},
    )
    made = client.post("/admin/sla/policyversion/add/", {**DRAFT, "market": market_a.pk})

    # then the mistakes are named by field, and the good draft is kept as a draft
    assert bad.status_code == 200
    errors = bad.context["adminform"].form.errors
    assert "A whole number of business minutes" in errors["minutes"][0]
    assert "Line 1" in errors["ladder"][0]
    assert made.status_code == 302
    with system_context("tests"):
        draft = PolicyVersion.objects.get(policy__key="inbound-demo")
    assert draft.state == "draft"
    assert draft.ladder == [
        {"step": "notify_owner", "after": 0},
        {"step": "file_breach", "after": 30},
    ]
    assert draft.sources == ["web"]

    # when they publish it from the list
    published = client.post(
        "/admin/sla/policyversion/",
        {"action": "publish_selected", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert "is in force" in published.content.decode()
    with system_context("tests"):
        draft.refresh_from_db()
    assert draft.state == "published"

    # then its page is read-only: a post changes nothing
    page = client.get(f"/admin/sla/policyversion/{draft.pk}/change/")
    client.post(f"/admin/sla/policyversion/{draft.pk}/change/", {**DRAFT, "minutes": "5"})
    with system_context("tests"):
        draft.refresh_from_db()
    assert page.status_code == 200
    assert 'name="minutes"' not in page.content.decode()
    assert draft.minutes == 60


def test_a_manager_reads_policies_but_cannot_add_one(client, manager_a, market_a):
    sla_publish(market_a, minutes=60)
    client.force_login(manager_a)
    assert client.get("/admin/sla/policy/").status_code == 200
    assert client.get("/admin/sla/policyversion/add/").status_code == 403


def test_the_lead_list_shows_each_clock_and_filters_by_it(
    client, revops_user, table, key_a, market_a, inbound
):
    # given three leads: one breached, one running, one met
    sla_publish(market_a, minutes=60, ladder=[])
    with time_machine.travel(START, tick=False):
        breached = new_lead(key_a, "late")
    with time_machine.travel(START + timedelta(minutes=100), tick=False):
        running = new_lead(key_a, "fresh")
        met = new_lead(key_a, "answered")
        timers_sweep(actor=SYSTEM, now=START + timedelta(minutes=100))
    from leadops.leads.services import activity_record
    from tests.sla.conftest import lead_of

    with system_context("tests"):
        activity_record(
            actor=SYSTEM,
            lead=lead_of(met["lead_id"]),
            kind="call",
            occurred_at=START + timedelta(minutes=101),
        )
    client.force_login(revops_user)

    # when the list is opened at 10:45 past the first lead's deadline, then filtered
    with time_machine.travel(START + timedelta(minutes=105), tick=False):
        page = client.get("/admin/leads/lead/").content.decode()
        breached_only = client.get("/admin/leads/lead/?sla=breached")
        due_hour = client.get("/admin/leads/lead/?sla=due_hour")

    # then each row shows its clock in words, coloured, and the filters narrow the list
    assert "overdue 45 min" in page
    assert "lo-sla-breached" in page
    assert "due in 55 min" in page
    assert ">met<" in page
    ids = lambda response: {row.pk for row in response.context["cl"].result_list}  # noqa: E731
    assert ids(breached_only) == {breached["lead_id"]}
    assert ids(due_hour) == {running["lead_id"]}


def test_the_lead_page_shows_the_clock_and_its_history_and_holds_it(
    client, revops_user, table, key_a, market_a, inbound
):
    sla_publish(market_a, minutes=60)
    with time_machine.travel(START, tick=False):
        body = new_lead(key_a, "on-page")
    client.force_login(revops_user)
    url = f"/admin/leads/lead/{body['lead_id']}/change/"

    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        page = client.get(url).content.decode()
        client.post(
            f"/admin/leads/lead/{body['lead_id']}/act/",
            {"action": "sla_hold", "reason": "waiting on the customer"},
        )
        held = client.get(url).content.decode()

    assert "due in 50 min" in page
    assert "Clock started" in page
    assert 'id="sla-hold-form"' in page
    assert clock(body["lead_id"]).state == Timer.State.PAUSED
    assert "on hold: waiting on the customer" in held
    assert 'id="sla-resume-form"' in held
    assert "Put on hold" in held


def test_revops_name_a_teams_manager_who_must_hold_its_market(
    client, revops_user, market_a, inbound, manager_a
):
    from django.contrib.auth.models import User

    from leadops.markets.models import Team

    outsider = User.objects.create(username="outsider", is_staff=True)
    client.force_login(revops_user)
    url = f"/admin/markets/team/{inbound.pk}/change/"
    form = {
        "manager": outsider.pk,
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
    }

    refused = client.post(url, form)
    accepted = client.post(url, {**form, "manager": manager_a.pk})

    assert refused.status_code == 200
    assert "does not hold market AAA" in refused.context["adminform"].form.errors["manager"][0]
    assert accepted.status_code == 302
    with system_context("tests"):
        assert Team.objects.get(pk=inbound.pk).manager_id == manager_a.pk
