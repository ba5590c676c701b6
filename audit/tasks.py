"""Audit tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from leadops.core.tasks import ContextTask


@shared_task(name="audit.tasks.checkpoint")
def checkpoint() -> int | None:
    """Beat: sign the chain head when it moved since the last checkpoint."""
    from audit.services import audit_checkpoint_create
    from leadops.core.actors import SystemActor

    made = audit_checkpoint_create(actor=SystemActor("audit_checkpoint"))
    return made.seq if made else None


@shared_task(name="audit.tasks.verify_job", base=ContextTask, own_transactions=True)
def verify_job(job_id: int) -> bool:
    """Run the verification recorded as Job `job_id` (from the admin's "verify now")."""
    from audit.verification import audit_verify_job_run

    return audit_verify_job_run(job_id=job_id).ok
