"""The lead page: its actions (each a service with its audit event), who may use them, and the
timeline."""

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditEvent
from leadops.core.access import market_context, system_context
from leadops.core.errors import ApplicationError
from leadops.leads.models import Activity, Lead
from leadops.leads.owners import assign_candidates, lead_assign, leads_bulk
from leadops.markets.services import manager_group_name
from leadops.markets.teams import out_of_office_add, team_ensure, team_member_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_a(market_a):
    with system_context("tests"):
        team = team_ensure(actor=SYSTEM, market=market_a, name="Inbound A")
        rep = UserFactory.create(username="rep_a", is_staff=True)
        away = UserFactory.create(username="away_a", is_staff=True)
        team_member_set(actor=SYSTEM, team=team, user=rep)
        member = team_member_set(actor=SYSTEM, team=team, user=away)
    return team, rep, away, member


@pytest.fixture
def lead_a(table, web):
    [made] = ingest(web, {"email": "lia@acme.io", "first_name": "Lia", **DE})
    with system_context("tests"):
        return Lead.objects.get(pk=made.lead_id)


def events(action):
    with system_context("tests"):
        return list(AuditEvent.objects.filter(action=action))


def test_assigning_a_team_member_makes_a_new_lead_assigned_and_audits_it(lead_a, team_a):
    _team, rep, _away, _member = team_a
    with system_context("tests"):
        lead = lead_assign(actor=SYSTEM, lead=lead_a, owner=rep, reason="knows the account")

    assert (lead.owner_id, lead.status) == (rep.pk, "assigned")
    [event] = events("lead.assigned")
    assert event.target_id == str(lead_a.pk)


def test_an_owner_outside_the_leads_market_is_refused(lead_a, market_b):
    with system_context("tests"):
        team = team_ensure(actor=SYSTEM, market=market_b, name="Inbound B")
        stranger = UserFactory.create(username="rep_b")
        team_member_set(actor=SYSTEM, team=team, user=stranger)
        with pytest.raises(ApplicationError, match="no active team of AAA"):
            lead_assign(actor=SYSTEM, lead=lead_a, owner=stranger, reason="x")
        with pytest.raises(ApplicationError, match="Say why"):
            lead_assign(actor=SYSTEM, lead=lead_a, owner=None, reason=" ")
    assert events("lead.assigned") == []


def test_candidates_are_the_markets_members_available_first_with_the_reason(lead_a, team_a):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    _team, _rep, _away, member = team_a
    # A Wednesday morning in market A (Berlin, office hours by default): availability depends
    # on the hour, and this test is about out of office only.
    now = datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with system_context("tests"):
        out_of_office_add(
            actor=SYSTEM,
            member=member,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
        )
        candidates = assign_candidates(market_id=lead_a.market_id, at=now)

    assert [(c.user.username, c.available, c.why) for c in candidates] == [
        ("rep_a", True, "available"),
        ("away_a", False, "out of office"),
    ]


def test_bulk_assign_runs_per_chunk_and_reports_refusals(table, web, team_a, market_b):
    _team, rep, _away, _member = team_a
    made = ingest(
        web, *[{"email": f"b{i}@acme.io", **DE} for i in range(5)], {"email": "f@x.io", **FR}
    )
    ids = [r.lead_id for r in made]
    with system_context("tests"):
        report = leads_bulk(
            lead_ids=ids,
            act=lambda lead: lead_assign(actor=SYSTEM, lead=lead, owner=rep, reason="bulk"),
            chunk=2,
        )
        owners = dict(Lead.objects.filter(pk__in=ids).values_list("pk", "owner_id"))

    assert report.done == 5
    assert list(report.refused) == [ids[-1]]  # the FR lead: rep_a is not in B
    assert [owners[i] for i in ids] == [rep.pk] * 5 + [None]
    assert len(events("lead.assigned")) == 5


def manager_a_user(market_a):
    user = UserFactory.create(username="mgr", is_staff=True)
    user.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    return user


def test_a_manager_works_the_lead_from_its_page(client, lead_a, team_a, market_a):
    _team, rep, _away, _member = team_a
    client.force_login(manager_a_user(market_a))
    url = f"/admin/leads/lead/{lead_a.pk}/act/"

    client.post(url, {"action": "assign", "owner": rep.pk, "reason": "round one"})
    client.post(url, {"action": "activity", "kind": "call", "note": "left a voicemail"})
    client.post(url, {"action": "status", "status": "working"})
    refused = client.post(url, {"action": "status", "status": "converted"}, follow=True)

    assert b"cannot become converted" in refused.content
    with market_context(market_ids=[market_a.id]):
        lead = Lead.objects.get(pk=lead_a.pk)
        assert (lead.owner_id, lead.status) == (rep.pk, "working")
        assert list(Activity.objects.filter(lead=lead).values_list("kind", "note")) == [
            ("call", "left a voicemail")
        ]
    page = client.get(f"/admin/leads/lead/{lead_a.pk}/change/").content.decode()
    # the timeline, newest first: status, call, owner, then the submission
    order = [page.index(s) for s in ("Status assigned → working", "Call: left a voicemail",
                                     "Owner nobody → rep_a", "Submission #")]  # fmt: skip
    assert order == sorted(order)


def test_only_revops_may_erase_from_the_lead_page(client, lead_a, market_a, revops_user):
    url = f"/admin/leads/lead/{lead_a.pk}/act/"
    client.force_login(manager_a_user(market_a))
    assert client.post(url, {"action": "erase", "confirm": "ERASE"}).status_code == 403

    client.force_login(revops_user)
    unconfirmed = client.post(url, {"action": "erase", "confirm": "yes"}, follow=True)
    assert b"Type ERASE" in unconfirmed.content
    client.post(url, {"action": "erase", "confirm": "ERASE"})
    with system_context("tests"):
        lead = Lead.objects.get(pk=lead_a.pk)
    assert (lead.email, lead.first_name) == ("", "")
    assert len(events("subject.erased")) == 1


def test_merge_with_finds_the_other_lead_by_exact_email_and_compares(client, lead_a, web, market_a):
    [other] = ingest(web, {"email": "lia.b@acme.io", "phone": "+49 30 2222222", **DE})
    client.force_login(manager_a_user(market_a))

    found = client.post(
        f"/admin/leads/lead/{lead_a.pk}/act/", {"action": "merge_find", "term": "030 2222222"}
    )
    assert found.headers["Location"].endswith(f"/compare/{lead_a.pk}/{other.lead_id}/")
    client.post(found.headers["Location"], {"action": "merge_left"})

    with market_context(market_ids=[market_a.id]):
        assert Lead.objects.get(pk=other.lead_id).merged_into_id == lead_a.pk
        assert Lead.objects.get(pk=lead_a.pk).phone_e164 == "+49302222222"


def test_each_page_action_leaves_its_audit_event(client, lead_a, team_a, revops_user, market_b):
    _team, rep, _away, _member = team_a
    client.force_login(revops_user)
    url = f"/admin/leads/lead/{lead_a.pk}/act/"

    client.post(url, {"action": "assign", "owner": rep.pk, "reason": "territory"})
    client.post(url, {"action": "activity", "kind": "note", "note": "called back"})
    client.post(url, {"action": "status", "status": "working"})
    client.post(url, {"action": "market", "market": market_b.pk})

    assert len(events("lead.assigned")) == 1
    assert len(events("activity.recorded")) == 1
    assert len(events("lead.status_changed")) == 1
    [moved] = events("lead.moved")
    assert moved.market_id == market_b.id
    with system_context("tests"):
        assert Lead.objects.get(pk=lead_a.pk).market_id == market_b.id


def test_a_person_without_the_market_cannot_reach_or_act_on_the_lead(client, lead_a):
    client.force_login(UserFactory.create(is_staff=True))  # staff, no market

    assert client.get(f"/admin/leads/lead/{lead_a.pk}/change/").status_code in (302, 403, 404)
    acted = client.post(
        f"/admin/leads/lead/{lead_a.pk}/act/", {"action": "status", "status": "working"}
    )
    assert acted.status_code in (403, 404)
    with system_context("tests"):
        assert Lead.objects.get(pk=lead_a.pk).status == "new"


def test_bulk_assign_from_the_list_goes_through_lead_assign(client, table, web, team_a, market_a):
    _team, rep, _away, _member = team_a
    made = ingest(web, *[{"email": f"m{i}@acme.io", **DE} for i in range(3)])
    ids = [r.lead_id for r in made]
    client.force_login(manager_a_user(market_a))

    done = client.post(
        "/admin/leads/lead/",
        {"action": "assign_selected", "_selected_action": ids, "apply": "1", "owner": rep.pk,
         "reason": "new territory"},
        follow=True,
    )  # fmt: skip

    assert "Assigned to rep_a: 3 lead(s)." in done.content.decode()
    with system_context("tests"):
        assert set(Lead.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {rep.pk}
    assert len(events("lead.assigned")) == 3
