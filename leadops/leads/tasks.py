"""Lead tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from leadops.core.tasks import ContextTask


@shared_task(name="leadops.leads.tasks.idempotency_purge")
def idempotency_purge() -> int:
    """Beat: drop stored idempotent responses older than 72 hours."""
    from leadops.leads.idempotency import idempotency_purge as purge

    return purge()


@shared_task(name="leadops.leads.tasks.retag_job", base=ContextTask, own_transactions=True)
def retag_job(job_id: int, version_id: int, apply: bool, user_id: int) -> None:
    """Run a retag preview or a retag recorded as Job `job_id` (chunked, own transactions), as
    the person who asked for it."""
    from django.contrib.auth.models import User

    from leadops.leads.retag import retag_run
    from leadops.markets.models import MarketTableVersion

    actor = User.objects.get(pk=user_id)
    version = MarketTableVersion.objects.get(pk=version_id)
    retag_run(actor=actor, version=version, apply=apply, job_id=job_id)


@shared_task(name="leadops.leads.tasks.lead_export_job", base=ContextTask)
def lead_export_job(export_id: int, market_ids: list[int] | None = None) -> int:
    """Write export `export_id` in the markets of the person who asked: `market_ids` is taken
    by ContextTask, which runs the body in exactly those markets (declared here so a call's
    signature check accepts it)."""
    from leadops.leads.exports import lead_export_write

    return lead_export_write(export_id=export_id)


@shared_task(name="leadops.leads.tasks.intake_rollup_fold", expires=55)
def intake_rollup_fold() -> int:
    """Beat, every minute: recompute the dashboard's intake rollup for the current and the
    previous hour and the hours marked stale."""
    from leadops.leads.rollups import intake_hours_fold

    return intake_hours_fold()
