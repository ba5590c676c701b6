"""The one intake door: every channel through it, the batch endpoint, the identity rule,
synthetic leads, and what the API answers about leads."""

import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from leadops.core.access import system_context
from leadops.intake import Submitted, intake_submit
from leadops.leads.mapping import source_mapping_set
from leadops.leads.models import IdempotencyKey, Lead, Submission
from leadops.leads.sources import source_form_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import ADA, api, post

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/leads/batch"


def person(n, **more):
    return {"source": "web", "email": f"p{n}@example.com", "country": "DE", **more}


def stored(submission_id):
    with system_context("tests"):
        return Submission.objects.get(pk=submission_id)


# --- every channel through the door --------------------------------------------------------


def test_each_channel_names_itself_on_the_submission_it_stores(table, web, partner, key_a):
    cache.clear()
    call_command("seed_demo", "--quiet-logins", verbosity=0)  # first: it seeds leads only once
    source_mapping_set(actor=SYSTEM, source=partner, rules={"email": {"path": "m"}}, note="t")
    form = source_form_set(actor=SYSTEM, source=web, origins=["https://s.example"])

    one = post(key_a, person(1)).json()
    batch = api(key_a).post(BATCH, {"leads": [person(2)]}, format="json").json()
    mapped = api(key_a).post(
        "/api/v1/sources/partner/submissions", {"m": "p3@example.com"}, format="json"
    )
    APIClient(HTTP_ORIGIN="https://s.example").post(
        f"/api/v1/forms/{form.form_key}", {"email": "p4@example.com", "country": "DE"}
    )
    refused = post(key_a, {"source": "web"})  # no email, no phone: rejected at the door

    with system_context("tests"):
        form_sub = Submission.objects.get(trace__email__1="p4@example.com")
        seeded = set(Submission.objects.filter(client="").values_list("channel", flat=True))
        rejected = Submission.objects.filter(outcome="rejected", client__startswith="api").get()
    assert stored(one["submission_id"]).channel == "api"
    assert stored(batch["results"][0]["submission_id"]).channel == "batch"
    assert stored(mapped.json()["submission_id"]).channel == "source"
    assert form_sub.channel == "form"
    assert "seed" in seeded
    assert refused.status_code == 400
    assert rejected.channel == "api"


def test_only_system_work_may_submit_synthetic_leads(table, web):
    person_actor = UserFactory.create()

    with pytest.raises(PermissionError):
        intake_submit(actor=person_actor, channel="api", items=[], synthetic=True)
    [answer] = intake_submit(
        actor=SYSTEM, channel="seed", items=[Submitted(payload=person(9))], synthetic=True
    )

    assert answer.lead_id is not None
    with system_context("tests"):
        assert Lead.objects.get(pk=answer.lead_id).is_synthetic


# --- the batch endpoint ----------------------------------------------------------------------


def test_a_batch_answers_each_item_in_order_and_each_on_its_own(table, key_a, key_all):
    # given a batch mixing a new lead, one in another market, a bad one and a repeat
    api(key_all).post("/api/v1/leads", person(5, country="FR"), format="json")
    items = [
        person(1),
        person(5, country="FR"),  # lands in B: client A gets "accepted" only
        {"source": "web", "email": "not an email"},  # no usable identity
        "not even an object",
        person(1, title="CTO"),  # the same new person again in this batch
    ]

    response = api(key_a).post(BATCH, {"leads": items}, format="json")

    results = response.json()["results"]
    assert response.status_code == 200
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [201, 202, 400, 400, 200]
    assert [r["outcome"] for r in results] == [
        "created",
        "accepted",
        "rejected",
        "rejected",
        "merged",
    ]
    assert results[1]["lead_id"] is None
    assert results[4]["lead_id"] == results[0]["lead_id"]
    assert "email" in results[2]["errors"]
    assert "non_field_errors" in results[3]["errors"]
    assert all(r["submission_id"] for r in results)  # nothing sent went unrecorded


def test_batch_items_are_idempotent_one_by_one(table, key_a):
    first = api(key_a).post(
        BATCH,
        {"leads": [{**person(1), "idempotency_key": "k1"}, {**person(2), "idempotency_key": "k2"}]},
        format="json",
    )
    again = api(key_a).post(
        BATCH,
        {
            "leads": [
                {**person(1), "idempotency_key": "k1"},  # replay
                {**person(3), "idempotency_key": "k2"},  # same key, another body
                {**person(4), "idempotency_key": "k4"},  # new
                {**person(4), "idempotency_key": "k4"},  # the same key twice in one batch
            ]
        },
        format="json",
    )

    before, after = first.json()["results"], again.json()["results"]
    assert after[0]["submission_id"] == before[0]["submission_id"]
    assert [r["status"] for r in after] == [201, 422, 201, 409]
    assert "idempotency_key" in after[1]["errors"]
    with system_context("tests"):
        assert Lead.objects.filter(email_norm="p1@example.com").count() == 1
        assert IdempotencyKey.objects.get(key="k4").state == "done"


def test_a_batch_of_a_thousand_costs_the_statements_of_one(table, key_all):
    from leadops.api.leads import LeadBatchApi  # noqa: F401  (routes loaded)

    api(key_all).post(BATCH, {"leads": [person(0)]}, format="json")  # warm caches

    def statements(items):
        with CaptureQueriesContext(connection) as captured:
            response = api(key_all).post(BATCH, {"leads": items}, format="json")
        assert response.status_code == 200
        return len(captured.captured_queries)

    one = statements([{**person(1), "idempotency_key": "a-1"}])
    many = statements([{**person(n), "idempotency_key": f"b-{n}"} for n in range(2, 1002)])

    assert many == one
    with system_context("tests"):
        assert Lead.objects.count() == 1002


def test_a_batch_over_a_thousand_or_an_item_over_its_size_is_refused(table, key_a):
    too_many = api(key_a).post(BATCH, {"leads": [person(n) for n in range(1001)]}, format="json")
    big = api(key_a).post(
        BATCH, {"leads": [person(1), person(2, company="x" * 70_000)]}, format="json"
    )

    assert too_many.status_code == 400
    assert "leads" in too_many.json()["errors"]
    assert [r["status"] for r in big.json()["results"]] == [201, 413]
    assert stored(big.json()["results"][1]["submission_id"]).size_bytes > 64 * 1024


# --- the identity rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"email": "nobody at example"}, ["email"]),
        ({"phone": "call me maybe"}, ["phone"]),
        ({"email": "nobody at example", "phone": "call me maybe"}, ["email", "phone"]),
    ],
)
def test_no_usable_identity_is_a_400_naming_the_fields(table, key_a, fields, named):
    response = post(key_a, {"source": "web", "country": "DE", **fields})

    assert response.status_code == 400
    assert sorted(response.json()["errors"]) == named
    with system_context("tests"):
        assert not Lead.objects.exists()
        assert Submission.objects.get().outcome == "rejected"


def test_one_usable_identity_and_a_broken_field_is_held_for_a_person(table, key_a):
    response = post(key_a, {**ADA, "phone": "call me maybe"})

    body = response.json()
    assert (response.status_code, body["outcome"], body["status"]) == (202, "quarantined", "held")


# --- what the API says about a lead ------------------------------------------------------------


def test_a_lead_shows_email_and_phone_as_given_beside_their_normal_forms(table, key_a):
    created = post(key_a, ADA).json()

    lead = api(key_a).get(f"/api/v1/leads/{created['lead_id']}").json()

    assert (lead["email"], lead["email_norm"]) == (ADA["email"].strip(), "ada.lovelace@example.com")
    assert (lead["phone"], lead["phone_e164"]) == ("030 1234567", "+49301234567")


def test_synthetic_leads_are_listed_only_when_asked_for(table, key_a, client, manager_a):
    real = post(key_a, person(1)).json()
    [test_lead] = intake_submit(
        actor=SYSTEM, channel="seed", items=[Submitted(payload=person(2))], synthetic=True
    )

    default = [r["id"] for r in api(key_a).get("/api/v1/leads").json()["results"]]
    asked = [
        r["id"]
        for r in api(key_a).get("/api/v1/leads", {"include_synthetic": "true"}).json()["results"]
    ]
    client.force_login(manager_a)
    admin_default = client.get("/admin/leads/lead/").content.decode()
    admin_only = client.get("/admin/leads/lead/", {"synthetic": "only"}).content.decode()

    assert default == [real["lead_id"]]
    assert sorted(asked) == sorted([real["lead_id"], test_lead.lead_id])
    assert f"/admin/leads/lead/{test_lead.lead_id}/change/" not in admin_default
    assert f"/admin/leads/lead/{test_lead.lead_id}/change/" in admin_only
    assert f"/admin/leads/lead/{real['lead_id']}/change/" in admin_default
    assert json.loads(json.dumps(asked))  # plain ids
