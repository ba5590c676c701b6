"""Reads of the queue, scoped like everything else (the ORM filter here, RLS below it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from leadops.core.access import system_context
from leadops.core.config import config_cached
from leadops.queue.models import ExceptionItem, Notification, QueueOwnership


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


def recovery_minutes_in_force() -> dict[tuple[str, int], int]:
    """The recovery time set per (kind, market id) on queue ownership rows (absent: the kind's
    default), read once per config change (core/config.py)."""
    return config_cached("queue_recovery", _recovery_load)


def _recovery_load() -> dict[tuple[str, int], int]:
    with system_context("config_cache"):
        rows = QueueOwnership.objects.values_list("kind", "market_id", "recovery_minutes")
        return {(kind, market_id): minutes for kind, market_id, minutes in rows}
