"""The duplicate pages in the admin, per role, and the conflicting-identity choices."""

import pytest
from django.contrib.auth.models import Group

from leadops.core.access import system_context
from leadops.leads.models import Lead, LeadMerge, SourceTouch
from leadops.markets.services import manager_group_name
from leadops.queue.models import ExceptionItem
from tests.factories import UserFactory
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def review(table, web):
    ingest(web, {"email": "uma@acme.io", "first_name": "Uma", "last_name": "Berg", **DE})
    [new] = ingest(web, {"email": "uma@acme.io", "first_name": "Uma", "last_name": "Bergh", **FR})
    with system_context("tests"):
        return ExceptionItem.objects.get(kind="duplicate_review"), new


def manager_of(*markets):
    user = UserFactory.create(is_staff=True)
    for market in markets:
        user.groups.add(Group.objects.get(name=manager_group_name(market)))
    return user


def test_a_manager_of_one_market_cannot_open_a_two_market_review(
    client, review, market_a, market_b
):
    item, _new = review
    client.force_login(manager_of(market_a))

    assert client.get(f"/admin/leads/lead/review/{item.pk}/").status_code == 404

    client.force_login(manager_of(market_a, market_b))
    page = client.get(f"/admin/leads/lead/review/{item.pk}/")
    assert page.status_code == 200
    assert b"Bergh" in page.content
    assert b"merge-left" in page.content


def test_the_page_merges_with_the_values_picked(client, review, market_a, market_b):
    item, new = review
    client.force_login(manager_of(market_a, market_b))
    with system_context("tests"):
        candidate = item.details["candidates"][0]["lead"]

    answer = client.post(
        f"/admin/leads/lead/review/{item.pk}/",
        {"action": "merge_right", "candidate": candidate, "pick:name": "left"},
    )

    # merged into the right (the candidate), keeping the left's (new lead's) name
    assert answer.status_code == 302
    with system_context("tests"):
        survivor = Lead.objects.get(pk=candidate)
        item.refresh_from_db()
        assert survivor.last_name == "Bergh"
        assert Lead.objects.get(pk=new.lead_id).merged_into_id == candidate
        assert item.status == "resolved"


def test_keep_separate_marks_the_pair_and_closes_the_item(client, review, market_a, market_b):
    item, new = review
    client.force_login(manager_of(market_a, market_b))

    client.post(f"/admin/leads/lead/review/{item.pk}/", {"action": "separate", "note": "two Umas"})

    with system_context("tests"):
        item.refresh_from_db()
        assert (item.status, item.resolution) == ("resolved", "separate")
        assert not LeadMerge.objects.exists()
        lead = Lead.objects.get(pk=new.lead_id)
    page = client.get(f"/admin/leads/lead/{lead.pk}/change/")
    assert b"Not the same person as" in page.content


def test_only_revops_may_unmerge(client, review, market_a, market_b, revops_user):
    item, new = review
    with system_context("tests"):
        from leadops.leads.merges import leads_merge

        merge = leads_merge(
            actor=revops_user,
            survivor=Lead.objects.get(pk=item.details["candidates"][0]["lead"]),
            absorbed=Lead.objects.get(pk=new.lead_id),
        )
    client.force_login(manager_of(market_a, market_b))
    assert client.get(f"/admin/leads/lead/unmerge/{merge.pk}/").status_code == 403

    client.force_login(revops_user)
    assert b"What comes back" in client.get(f"/admin/leads/lead/unmerge/{merge.pk}/").content
    client.post(f"/admin/leads/lead/unmerge/{merge.pk}/", {"note": "wrong"})
    with system_context("tests"):
        merge.refresh_from_db()
    assert merge.state == "unmerged"


@pytest.fixture
def conflict(table, partner, market_a, market_b):
    """The email names lead A (market A), the external id names lead B (market B)."""
    [a] = ingest(partner, {"email": "ana@acme.io", **DE})
    [b] = ingest(partner, {"email": "bo@beta.io", "external_id": "X-1", **FR})
    [held] = ingest(partner, {"email": "ana@acme.io", "external_id": "X-1", **DE})
    assert (held.outcome, held.reason) == ("quarantined", "conflicting_identity")
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="quarantined")
    return item, a, b, held


def test_a_conflicting_identity_is_filed_in_both_leads_markets(conflict, market_a, market_b):
    item, a, b, _held = conflict

    assert (item.market_id, item.second_market_id) == (market_a.id, market_b.id)
    assert (item.details["email_lead"], item.details["external_id_lead"]) == (a.lead_id, b.lead_id)


@pytest.mark.parametrize(
    ("choice", "owner"), [("email", "a"), ("external_id", "b"), ("merge", "a")]
)
def test_the_identity_page_attaches_the_submission_where_the_person_says(
    client, conflict, market_a, market_b, choice, owner
):
    item, a, b, held = conflict
    client.force_login(manager_of(market_a, market_b))
    assert b"by external id" in client.get(f"/admin/leads/lead/identity/{item.pk}/").content

    client.post(f"/admin/leads/lead/identity/{item.pk}/", {"choice": choice})

    expected = {"a": a.lead_id, "b": b.lead_id}[owner]
    with system_context("tests"):
        item.refresh_from_db()
        assert item.status == "resolved"
        assert SourceTouch.objects.get(submission_id=held.submission_id).lead_id == expected
        merged = Lead.objects.get(pk=b.lead_id).merged_into_id
    assert merged == (a.lead_id if choice == "merge" else None)
