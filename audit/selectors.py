"""Reads of the audit log, scoped as its RLS policy is (the ORM filter over RLS).

An event is readable when its market is one of the reader's (or it has none and the reader sees
global rows), and so is its second market, and so is every market `audit_event_scope` adds.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from audit.models import AuditEvent, AuditEventScope


def events_scope(*, market_ids: Iterable[int], see_global: bool) -> Q:
    ids = sorted(market_ids)
    first = Q(market_id__in=ids)
    if see_global:
        first |= Q(market_id__isnull=True)
    outside = AuditEventScope.objects.filter(event_id=OuterRef("pk")).exclude(market_id__in=ids)
    second = Q(second_market_id__isnull=True) | Q(second_market_id__in=ids)
    return Q(first, second, ~Exists(outside))


def events_visible(*, market_ids: Iterable[int], see_global: bool) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(events_scope(market_ids=market_ids, see_global=see_global))
