"""The API carries the clock: `sla` in the intake answer and in GET /api/v1/leads/{id};
activities say who did them and whether a tool did; a lead is put on hold and resumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User

from leadops.core.access import system_context
from leadops.leads.models import Lead
from leadops.leads.owners import lead_assign
from leadops.sla.models import Timer
from tests.leads.test_api_ingest import api, post
from tests.sla.conftest import SYSTEM, clock, new_lead, sla_publish

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_get_lead_carries_its_clock(table, key_a, market_a, inbound):
    sla_publish(market_a, minutes=60)
    with time_machine.travel(START, tick=False):
        body = new_lead(key_a, "ada")

    got = api(key_a).get(f"/api/v1/leads/{body['lead_id']}").json()

    assert got["sla"]["policy"] == "first-response v1"
    assert got["sla"]["state"] == "running"
    assert got["sla"]["due_at"].replace("Z", "+00:00") == (START + timedelta(hours=1)).isoformat()
    assert got["sla"]["paused"] is False


def test_an_answer_about_a_lead_outside_the_callers_markets_carries_no_clock(
    table, key_a, market_b
):
    # given a policy in market B; client A posts a lead that lands in B (FR)
    sla_publish(market_b, minutes=60)
    response = post(key_a, {"source": "web", "email": "elsewhere@example.com", "country": "FR"})

    # then the clock started, but the answer says no more than `accepted`
    assert response.status_code == 202
    assert response.json() == {
        "submission_id": response.json()["submission_id"],
        "outcome": "accepted",
    }


def test_an_event_by_the_owner_meets_an_owner_only_clock_and_an_automated_one_does_not(
    table, key_a, market_a, inbound
):
    # given an owner-only policy and a lead owned by ann
    sla_publish(market_a, minutes=60, response_by="owner", activity_kinds=["email", "call"])
    body = new_lead(key_a, "owned")
    with system_context("tests"):
        lead = Lead.objects.get(pk=body["lead_id"])
        lead_assign(actor=SYSTEM, lead=lead, owner=User.objects.get(username="ann"), reason="t")
    url = f"/api/v1/leads/{body['lead_id']}/events"

    # when a tool's e-mail "by ann" and an event naming an unknown person arrive
    tool = api(key_a).post(
        url, {"type": "activity", "kind": "email", "by": "ann", "automated": True}, format="json"
    )
    unknown = api(key_a).post(
        url, {"type": "activity", "kind": "call", "by": "nobody"}, format="json"
    )
    assert tool.status_code == 201
    assert clock(body["lead_id"]).state == Timer.State.RUNNING
    assert unknown.status_code == 400
    assert "by" in unknown.json()["errors"]

    # and then ann's call
    call = api(key_a).post(url, {"type": "activity", "kind": "call", "by": "ann"}, format="json")
    assert call.status_code == 201
    assert clock(body["lead_id"]).state == Timer.State.MET
    activities = api(key_a).get(f"/api/v1/leads/{body['lead_id']}").json()["activities"]
    assert {(a["by"], a["automated"]) for a in activities} == {("ann", True), ("ann", False)}


def test_hold_and_resume_through_the_events_endpoint(table, key_a, market_a, inbound):
    sla_publish(market_a, minutes=60)
    body = new_lead(key_a, "held")
    url = f"/api/v1/leads/{body['lead_id']}/events"

    no_reason = api(key_a).post(url, {"type": "hold"}, format="json")
    held = api(key_a).post(url, {"type": "hold", "note": "waiting on the customer"}, format="json")
    again = api(key_a).post(url, {"type": "hold", "note": "again"}, format="json")
    resumed = api(key_a).post(url, {"type": "resume"}, format="json")

    assert no_reason.status_code == 400
    assert no_reason.json()["errors"]["note"] == ["Say why the lead is on hold."]
    assert held.status_code == 200
    assert held.json()["sla"]["paused"] is True
    assert held.json()["sla"]["pause_reason"] == "waiting on the customer"
    assert again.status_code in (400, 409)
    assert "running clock" in again.json()["detail"]
    assert resumed.json()["sla"]["state"] == "running"
