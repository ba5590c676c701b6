"""Reads of rule sets, their versions and routing decisions, scoped to the reader.

Each read filters by the reader's markets itself, as RLS does below it: a market's rule set for
readers holding that market, the global fallback only for readers who see global rows (an
`all_markets` API client, RevOps). The global rules place leads of every market, so whoever may
read them is also whoever may write them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from leadops.markets.selectors import MarketAccess
from routing.models import Decision, RuleSet, RuleVersion

MAX_TRACE_LINES = 20


def _scope(access: MarketAccess) -> Q:
    visible = Q(market_id__in=sorted(access.market_ids))
    if access.see_global:
        visible |= Q(market_id__isnull=True)
    return visible


def rule_sets_visible(*, access: MarketAccess) -> QuerySet[RuleSet]:
    """The caller's rule sets, each with `published_number` and `versions_count` annotated
    (subqueries, so paging filters stay plain WHERE clauses)."""
    published = RuleVersion.objects.filter(
        rule_set=OuterRef("pk"), state=RuleVersion.State.PUBLISHED
    ).values("number")[:1]
    counted = (
        RuleVersion.objects.filter(rule_set=OuterRef("pk"))
        .order_by()
        .values("rule_set")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        RuleSet.objects.filter(_scope(access))
        .select_related("market")
        .annotate(
            published_number=Subquery(published, output_field=IntegerField()),
            versions_count=Coalesce(Subquery(counted, output_field=IntegerField()), 0),
        )
    )


def rule_set_versions(*, rule_set: RuleSet) -> QuerySet[RuleVersion]:
    """Every version of a rule set the caller already holds (versions share its market)."""
    return RuleVersion.objects.filter(rule_set=rule_set, market=rule_set.market).select_related(
        "rule_set__market", "author", "approver", "published_by"
    )


def version_visible(*, access: MarketAccess, version_id: int) -> RuleVersion | None:
    """The version if its rule set is the caller's; None otherwise, so callers answer 404
    without revealing that it exists."""
    return (
        RuleVersion.objects.filter(_scope(access), pk=version_id)
        .select_related("rule_set__market", "author", "approver", "published_by")
        .first()
    )


def decisions_for_lead(
    *, lead_id: int, market_ids: Iterable[int] | None = None
) -> QuerySet[Decision]:
    """A lead's routing decisions, latest first. With `market_ids`, only decisions made in
    those markets (a lead moved between markets keeps decisions its new readers may not see)."""
    decisions = Decision.objects.filter(lead_id=lead_id)
    if market_ids is not None:
        decisions = decisions.filter(market_id__in=sorted(market_ids))
    return decisions.select_related("version", "team", "owner").order_by("-decided_at", "-id")


def decision_summary(decision: Decision) -> dict[str, Any]:
    """A decision as people read it: what happened, by which rule, and a few lines of why
    (the same lines the intake answer's `routing.trace` gives)."""
    return {
        "outcome": decision.outcome,
        "version": decision.version.number if decision.version else None,
        "rule": decision.rule or None,
        "team": decision.team.name if decision.team else None,
        "owner": decision.owner.get_username() if decision.owner else None,
        "reason": decision.reason,
        "trigger": decision.trigger,
        "decided_at": decision.decided_at.isoformat(),
        "trace": _short_trace(decision),
    }


def _short_trace(decision: Decision) -> list[str]:
    lines = []
    for block in decision.trace or []:
        for entry in block.get("rules", []):
            if entry.get("ok"):
                lines.append(f"v{block.get('version')} rule {entry.get('rule')} matched")
    inputs = decision.inputs or {}
    for skip in inputs.get("skipped_rules", []):
        lines.append(f"rule {skip.get('rule')} could not place the lead: {skip.get('why')}")
    for candidate in inputs.get("candidates", []):
        if candidate.get("skipped"):
            lines.append(f"skipped {candidate.get('user')}: {candidate['skipped']}")
    return lines[:MAX_TRACE_LINES]
