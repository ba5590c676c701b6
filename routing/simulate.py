"""Simulate a version on one lead at a chosen moment, beside what the published rules would do:
every rule evaluated, the conditions with the values seen, the candidates and why each was
skipped, and the result. Nothing is written and nothing is locked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadops.core.errors import ApplicationError
from leadops.leads.fields import FACT_COLUMNS, lead_facts
from leadops.leads.models import Lead
from leadops.markets.models import UNASSIGNED_CODE, Market
from leadops.markets.selectors import markets_by_id
from routing.assign import Plan, RouteRequest, plan_simulate
from routing.engine import compile_version, trace_rows
from routing.models import RuleVersion
from routing.world import Published, published_versions

# What a person can type for a lead to simulate.
TYPED_FIELDS = ("email", "phone", *FACT_COLUMNS, "source", "score")


@dataclass(frozen=True)
class Side:
    """One version's answer for the lead: the plan, and its trace with operators and values."""

    label: str
    plan: Plan
    rules: list[dict[str, Any]]


@dataclass(frozen=True)
class Simulation:
    at: datetime
    market: str
    facts: dict[str, Any]
    draft: Side
    published: Side | None


def _facts_of_lead(lead: Lead) -> tuple[int, dict[str, Any]]:
    values = {f: getattr(lead, f) for f in ("email_norm", "phone_e164", *FACT_COLUMNS)}
    facts = lead_facts(
        values=values,
        market=markets_by_id().get(lead.market_id),
        source=lead.first_source.slug,
        score=lead.score,
        status=lead.status,
        attributes=lead.attributes,
    )
    return lead.market_id, facts


def _facts_typed(fields: dict[str, Any], market: Market) -> dict[str, Any]:
    try:
        score = int(fields.get("score") or 0)
    except (TypeError, ValueError):
        raise ApplicationError("The score must be a whole number.", code="bad_score") from None
    email = str(fields.get("email") or "").strip().lower()
    values = {
        "email_norm": email,
        "phone_e164": str(fields.get("phone") or ""),
        **{f: str(fields.get(f) or "").strip() for f in FACT_COLUMNS},
    }
    values["country"] = values["country"].upper()
    if not values["company_domain"] and "@" in email:
        values["company_domain"] = email.rpartition("@")[2]
    return lead_facts(
        values=values,
        market=markets_by_id().get(market.pk),
        source=str(fields.get("source") or ""),
        score=score,
        status="new",
        attributes=dict(fields.get("attributes") or {}),
    )


@dataclass(frozen=True)
class _Draft(Published):
    content: dict[str, Any] | None = None


def _side(label: str, request: RouteRequest, at: datetime, chain: Sequence[_Draft]) -> Side:
    plan = plan_simulate(request, at=at, versions=chain)
    rules = trace_rows(plan.trace, {p.version_id: p.content for p in chain})
    return Side(label, plan, rules)


def version_simulate(
    *,
    version: RuleVersion,
    at: datetime,
    lead: Lead | None = None,
    fields: dict[str, Any] | None = None,
    market: Market | None = None,
) -> Simulation:
    """`version` (usually a draft) on `lead`, or on `fields` typed by a person in `market` (the
    rule set's market by default), at `at` — combined with the global fallback as production
    combines them — beside the versions published now."""
    if lead is not None:
        market_id, facts = _facts_of_lead(lead)
    else:
        where = market or version.market or Market.objects.filter(code=UNASSIGNED_CODE).first()
        if where is None:
            raise ApplicationError("Choose a market for the lead.", code="no_market")
        market_id, facts = where.pk, _facts_typed(fields or {}, where)
    published = published_versions()
    draft = _Draft(
        version.pk,
        version.number,
        version.market_id,
        compile_version(version.content),
        content=version.content,
    )
    chain: list[_Draft] = [draft]
    if version.market_id is not None and None in published:
        chain.append(_with_content(published[None]))
    in_force = [
        _with_content(published[key])
        for key in (market_id, None)
        if key in published and not (key == market_id and markets_by_id()[key].is_unassigned)
    ]
    request = RouteRequest(lead.pk if lead is not None else 0, market_id, facts)
    return Simulation(
        at=at,
        market=markets_by_id()[market_id].code,
        facts=facts,
        draft=_side(f"v{version.number} ({version.state})", request, at, chain),
        published=_side("published now", request, at, in_force) if in_force else None,
    )


def _with_content(found: Published) -> _Draft:
    content = (
        RuleVersion.objects.filter(pk=found.version_id).values_list("content", flat=True).first()
    )
    return _Draft(found.version_id, found.number, found.market_id, found.compiled, content=content)
