"""SLA tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from leadops.core.tasks import ContextTask


# acks_late + reject_on_worker_lost: a worker killed mid-sweep leaves the message unacked, so
# the broker hands it to another worker; the killed sweep's transaction was aborted with its
# claims, and the redelivered one runs each step once (leadops/sla/sweep.py).
@shared_task(
    name="leadops.sla.tasks.sweep",
    base=ContextTask,
    own_transactions=True,
    acks_late=True,
    reject_on_worker_lost=True,
    expires=55,
)
def sweep() -> dict[str, object]:
    """Beat, every minute: warn, breach and escalate the clocks that are due."""
    from leadops.core.actors import SystemActor
    from leadops.sla.sweep import timers_sweep

    report = timers_sweep(actor=SystemActor("sla_sweep"))
    return {
        "looked_at": report.looked_at,
        "warned": report.warned,
        "breached": report.breached,
        "steps": report.steps,
    }
