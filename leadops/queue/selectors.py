"""Reads of the queue, scoped like everything else (the ORM filter here, RLS below it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from leadops.queue.models import ExceptionItem, Notification


def exceptions_visible(*, market_ids: Iterable[int]) -> QuerySet[ExceptionItem]:
    """Items in the reader's markets; an item in two markets only when the reader holds both."""
    ids = sorted(market_ids)
    return (
        ExceptionItem.objects.filter(market_id__in=ids)
        .filter(Q(second_market__isnull=True) | Q(second_market_id__in=ids))
        .select_related("market", "second_market", "claimed_by")
    )


def notifications_unread(*, user_id: int, market_ids: Iterable[int]) -> QuerySet[Notification]:
    """A person's unread notices about items they may see (both markets of a two-market item)."""
    ids = sorted(market_ids)
    return Notification.objects.filter(
        Q(second_market__isnull=True) | Q(second_market_id__in=ids),
        user_id=user_id,
        read_at__isnull=True,
        market_id__in=ids,
    ).select_related("item")
