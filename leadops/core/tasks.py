"""Core tasks. Tasks are thin: they take plain values and call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="leadops.core.tasks.heartbeat")
def heartbeat() -> str:
    """Scheduled by beat; /healthz reports when a worker last ran it."""
    from leadops.core.services import heartbeat_record

    return heartbeat_record().isoformat()
