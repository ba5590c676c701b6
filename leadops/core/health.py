"""Liveness checks of the services LeadOps depends on, for /healthz and `make run`."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from kombu import Connection

from leadops.core.services import HEARTBEAT_CACHE_KEY


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "detail": self.detail}


def database_check(alias: str = "default") -> CheckResult:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return CheckResult(ok=False, detail=f"{type(exc).__name__}: {exc}".strip())
    return CheckResult(ok=True, detail="reachable")


def broker_check(url: str | None = None) -> CheckResult:
    """Open and close one broker connection, giving up after HEALTHZ_BROKER_TIMEOUT seconds."""
    broker_url = url or settings.CELERY_BROKER_URL
    timeout = settings.HEALTHZ_BROKER_TIMEOUT
    try:
        with Connection(broker_url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:
        return CheckResult(ok=False, detail=f"{type(exc).__name__}: {exc}".strip())
    return CheckResult(ok=True, detail=f"reachable ({Connection(broker_url).transport_cls})")


def worker_heartbeat() -> str | None:
    """ISO time a worker last ran the beat heartbeat, or None if it never has."""
    try:
        value = cache.get(HEARTBEAT_CACHE_KEY)
    except DatabaseError:
        return None
    return str(value) if value else None
