import pytest
from django.core.management import call_command

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.leads.models import Lead, Submission
from leadops.markets.services import api_client_create
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import ADA, api, post

pytestmark = pytest.mark.django_db


def test_an_activity_with_an_external_id_is_recorded_once(lead, key_a):
    url = f"/api/v1/leads/{lead['lead_id']}/events"
    event = {"type": "activity", "kind": "call", "external_id": "call-1", "note": "left a message"}

    first = api(key_a).post(url, event, format="json")
    again = api(key_a).post(url, event, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["activity_id"] == again.json()["activity_id"]
    detail = api(key_a).get(f"/api/v1/leads/{lead['lead_id']}").json()
    assert [a["kind"] for a in detail["activities"]] == ["call"]


def test_allowed_status_change_and_a_refused_one_with_the_options(lead, key_a):
    url = f"/api/v1/leads/{lead['lead_id']}/events"

    moved = api(key_a).post(url, {"type": "status", "status": "working"}, format="json")
    refused = api(key_a).post(url, {"type": "status", "status": "new"}, format="json")

    assert moved.json() == {"lead_id": lead["lead_id"], "status": "working"}
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["disqualified", "qualified", "recycled"]


def test_events_on_another_markets_lead_are_404(table, key_a, key_all):
    french = post(
        key_all,
        {**ADA, "email": "fr@example.com", "country": "FR", "postal_code": "75001", "phone": ""},
    ).json()

    response = api(key_a).post(
        f"/api/v1/leads/{french['lead_id']}/events",
        {"type": "activity", "kind": "note"},
        format="json",
    )

    assert response.status_code == 404


def test_the_lead_audit_lists_its_submission_and_status_events(lead, key_a):
    api(key_a).post(
        f"/api/v1/leads/{lead['lead_id']}/events",
        {"type": "status", "status": "working"},
        format="json",
    )

    trail = api(key_a).get(f"/api/v1/leads/{lead['lead_id']}/audit").json()

    assert [e["action"] for e in trail] == ["submission.created", "lead.status_changed"]
    assert trail[1]["data"] == {"from": "new", "to": "working"}


def test_the_lead_audit_hides_an_event_naming_a_market_the_caller_lacks(
    lead, key_a, market_a, market_b
):
    # given an event about the lead that also concerns market B (a cross-market review)
    with system_context("tests"):
        key_ab = api_client_create(actor=SYSTEM, name="ab", markets=[market_a, market_b]).key
        audit_record(
            actor=SYSTEM,
            action="lead.review_linked",
            target=("leads.lead", lead["lead_id"]),
            market_id=market_a.id,
            second_market_id=market_b.id,
        )

    def trail(key):
        return [e["action"] for e in api(key).get(f"/api/v1/leads/{lead['lead_id']}/audit").json()]

    # then a client of A alone does not see it; a client of both does
    assert trail(key_a) == ["submission.created"]
    assert trail(key_ab) == ["submission.created", "lead.review_linked"]


def test_erasing_a_subject_scrubs_the_lead_its_history_and_submissions(lead):
    call_command("erase_subject", "--email", "ada.lovelace@example.com")

    with system_context("tests"):
        scrubbed = Lead.objects.get(pk=lead["lead_id"])
        history = list(
            Lead.history.model.objects.filter(id=lead["lead_id"]).values_list(
                "email_norm", "last_name"
            )
        )
        submission = Submission.objects.get(pk=lead["submission_id"])
    assert (scrubbed.email, scrubbed.email_norm, scrubbed.last_name, scrubbed.phone_e164) == (
        "",
        "",
        "",
        "",
    )
    assert scrubbed.company == "Analytical Engines"  # not personal data
    assert history
    assert all(row == ("", "") for row in history)
    assert submission.payload == {"erased": True}
    from audit.verification import audit_verify_run

    assert audit_verify_run().ok
