"""Lead tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="leadops.leads.tasks.idempotency_purge")
def idempotency_purge() -> int:
    """Beat: drop stored idempotent responses older than 72 hours."""
    from leadops.leads.idempotency import idempotency_purge as purge

    return purge()
