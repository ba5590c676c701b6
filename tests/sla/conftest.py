"""SLA test helpers: policies put in force the way RevOps do (a draft, then publish), leads
posted through the API, and the clock read back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.leads.models import Lead
from leadops.markets.models import Market
from leadops.sla.models import PolicyVersion, Timer
from leadops.sla.policies import policy_draft, policy_publish
from tests.leads.test_api_ingest import post

SYSTEM = SystemActor("tests")


def sla_publish(market: Market, key: str = "first-response", **spec: Any) -> PolicyVersion:
    """Draft and publish policy `key` of `market` with `spec` over the defaults."""
    with system_context("tests"):
        draft = policy_draft(
            actor=SYSTEM,
            market=market,
            key=key,
            name=key.replace("-", " ").title(),
            change_note="test policy",
            **spec,
        )
        return policy_publish(actor=SYSTEM, version=draft)


def new_lead(key: str, name: str, country: str = "DE", **extra: Any) -> dict[str, Any]:
    """Post a lead; the API's answer."""
    response = post(
        key, {"source": "web", "email": f"{name}@example.com", "country": country, **extra}
    )
    assert response.status_code in (200, 201, 202), response.json()
    return response.json()


def clock_or_none(lead_id: int) -> Timer | None:
    """The lead's latest clock, if it has one."""
    with system_context("tests"):
        return Timer.objects.filter(lead_id=lead_id).order_by("-started_at", "-id").first()


def clock(lead_id: int) -> Timer:
    """The lead's latest clock (it must have one)."""
    found = clock_or_none(lead_id)
    assert found is not None, f"lead #{lead_id} has no clock"
    return found


def owner_name(lead_id: int) -> str | None:
    owner = lead_of(lead_id).owner
    return owner.username if owner else None


def history(lead_id: int) -> list[str]:
    with system_context("tests"):
        timer = clock(lead_id)
        return list(timer.steps.order_by("at", "id").values_list("kind", flat=True))


def lead_of(lead_id: int) -> Lead:
    with system_context("tests"):
        return Lead.objects.select_related("owner").get(pk=lead_id)


@pytest.fixture
def owner_ann(inbound) -> User:
    return User.objects.get(username="ann")
