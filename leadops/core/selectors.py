"""Reads of core records, scoped like everything else (the ORM filter here, RLS below it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from leadops.core.models import Job


def jobs_scope(*, market_ids: Iterable[int], see_global: bool) -> Q:
    """Jobs whose whole scope the reader holds: every market of the job, and global rows if the
    job has them."""
    scope = Q(scope_market_ids__contained_by=sorted(market_ids))
    return scope if see_global else scope & Q(scope_global=False)


def jobs_visible(*, market_ids: Iterable[int], see_global: bool) -> QuerySet[Job]:
    return Job.objects.filter(jobs_scope(market_ids=market_ids, see_global=see_global))
