"""Intake answers say no more than the caller may read (DESIGN.md, External contract).

A client of market A may submit leads that land in B, but the answer about such a lead is
`202 {"submission_id", "outcome": "accepted"}`, with the same status, body shape and headers
whether the person was new, known or ambiguous, so an intake key is never an oracle for who
exists in other markets. Every channel is tested on both sides of the rule.
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from leadops.core.access import system_context
from leadops.leads.mapping import source_mapping_set
from leadops.leads.models import Submission
from leadops.leads.sources import source_form_set
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import api

pytestmark = pytest.mark.django_db

IN_B = {"source": "web", "country": "FR", "first_name": "Marie"}  # the table puts FR in B
IN_A = {"source": "web", "country": "DE", "first_name": "Ada"}
# What a client learns from an answer besides the body: status and these headers.
HEADERS = ("Content-Type", "Location", "Vary", "Allow")


def lead_api(key, body, **headers):
    return api(key).post("/api/v1/leads", body, format="json", **headers)


def shape(response):
    """Everything an answer reveals except the submission id itself."""
    body = response.json()
    return (
        response.status_code,
        sorted(body),
        {k: v for k, v in body.items() if k != "submission_id"},
        {h: response.get(h) for h in HEADERS},
    )


@pytest.fixture
def known_in_b(table, key_all):
    """marie@… already exists in B (submitted by a client that holds every market)."""
    lead_api(key_all, {**IN_B, "email": "marie@example.com"})


def test_a_lead_landing_outside_the_callers_markets_is_answered_accepted_only(
    table, key_a, known_in_b
):
    new = lead_api(key_a, {**IN_B, "email": "new@example.com"})
    known = lead_api(key_a, {**IN_B, "email": "marie@example.com"})
    held = lead_api(key_a, {**IN_B, "email": "held@example.com", "phone": "call me maybe"})

    assert shape(new) == shape(known) == shape(held)
    assert shape(new)[:3] == (202, ["outcome", "submission_id"], {"outcome": "accepted"})
    # the work was done all the same: a created, a merged and a quarantined submission
    with system_context("tests"):
        outcomes = list(
            Submission.objects.filter(
                pk__in=[r.json()["submission_id"] for r in (new, known, held)]
            ).values_list("outcome", flat=True)
        )
    assert sorted(outcomes) == ["created", "merged", "quarantined"]


def test_a_conflicting_identity_outside_the_callers_markets_is_answered_the_same(
    table, key_a, key_all, partner
):
    # given two leads in A known by email and by the partner's id, then a submission pointing
    # at both (held in UNASSIGNED, which client A does not hold)
    lead_api(key_a, {**IN_A, "source": "partner", "external_id": "X-1", "email": "one@x.com"})
    lead_api(key_a, {**IN_A, "source": "partner", "external_id": "X-2", "email": "two@x.com"})
    new_in_b = lead_api(key_a, {**IN_B, "email": "other@example.com"})

    ambiguous = lead_api(
        key_a, {**IN_A, "source": "partner", "external_id": "X-2", "email": "one@x.com"}
    )

    assert shape(ambiguous) == shape(new_in_b)


def test_inside_the_callers_markets_the_answer_has_the_details(table, key_a):
    response = lead_api(key_a, {**IN_A, "email": "ada@example.com"})

    body = response.json()
    assert response.status_code == 201
    assert (body["outcome"], body["market"], body["status"]) == ("created", "AAA", "new")
    assert body["lead_id"]


def test_an_idempotent_replay_gives_the_same_accepted_answer(table, key_a, known_in_b):
    body = {**IN_B, "email": "marie@example.com"}

    first = lead_api(key_a, body, HTTP_IDEMPOTENCY_KEY="k-1")
    replay = lead_api(key_a, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 202
    assert first.content == replay.content
    assert set(first.json()) == {"submission_id", "outcome"}


def test_source_submissions_follow_the_same_rule(table, key_a, key_all, partner):
    source_mapping_set(
        actor=SYSTEM,
        source=partner,
        rules={"email": {"path": "mail"}, "country": {"path": "land"}},
        note="test",
    )
    url = "/api/v1/sources/partner/submissions"
    api(key_all).post(url, {"mail": "known@example.com", "land": "FR"}, format="json")

    new_b = api(key_a).post(url, {"mail": "fresh@example.com", "land": "FR"}, format="json")
    known_b = api(key_a).post(url, {"mail": "known@example.com", "land": "FR"}, format="json")
    own = api(key_a).post(url, {"mail": "mine@example.com", "land": "DE"}, format="json")

    assert shape(new_b) == shape(known_b)
    assert shape(new_b)[0] == 202
    assert (own.status_code, own.json()["outcome"], own.json()["market"]) == (201, "created", "AAA")


def test_the_public_form_answers_alike_for_new_known_and_other_market_people(table, web, key_all):
    cache.clear()
    form = f"/api/v1/forms/{source_form_set(actor=SYSTEM, source=web, origins=['https://s.example']).form_key}"
    lead_api(key_all, {**IN_B, "email": "marie@example.com"})
    browser = APIClient(HTTP_ORIGIN="https://s.example")

    answers = [
        browser.post(form, {"email": "fresh@example.com", "country": "DE"}, format="json"),
        browser.post(form, {"email": "marie@example.com", "country": "FR"}, format="json"),
        browser.post(form, {"email": "fresh@example.com", "country": "DE"}, format="json"),
    ]

    assert {(a.status_code, a.content) for a in answers} == {(202, b'{"received":true}')}
