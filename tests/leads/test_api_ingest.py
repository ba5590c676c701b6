"""POST /api/v1/leads: every outcome of DESIGN's table (except review), errors, idempotency."""

import json

import pytest
from rest_framework.test import APIClient

from leadops.core.access import system_context
from leadops.leads.models import IdempotencyKey, Lead, SourceTouch, Submission
from leadops.markets.models import ApiClient
from leadops.queue.models import ExceptionItem

pytestmark = pytest.mark.django_db

ADA = {
    "source": "web",
    "email": " Ada.Lovelace@Example.COM ",
    "first_name": "ada",
    "last_name": "LOVELACE",
    "company": "Analytical Engines",
    "website": "https://www.analytical-engines.example/about",
    "country": "Deutschland",
    "postal_code": "10115",
    "phone": "030 1234567",
    "utm_source": "google",
}


def api(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def post(key, body, **headers):
    return api(key).post("/api/v1/leads", body, format="json", **headers)


def test_a_new_lead_is_created_normalized_tagged_and_audited(table, key_a, market_a):
    response = post(key_a, ADA)

    body = response.json()
    assert response.status_code == 201
    assert body["outcome"] == "created"
    assert body["market"] == "AAA"
    assert body["status"] == "new"
    assert body["owner"] is None
    with system_context("tests"):
        lead = Lead.objects.get(pk=body["lead_id"])
        touch = SourceTouch.objects.get(lead=lead)
        submission = Submission.objects.get(pk=body["submission_id"])
    assert (lead.email_norm, lead.first_name, lead.last_name) == (
        "ada.lovelace@example.com",
        "Ada",
        "Lovelace",
    )
    assert (lead.country, lead.phone_e164, lead.company_domain) == (
        "DE",
        "+49301234567",
        "analytical-engines.example",
    )
    assert lead.market_id == market_a.id
    assert lead.market_table_version == table.number
    assert touch.utm_source == "google"
    assert submission.trace["country"] == ["Deutschland", "DE", ""]
    assert submission.lead_id == lead.pk


def test_the_same_email_in_the_same_market_merges_filling_only_empty_fields(table, key_a):
    first = post(key_a, {**ADA, "title": ""}).json()

    second = post(
        key_a,
        {
            **ADA,
            "email": "ada.lovelace@example.com",
            "title": "Head of Maths",
            "company": "Other Co",
        },
    )

    body = second.json()
    assert second.status_code == 200
    assert (body["outcome"], body["lead_id"], body["duplicate_of"]) == (
        "merged",
        first["lead_id"],
        first["lead_id"],
    )
    with system_context("tests"):
        lead = Lead.objects.get(pk=first["lead_id"])
        touch = SourceTouch.objects.get(submission_id=body["submission_id"])
        assert Lead.objects.count() == 1
    assert lead.title == "Head of Maths"  # was empty: filled
    assert lead.company == "Analytical Engines"  # differed: kept
    assert touch.alternates == {"company": "Other Co"}
    assert lead.status == "new"


def test_the_same_source_external_id_merges(table, key_a, partner):
    first = post(key_a, {**ADA, "source": "partner", "external_id": "P-1"}).json()

    second = post(key_a, {"source": "partner", "external_id": "P-1", "phone": "+49 30 7654321"})

    assert second.status_code == 200
    assert second.json()["lead_id"] == first["lead_id"]


def test_an_impossible_phone_quarantines_a_held_lead_with_an_exception(table, key_a):
    response = post(key_a, {**ADA, "phone": "call me maybe"})

    body = response.json()
    assert response.status_code == 202
    assert body["outcome"] == "quarantined"
    assert body["status"] == "held"
    assert "call me maybe" in body["reason"]
    with system_context("tests"):
        item = ExceptionItem.objects.select_related("market").get(
            kind="quarantined", target_id=str(body["lead_id"])
        )
    assert item.market.code == "AAA"


def test_email_and_external_id_pointing_at_two_leads_quarantines_without_merging(
    table, key_a, key_all, partner
):
    one = post(
        key_a, {**ADA, "source": "partner", "external_id": "X-1", "email": "one@example.com"}
    ).json()
    two = post(
        key_a, {**ADA, "source": "partner", "external_id": "X-2", "email": "two@example.com"}
    ).json()

    # (a client with every market: the held submission lands in UNASSIGNED, which key_a lacks)
    response = post(
        key_all, {**ADA, "source": "partner", "external_id": "X-2", "email": "one@example.com"}
    )

    body = response.json()
    assert response.status_code == 202
    assert (body["outcome"], body["reason"], body["lead_id"]) == (
        "quarantined",
        "conflicting_identity",
        None,
    )
    with system_context("tests"):
        assert Lead.objects.count() == 2
        assert (
            ExceptionItem.objects.filter(kind="quarantined", target_type="leads.submission").count()
            == 1
        )
    assert one["lead_id"] != two["lead_id"]


def test_no_market_match_goes_to_unassigned_with_an_unmarketed_exception(table, key_all):
    response = post(key_all, {**ADA, "country": "Japan", "postal_code": "100-0001", "phone": ""})

    body = response.json()
    assert response.status_code == 201
    assert body["market"] == "UNASSIGNED"
    with system_context("tests"):
        assert ExceptionItem.objects.filter(
            kind="unmarketed", target_id=str(body["lead_id"])
        ).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@b.example"}, "source"),
        ({"source": "nope", "email": "a@b.example"}, "source"),
        ({"source": "web"}, "email"),
        ({"source": "web", "email": "x" * 300}, "email"),
    ],
)
def test_schema_errors_are_400_with_field_messages_and_a_stored_rejection(
    table, key_a, body, field
):
    response = post(key_a, body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    with system_context("tests"):
        rejected = Submission.objects.select_related("market").get(outcome="rejected")
    assert rejected.market.code == "UNASSIGNED"
    assert field in rejected.errors


def test_a_replayed_key_returns_the_same_status_and_bytes(table, key_a):
    first = post(key_a, ADA, HTTP_IDEMPOTENCY_KEY="k-1")
    again = post(key_a, ADA, HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    with system_context("tests"):
        assert Submission.objects.count() == 1


def test_the_same_key_with_another_body_is_422(table, key_a):
    post(key_a, ADA, HTTP_IDEMPOTENCY_KEY="k-2")

    response = post(key_a, {**ADA, "title": "changed"}, HTTP_IDEMPOTENCY_KEY="k-2")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_mismatch"


def test_a_key_in_flight_is_409_and_a_stale_one_is_taken_over(table, key_a):
    from datetime import timedelta

    from django.utils import timezone

    from leadops.leads.idempotency import request_hash

    client = ApiClient.objects.get(name="client-a")
    claimed = IdempotencyKey.objects.create(
        client=f"api_client:{client.pk}", key="k-3", request_hash=request_hash(ADA)
    )
    busy = post(key_a, ADA, HTTP_IDEMPOTENCY_KEY="k-3")
    IdempotencyKey.objects.filter(pk=claimed.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=5)
    )
    taken = post(key_a, ADA, HTTP_IDEMPOTENCY_KEY="k-3")

    assert busy.status_code == 409
    assert taken.status_code == 201


def test_a_400_does_not_consume_the_key(table, key_a):
    bad = post(key_a, {"source": "web"}, HTTP_IDEMPOTENCY_KEY="k-4")
    good = post(
        key_a,
        {"source": "web", "email": "fixed@example.com", "country": "DE"},
        HTTP_IDEMPOTENCY_KEY="k-4",
    )

    assert (bad.status_code, good.status_code) == (400, 201)


def test_keys_are_scoped_to_the_client(table, key_a, key_all):
    mine = post(key_a, ADA, HTTP_IDEMPOTENCY_KEY="shared")
    theirs = post(key_all, {**ADA, "email": "other@example.com"}, HTTP_IDEMPOTENCY_KEY="shared")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert json.loads(theirs.content)["lead_id"] != json.loads(mine.content)["lead_id"]
