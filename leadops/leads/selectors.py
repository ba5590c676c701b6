"""Reads of leads, scoped to the reader's markets (the ORM filter here, RLS below it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from audit.selectors import events_visible
from leadops.core.config import config_cached
from leadops.leads.models import Lead, Source


def leads_visible(*, market_ids: Iterable[int], include_synthetic: bool = False) -> QuerySet[Lead]:
    """Leads in `market_ids`; test leads (`is_synthetic`) only when asked for."""
    # merged_into joins under RLS too: a survivor in another market reads as no survivor.
    leads = Lead.objects.filter(market_id__in=sorted(market_ids)).select_related(
        "market", "owner", "merged_into"
    )
    return leads if include_synthetic else leads.filter(is_synthetic=False)


def sources_by_slug() -> dict[str, Source]:
    """Every source, active or not, by slug, read once per config change (core/config.py).
    The instances are shared by the process's threads: read them, never change them."""
    return config_cached(
        "sources", lambda: {source.slug: source for source in Source.objects.all()}
    )


def lead_audit_events(
    *, lead: Lead, market_ids: Iterable[int], see_global: bool
) -> QuerySet[AuditEvent]:
    """The events about a lead, its submissions and its activities, oldest first, in the
    reader's scope (an event that also names a market the reader lacks stays hidden)."""
    submissions = [str(i) for i in lead.submissions.values_list("id", flat=True)]
    activities = [str(i) for i in lead.activities.values_list("id", flat=True)]
    return (
        events_visible(market_ids=market_ids, see_global=see_global)
        .filter(
            Q(target_type="leads.lead", target_id=str(lead.pk))
            | Q(target_type="leads.submission", target_id__in=submissions)
            | Q(target_type="leads.activity", target_id__in=activities)
        )
        .select_related("link")
        .order_by("id")
    )
