"""Reads of core records, scoped like everything else (the ORM filter here, RLS below it)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from leadops.core.models import Job


def jobs_visible(*, market_ids: Iterable[int], see_global: bool) -> QuerySet[Job]:
    """Jobs whose whole scope the reader holds: every market of the job, and global rows if the
    job has them."""
    jobs = Job.objects.filter(scope_market_ids__contained_by=sorted(market_ids))
    return jobs if see_global else jobs.filter(scope_global=False)
