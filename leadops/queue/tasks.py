"""Queue tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="leadops.queue.tasks.sweep")
def sweep() -> int:
    """Beat: escalate items past their recovery time (idempotent under two beats)."""
    from leadops.core.actors import SystemActor
    from leadops.queue.services import exception_escalate_overdue

    return exception_escalate_overdue(actor=SystemActor("exception_sweep"))
