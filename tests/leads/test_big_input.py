"""Bad and big input: size limits per endpoint, bounded attributes, pages that hold long values."""

import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from leadops.api.limits import SINGLE_LEAD_BYTES
from leadops.core.access import system_context
from leadops.leads.mapping import source_mapping_set
from leadops.leads.models import IdempotencyKey, Lead, SourceTouch, Submission
from leadops.leads.sources import source_form_set
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import ADA, api, post

pytestmark = pytest.mark.django_db

OVERSIZED = {**ADA, "company": "x" * (SINGLE_LEAD_BYTES + 10)}


def raw_post(key, url, body, **headers):
    return api(key).post(url, json.dumps(body), content_type="application/json", **headers)


def rejected_by_size():
    with system_context("tests"):
        return list(
            Submission.objects.filter(outcome="rejected", size_bytes__isnull=False).select_related(
                "source"
            )
        )


def test_a_single_lead_over_256_kib_is_413_and_recorded_with_its_size(table, key_a):
    body = json.dumps(OVERSIZED)

    response = raw_post(key_a, "/api/v1/leads", OVERSIZED, HTTP_IDEMPOTENCY_KEY="big-1")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert f"{len(body):,} bytes" in response.json()["detail"]
    assert "262,144" in response.json()["detail"]
    [kept] = rejected_by_size()
    assert kept.size_bytes == len(body)
    assert kept.errors == {"body": [response.json()["detail"]]}
    assert kept.client.startswith("api_client:")
    # nothing was claimed: the key is free for a corrected retry
    with system_context("tests"):
        assert not IdempotencyKey.objects.filter(key="big-1").exists()


def test_a_source_submission_over_the_limit_is_413_and_names_its_source(table, key_a, partner):
    source_mapping_set(actor=SYSTEM, source=partner, rules={"email": {"path": "m"}}, note="t")

    response = raw_post(
        key_a, "/api/v1/sources/partner/submissions", {"m": "x" * (SINGLE_LEAD_BYTES + 1)}
    )

    assert response.status_code == 413
    [kept] = rejected_by_size()
    assert kept.source.slug == "partner"


def test_the_public_form_over_the_limit_is_413_and_recorded(table, web):
    cache.clear()
    form = source_form_set(actor=SYSTEM, source=web, origins=["https://s.example"])

    response = APIClient(HTTP_ORIGIN="https://s.example").post(
        f"/api/v1/forms/{form.form_key}",
        json.dumps({"email": "a@b.example", "company": "x" * SINGLE_LEAD_BYTES}),
        content_type="application/json",
    )

    assert response.status_code == 413
    [kept] = rejected_by_size()
    assert kept.source.slug == "web"


def test_a_body_within_the_limit_is_read_as_usual(table, key_a):
    response = raw_post(key_a, "/api/v1/leads", {**ADA, "company": "x" * 250})

    assert response.status_code == 400  # company is at most 200 characters: a field error
    assert "company" in response.json()["errors"]


@pytest.mark.parametrize(
    ("attributes", "errors"),
    [
        (
            {f"k{i}": i for i in range(51)},
            ["At most 50 attributes; this has 51."],
        ),
        (
            {"ok": "fine", "notes": "n" * 1001},
            {"notes": ["At most 1,000 characters; this has 1,001."]},
        ),
        (
            {"tags": ["a", "b"], "size": {"w": 1}},
            {
                "tags": ["Must be a string, number, true/false or null, not a list."],
                "size": ["Must be a string, number, true/false or null, not an object."],
            },
        ),
        ("not an object", ['Expected a dictionary of items but got type "str".']),
    ],
)
def test_attributes_out_of_bounds_are_400_naming_the_key(table, key_a, attributes, errors):
    response = post(key_a, {**ADA, "attributes": attributes})

    assert response.status_code == 400
    assert response.json() == {"errors": {"attributes": errors}}
    with system_context("tests"):
        assert not Lead.objects.exists()


def test_attributes_are_kept_on_the_lead_merged_without_overwriting_and_shown(
    table, key_a, client, manager_a
):
    # given a lead with attributes
    first = post(key_a, {**ADA, "attributes": {"plan": "pro", "seats": 12, "trial": True}}).json()

    # when the same person comes again with one new and one differing attribute
    post(key_a, {**ADA, "attributes": {"plan": "enterprise", "industry": "maths"}})

    # then the new key is added, the differing one stays on the touch, and the page shows them
    with system_context("tests"):
        lead = Lead.objects.get(pk=first["lead_id"])
        touches = list(SourceTouch.objects.filter(lead=lead).order_by("id"))
    assert lead.attributes == {"plan": "pro", "seats": 12, "trial": True, "industry": "maths"}
    assert touches[-1].alternates["attributes"] == {"plan": "enterprise"}
    client.force_login(manager_a)
    page = client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert 'class="lo-attributes"' in page
    assert "<th>industry</th><td>maths</td>" in page


def test_a_long_payload_is_shown_as_a_preview_with_a_link_to_the_whole(
    table, key_a, client, revops_user
):
    # given a submission that kept a 100 KB value (rejected: company is too long)
    huge = "y" * 100_000
    raw_post(key_a, "/api/v1/leads", {**ADA, "company": huge})
    with system_context("tests"):
        submission = Submission.objects.get(outcome="rejected")
    client.force_login(revops_user)

    page = client.get(f"/admin/leads/submission/{submission.pk}/change/")
    whole = client.get(f"/admin/leads/submission/{submission.pk}/payload/")

    html = page.content.decode()
    assert page.status_code == 200
    assert huge not in html  # a preview, not the whole value on one line
    assert 'class="lo-json"' in html
    assert f"/admin/leads/submission/{submission.pk}/payload/" in html
    assert whole.json()["company"] == huge


def test_the_whole_payload_is_scoped_like_the_submission(table, key_a, client, manager_a):
    post(key_a, {**ADA, "country": "FR"})  # lands in market B
    with system_context("tests"):
        other = Submission.objects.get(market__code="BBB")
    client.force_login(manager_a)

    assert client.get(f"/admin/leads/submission/{other.pk}/payload/").status_code == 404


def test_erasure_scrubs_attributes_from_the_lead_and_its_history(table, key_a):
    lead = post(key_a, {**ADA, "attributes": {"linkedin": "ada-lovelace"}}).json()

    call_command("erase_subject", "--email", "ada.lovelace@example.com")

    with system_context("tests"):
        assert Lead.objects.get(pk=lead["lead_id"]).attributes == {}
        history = Lead.history.model.objects.filter(id=lead["lead_id"])
        assert [h.attributes for h in history] == [{}] * history.count()
