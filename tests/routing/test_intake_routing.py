"""Routing in the intake door: every new lead gets an owner with a reason, in ingest's
transaction, or an `unroutable` item; the answer carries `owner` and `routing`."""

from __future__ import annotations

import pytest

from leadops.core.access import system_context
from leadops.leads.models import Lead
from leadops.queue.models import ExceptionItem
from routing.models import Decision
from tests.leads.test_api_ingest import post
from tests.routing.conftest import publish, rule

pytestmark = pytest.mark.django_db


def lead(name: str, country: str = "DE", **extra):
    return {"source": "web", "email": f"{name}@example.com", "country": country, **extra}


def test_a_new_lead_is_assigned_by_the_published_rules_with_its_reason(
    table, key_a, market_a, inbound, author, approver
):
    # given rules that send DE leads to team Inbound, round robin
    version = publish(
        market_a,
        [rule("de-inbound", {"field": "country", "op": "eq", "value": "DE"}, team="Inbound")],
        author=author,
        approver=approver,
    )

    # when a DE lead is posted
    response = post(key_a, lead("first"))

    # then it has an owner from the team, the answer says which rule, and the decision is kept
    body = response.json()
    assert response.status_code == 201
    assert body["owner"] in {"ann", "ben", "cat", "dan"}
    assert body["status"] == "assigned"
    assert body["routing"]["rule"] == "de-inbound"
    assert body["routing"]["version"] == version.number
    assert body["routing"]["team"] == "Inbound"
    with system_context("tests"):
        stored = Lead.objects.get(pk=body["lead_id"])
        decision = Decision.objects.get(lead=stored)
    assert stored.owner is not None
    assert stored.owner.username == body["owner"]
    assert stored.team_id == inbound.id
    assert decision.outcome == "assigned"
    assert decision.version_id == version.pk
    assert decision.trace[0]["rules"][0]["conditions"][0]["actual"] == "DE"
    assert {c["user"] for c in decision.inputs["candidates"]} == {"ann", "ben", "cat", "dan"}


def test_round_robin_takes_turns_within_a_batch(table, key_a, market_a, inbound, author, approver):
    # given round robin over four members
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)

    # when eight leads arrive in one batch
    from tests.leads.test_api_ingest import api

    response = api(key_a).post(
        "/api/v1/leads/batch", {"leads": [lead(f"b{i}") for i in range(8)]}, format="json"
    )

    # then each member got exactly two
    assert response.status_code == 200
    with system_context("tests"):
        owners = list(
            Lead.objects.filter(email_norm__startswith="b").values_list(
                "owner__username", flat=True
            )
        )
    assert sorted(owners) == sorted(["ann", "ben", "cat", "dan"] * 2)


def test_a_lead_no_rule_matches_is_unroutable_never_silently_assigned(
    table, key_a, market_a, inbound, author, approver
):
    # given rules only for score ≥ 90
    publish(
        market_a,
        [rule("hot", {"field": "score", "op": "gte", "value": 90}, team="Inbound")],
        author=author,
        approver=approver,
    )

    # when an ordinary lead arrives
    body = post(key_a, lead("cold")).json()

    # then it has no owner and an unroutable item says why
    assert body["owner"] is None
    assert body["routing"]["outcome"] == "unroutable"
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="unroutable", target_id=str(body["lead_id"]))
    assert "no rule matched" in item.summary


def test_without_any_published_rules_leads_wait_unowned_and_nothing_is_filed(table, key_a):
    # given no routing rules at all
    # when a lead arrives
    body = post(key_a, lead("early")).json()

    # then it simply has no owner yet
    assert body["owner"] is None
    assert body["routing"] is None
    with system_context("tests"):
        assert not ExceptionItem.objects.filter(kind="unroutable").exists()
