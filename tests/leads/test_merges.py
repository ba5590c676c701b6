"""Merges a person decides, and their undoing: merge, unmerge, detach, erasure of snapshots."""

import threading

import pytest
from django.db import connections
from django.forms.models import model_to_dict

from audit.models import AuditEvent
from audit.services import subject_erase
from leadops.core.access import market_context, system_context
from leadops.core.errors import ApplicationError
from leadops.leads.merges import (
    lead_unmerge,
    lead_unmerge_preview,
    leads_merge,
    submission_detach,
)
from leadops.leads.models import (
    Activity,
    DuplicateMark,
    Lead,
    LeadExternalId,
    LeadMerge,
    SourceTouch,
    Submission,
)
from leadops.leads.services import activity_record
from leadops.queue.models import ExceptionItem
from leadops.queue.services import exception_resolve
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = pytest.mark.django_db


def state(lead_id):
    """Everything a lead is: its fields, and which touches, external ids and activities it has."""
    lead = Lead.objects.get(pk=lead_id)
    fields = model_to_dict(lead, exclude=["updated_at"])
    return {
        "fields": fields,
        "touches": sorted(SourceTouch.objects.filter(lead=lead).values_list("pk", "submission_id")),
        "external_ids": sorted(
            LeadExternalId.objects.filter(lead=lead).values_list("pk", flat=True)
        ),
        "activities": sorted(Activity.objects.filter(lead=lead).values_list("pk", flat=True)),
        "markets": sorted(
            {*SourceTouch.objects.filter(lead=lead).values_list("market_id", flat=True)}
        ),
    }


@pytest.fixture
def pair(table, web, partner):
    """Two leads of one person: A in market A with two touches, an external id and an
    activity; B in market B (same email in another market: a review)."""
    ingest(
        partner,
        {"email": "ida@acme.io", "first_name": "Ida", "last_name": "Lind",
         "phone": "+49 30 1111111", "external_id": "P-1", **DE},
    )  # fmt: skip
    ingest(web, {"email": "ida@acme.io", "title": "CFO", **DE})
    [b] = ingest(
        web,
        {"email": "ida@acme.io", "first_name": "Ida", "last_name": "Lind-Berg",
         "company": "Acme", "phone": "+33 1 23 45 67 89", **FR},
    )  # fmt: skip
    with system_context("tests"):
        a = Lead.objects.get(email_norm="ida@acme.io", country="DE")
        activity_record(actor=SYSTEM, lead=a, kind="call", occurred_at=a.created_at, note="hi")
        return a, Lead.objects.get(pk=b.lead_id)


def test_merge_then_unmerge_with_nothing_between_gives_both_leads_back(pair):
    a, b = pair
    with system_context("tests"):
        before = {a.pk: state(a.pk), b.pk: state(b.pk)}

        merge = leads_merge(actor=SYSTEM, survivor=b, absorbed=a, picks={"name": "absorbed"})
        merged_a, merged_b = state(a.pk), state(b.pk)
        lead_unmerge(actor=SYSTEM, merge=merge)
        after = {a.pk: state(a.pk), b.pk: state(b.pk)}

    # while merged: A's rows are on B (in B's market), B took A's name as picked
    assert merged_a["touches"] == merged_a["activities"] == merged_a["external_ids"] == []
    assert len(merged_b["touches"]) == 3
    assert merged_b["markets"] == [b.market_id]
    assert merged_b["fields"]["last_name"] == "Lind"
    assert merged_b["fields"]["title"] == "CFO"  # empty on B: filled
    assert merged_a["fields"]["merged_into"] == b.pk
    # owner, market and status never change through a merge
    for key in ("market", "status", "owner"):
        assert merged_b["fields"][key] == before[b.pk]["fields"][key]
    # after the unmerge: field for field, touch for touch
    assert after == before


def test_intake_follows_a_merged_lead_to_its_survivor(pair, web):
    a, b = pair
    with system_context("tests"):
        leads_merge(actor=SYSTEM, survivor=b, absorbed=a)

    [again] = ingest(web, {"email": "ida@acme.io", **DE})

    assert again.outcome == "merged"
    assert again.lead_id == b.pk


def test_unmerge_lists_what_arrived_since_and_places_what_the_person_ticks(pair, web):
    a, b = pair
    with system_context("tests"):
        merge = leads_merge(actor=SYSTEM, survivor=b, absorbed=a)
        late, _ = activity_record(actor=SYSTEM, lead=b, kind="email", occurred_at=b.created_at)
        stays, _ = activity_record(actor=SYSTEM, lead=b, kind="meeting", occurred_at=b.created_at)
    [touch] = ingest(web, {"email": "ida@acme.io", **FR})
    with system_context("tests"):
        b.refresh_from_db()
        preview = lead_unmerge_preview(merge=LeadMerge.objects.get(pk=merge.pk))
        arrived_touch = SourceTouch.objects.get(submission_id=touch.submission_id)

        assert {x.pk for x in preview.activities_since} == {late.pk, stays.pk}
        assert [x.pk for x in preview.touches_since] == [arrived_touch.pk]
        with pytest.raises(ApplicationError, match="arrived after the merge"):
            lead_unmerge(
                actor=SYSTEM,
                merge=merge,
                activities=[late.pk + 10**6],
            )

        lead_unmerge(actor=SYSTEM, merge=merge, activities=[late.pk], touches=[arrived_touch.pk])

        assert Activity.objects.get(pk=late.pk).lead_id == a.pk
        assert Activity.objects.get(pk=stays.pk).lead_id == b.pk
        assert SourceTouch.objects.get(pk=arrived_touch.pk).lead_id == a.pk
        assert Submission.objects.get(pk=touch.submission_id).lead_id == a.pk
        assert DuplicateMark.objects.filter(lead_low=min(a, b, key=lambda x: x.pk)).exists()
        with pytest.raises(ApplicationError, match="already undone"):
            lead_unmerge(actor=SYSTEM, merge=merge)


def test_merging_through_the_review_item_resolves_it_and_audits_in_both_markets(
    pair, market_a, market_b
):
    a, b = pair
    person = UserFactory.create(is_staff=True, is_superuser=True)
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="duplicate_review", target_id=str(b.pk))
        exception_resolve(
            actor=person,
            item=item,
            resolution="merge",
            value=f'{{"survivor": {a.pk}, "absorbed": {b.pk}, "picks": {{"phone": "absorbed"}}}}',
        )
        item.refresh_from_db()
        a.refresh_from_db()
        event = AuditEvent.objects.get(action="lead.merged")

    assert (item.status, item.resolution) == ("resolved", "merge")
    assert a.phone_e164 == "+33123456789"  # picked from the absorbed lead
    assert a.company == "Acme"  # empty on the survivor: filled
    assert (event.market_id, event.second_market_id) == (market_a.id, market_b.id)
    with market_context(market_ids=[market_a.id]):
        assert not LeadMerge.objects.exists()
        assert not AuditEvent.objects.filter(action="lead.merged").exists()
    with market_context(market_ids=[market_a.id, market_b.id]):
        assert LeadMerge.objects.count() == 1


def test_a_merge_refuses_a_lead_outside_the_item(pair, table, web):
    _a, b = pair
    [stranger] = ingest(web, {"email": "zed@else.io", **DE})
    person = UserFactory.create(is_staff=True, is_superuser=True)
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="duplicate_review", target_id=str(b.pk))
        with pytest.raises(ApplicationError, match="one of its candidates"):
            exception_resolve(
                actor=person,
                item=item,
                resolution="merge",
                value=f'{{"survivor": {stranger.lead_id}, "absorbed": {b.pk}}}',
            )
        assert not LeadMerge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_people_merging_the_same_pair_at_once_make_one_merge(pair):
    a, b = pair
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(survivor, absorbed):
        try:
            barrier.wait()
            with system_context("tests"):
                leads_merge(actor=SYSTEM, survivor=survivor, absorbed=absorbed)
            outcomes.append("merged")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=p) for p in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already_merged", "merged"]
    with system_context("tests"):
        assert LeadMerge.objects.count() == 1


def test_detach_moves_a_wrongly_merged_submission_and_its_touch_to_a_new_lead(table, partner):
    # given a partner that reused its id P-9 for another person: merged by external id
    [first] = ingest(partner, {"email": "one@acme.io", "external_id": "P-9", **DE})
    [wrong] = ingest(
        partner, {"email": "two@beta.io", "first_name": "Tom", "external_id": "P-9", **DE}
    )
    assert wrong.outcome == "merged"
    with system_context("tests"):
        lead = Lead.objects.get(pk=first.lead_id)
        submission = Submission.objects.get(pk=wrong.submission_id)

        new = submission_detach(actor=SYSTEM, submission=submission)

        assert (new.email_norm, new.first_name, new.market_id) == (
            "two@beta.io",
            "Tom",
            lead.market_id,
        )
        assert SourceTouch.objects.get(submission=submission).lead_id == new.pk
        assert Submission.objects.get(pk=submission.pk).lead_id == new.pk
        assert list(
            SourceTouch.objects.filter(lead=lead).values_list("submission_id", flat=True)
        ) == [first.submission_id]
        assert LeadExternalId.objects.get(external_id="P-9").lead_id == new.pk
        assert DuplicateMark.objects.count() == 1
        assert AuditEvent.objects.filter(action="submission.detached").count() == 1
        # its only submission left, the old lead refuses another detach
        with pytest.raises(ApplicationError, match="only submission"):
            submission_detach(
                actor=SYSTEM, submission=Submission.objects.get(pk=first.submission_id)
            )


def test_detach_refuses_a_submission_with_the_leads_own_email(table, web):
    [first] = ingest(web, {"email": "same@acme.io", **DE})
    [again] = ingest(web, {"email": "same@acme.io", "title": "CTO", **DE})
    with system_context("tests"):
        with pytest.raises(ApplicationError, match="own email"):
            submission_detach(
                actor=SYSTEM, submission=Submission.objects.get(pk=again.submission_id)
            )
        assert Lead.objects.count() == 1
        assert first.lead_id == again.lead_id


def test_erasing_a_subject_scrubs_the_merge_snapshot_and_unmerge_then_refuses(pair):
    a, b = pair
    with system_context("tests"):
        merge = leads_merge(actor=SYSTEM, survivor=b, absorbed=a, picks={"phone": "absorbed"})

    report = subject_erase(actor=SYSTEM, identity="phone:+49301111111")

    with system_context("tests"):
        merge.refresh_from_db()
        assert report.scrubbed["lead_merges"] == 1
        assert merge.snapshot == {"erased": True}
        assert "1111111" not in str(LeadMerge.objects.values_list("snapshot", flat=True)[0])
        with pytest.raises(ApplicationError, match="erased"):
            lead_unmerge(actor=SYSTEM, merge=merge)


def test_the_api_names_the_survivor_only_to_a_caller_holding_its_market(pair, key_a, key_all):
    from tests.leads.test_api_ingest import api

    a, b = pair
    with system_context("tests"):
        leads_merge(actor=SYSTEM, survivor=b, absorbed=a)  # A's lead into B's

    mine = api(key_a).get(f"/api/v1/leads/{a.pk}").json()
    everyone = api(key_all).get(f"/api/v1/leads/{a.pk}").json()

    assert mine["merged_into"] is None  # B is not the caller's market
    assert everyone["merged_into"] == b.pk
