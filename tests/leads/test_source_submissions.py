import pytest

from leadops.core.access import system_context
from leadops.core.errors import ApplicationError
from leadops.leads.mapping import mapping_apply, source_mapping_set
from leadops.leads.models import Lead, Submission
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import api

pytestmark = pytest.mark.django_db

RULES = {
    "email": {"path": "contact.email"},
    "full_name": {"path": "contact.name"},
    "country": {"path": "address.land", "map": {"Allemagne": "DE", "la france": "FR"}},
    "postal_code": {"path": "address.zip"},
    "external_id": {"path": "id"},
    "utm_campaign": {"path": "tracking.0.campaign"},
}
PARTNER_PAYLOAD = {
    "id": 991,
    "contact": {"email": "Grace@Navy.example", "name": "Hopper, Grace"},
    "address": {"land": "allemagne ", "zip": "10115"},
    "tracking": [{"campaign": "cobol"}],
}


def test_mapping_reads_dotted_paths_lists_picklists_and_full_names():
    fields = mapping_apply(RULES, PARTNER_PAYLOAD)

    assert fields == {
        "email": "Grace@Navy.example",
        "first_name": "Grace",
        "last_name": "Hopper",
        "country": "DE",
        "postal_code": "10115",
        "external_id": "991",
        "utm_campaign": "cobol",
    }


def test_a_bad_mapping_is_refused_naming_every_problem(partner):
    with pytest.raises(ApplicationError) as refused:
        source_mapping_set(
            actor=SYSTEM,
            source=partner,
            note="x",
            rules={"shoe_size": {"path": "a"}, "email": {}, "country": {"path": "c", "map": [1]}},
        )

    problems = refused.value.extra["problems"]
    assert any("shoe_size: not a lead field" in p for p in problems)
    assert any("email: needs a non-empty 'path'" in p for p in problems)
    assert any("country: 'map' must map text to text" in p for p in problems)


def test_partner_json_goes_through_its_mapping_to_the_same_intake(table, key_a, partner):
    mapping = source_mapping_set(actor=SYSTEM, source=partner, rules=RULES, note="first")

    response = api(key_a).post(
        "/api/v1/sources/partner/submissions", PARTNER_PAYLOAD, format="json"
    )
    again = api(key_a).post("/api/v1/sources/partner/submissions", PARTNER_PAYLOAD, format="json")

    body = response.json()
    assert response.status_code == 201
    assert again.status_code == 200  # the same external id merges
    with system_context("tests"):
        lead = Lead.objects.get(pk=body["lead_id"])
        submission = Submission.objects.get(pk=body["submission_id"])
    assert (lead.first_name, lead.last_name, lead.email_norm) == (
        "Grace",
        "Hopper",
        "grace@navy.example",
    )
    assert submission.mapping_version == mapping.version
    assert submission.payload == PARTNER_PAYLOAD  # stored as sent, not as mapped


def test_unmapped_or_unknown_sources_say_why(table, key_a, partner):
    no_mapping = api(key_a).post("/api/v1/sources/partner/submissions", {"a": 1}, format="json")
    unknown = api(key_a).post("/api/v1/sources/nope/submissions", {"a": 1}, format="json")

    assert (no_mapping.status_code, no_mapping.json()["code"]) == (409, "no_mapping")
    assert unknown.status_code == 404


def test_a_payload_missing_required_fields_is_rejected_and_kept(table, key_a, partner):
    source_mapping_set(actor=SYSTEM, source=partner, rules=RULES, note="first")

    response = api(key_a).post("/api/v1/sources/partner/submissions", {"id": 5}, format="json")

    assert response.status_code == 400
    assert "email" in response.json()["errors"]
    with system_context("tests"):
        assert Submission.objects.get(outcome="rejected").payload == {"id": 5}
