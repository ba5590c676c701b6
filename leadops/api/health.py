"""GET /healthz: is this instance able to serve? For load balancers, CI and people."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from leadops.core.health import broker_check, database_check, worker_heartbeat


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker both answer, 503 naming what is down.

    The worker heartbeat is reported but does not decide the status: a web instance can serve
    while workers restart.
    """
    database = database_check()
    broker = broker_check()
    healthy = database.ok and broker.ok
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database.as_dict(),
        "broker": broker.as_dict(),
        "worker_last_heartbeat": worker_heartbeat() if database.ok else None,
    }
    if not healthy:
        down = [
            name for name, check in (("database", database), ("broker", broker)) if not check.ok
        ]
        body["reason"] = f"{' and '.join(down)} unreachable"
    return JsonResponse(body, status=200 if healthy else 503)
