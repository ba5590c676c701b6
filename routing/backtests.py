"""Backtests as work people start from a version's page: a Job with progress that a person can
cancel, and results kept per market under RLS (a reader sees their markets' part only).
A cancelled run keeps nothing: results are written in one transaction at the end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.core.services import JobScope, job_create, job_finish, job_progress, job_start
from routing.backtest import backtest_run
from routing.models import BacktestPart, BacktestRun, RuleVersion
from routing.rules import content_hash

KEEP_CHANGED = 2000  # changed leads kept per market for the drill-down and the CSV


@transaction.atomic
def backtest_start(
    *,
    actor: Actor,
    version: RuleVersion,
    market_ids: Sequence[int],
    since: date | None = None,
    limit: int | None = None,
) -> BacktestRun:
    """Record a backtest of `version` over the past leads of `market_ids` (the reader's markets:
    nobody backtests leads they cannot see) and its job; the caller enqueues the task on
    commit."""
    if version.market_id is not None:
        market_ids = [m for m in market_ids if m == version.market_id]
    if not market_ids:
        raise ApplicationError("None of your markets has leads this version routes.")
    if limit is not None and limit < 1:
        raise ApplicationError("The number of leads must be at least 1.")
    # The job says how far the run is, never what it found (that is in the parts, per market):
    # it is scoped like the version, so a narrower reader of the result can follow it too.
    scope = JobScope(
        market_ids=frozenset([version.market_id] if version.market_id else []),
        global_rows=version.market_id is None,
    )
    job = job_create(actor=actor, kind="backtest", scope=scope)
    run = BacktestRun.objects.create(
        version=version,
        market_id=version.market_id,
        job=job,
        content_hash=content_hash(version.content),
        market_ids=sorted(market_ids),
        since=since,
        limit=limit,
        requested_by=actor_ref(actor).label,
    )
    audit_record(
        actor=actor,
        action="routing.backtest_started",
        target=run,
        market_id=version.market_id,
        data={"version": version.number, "markets": sorted(market_ids), "limit": limit},
    )
    return run


def backtest_execute(*, run_id: int) -> dict[str, Any]:
    """The worker's part: replay, reporting progress on the job, asking between chunks whether
    someone cancelled; then every market's part in one transaction (or nothing, if cancelled)."""
    with system_context("backtest"):
        run = BacktestRun.objects.select_related("version").get(pk=run_id)
    job_start(job_id=run.job_id)

    def progress(done: int, total: int) -> None:
        job_progress(job_id=run.job_id, progress=int(100 * done / max(1, total)))

    def cancelled() -> bool:
        with system_context("backtest"):
            return BacktestRun.objects.filter(pk=run_id, cancel_requested=True).exists()

    with system_context("backtest"):
        result = backtest_run(
            version=run.version,
            market_ids=run.market_ids,
            since=run.since,
            limit=run.limit,
            progress=progress,
            cancelled=cancelled,
            keep_changed=KEEP_CHANGED,
        )
    if result.cancelled:
        with system_context("backtest"):
            BacktestRun.objects.filter(pk=run_id).update(cancelled=True)
        job_finish(job_id=run.job_id, ok=False, result={}, message="cancelled: nothing kept")
        return {"cancelled": True}
    with transaction.atomic(), system_context("backtest"):
        BacktestPart.objects.bulk_create(
            [
                BacktestPart(
                    run_id=run_id,
                    market_id=market_id,
                    summary=part.summary(),
                    changed=part.changed_rows(),
                )
                for market_id, part in sorted(result.parts.items())
            ]
        )
        job_finish(job_id=run.job_id, ok=True, result={}, message="finished")
    return {"evaluated": result.evaluated}


@transaction.atomic
def backtest_cancel(*, actor: Actor, run: BacktestRun) -> None:
    """Ask a running backtest to stop; it stops between chunks and keeps nothing."""
    if run.job.is_finished:
        raise ApplicationError("This backtest has already finished.")
    BacktestRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    audit_record(
        actor=actor,
        action="routing.backtest_cancelled",
        target=run,
        market_id=run.market_id,
        data={"at": timezone.now().isoformat()},
    )


def run_is_stale(run: BacktestRun) -> bool:
    """The version's rules changed since this backtest ran on them."""
    return run.content_hash != content_hash(run.version.content)
