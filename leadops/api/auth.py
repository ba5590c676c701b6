"""API authentication and throttling (DRF imports these while it loads: no views here)."""

from __future__ import annotations

import hmac
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from leadops.api.throttle import SharedRateThrottle
from leadops.markets.models import ApiClient
from leadops.markets.selectors import api_client_by_prefix
from leadops.markets.services import api_key_hash

LAST_USED_EVERY = 60.0  # seconds

if TYPE_CHECKING:
    from rest_framework.views import APIView


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` or `Bearer <key>`; keys look like `lo_<prefix>_<secret>`."""

    keywords = ("token", "bearer")

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: use 'Token <key>' or 'Bearer <key>'."
            )
        key = header[1]
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != "lo":
            raise exceptions.AuthenticationFailed("Invalid API key.")
        # Cached per process until the config generation moves (a key revoked or re-scoped
        # anywhere is seen at the next request, core/config.py): no statement per request.
        client = api_client_by_prefix(parts[1])
        # Compare digests in constant time; a wrong key and an unknown prefix look the same.
        expected = client.key_hash if client else "0" * 64
        if not hmac.compare_digest(expected, api_key_hash(key)) or client is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not client.is_active:
            raise exceptions.AuthenticationFailed("This API client is deactivated.")
        _last_used_touch(client.pk)
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


# When this process last wrote each client's `last_used_at` (monotonic seconds).
_last_used_written: dict[int, float] = {}


def _last_used_touch(client_id: int) -> None:
    """Keep `last_used_at` to the minute: each process writes it at most once a minute per
    client, and the conditional UPDATE leaves it alone if another process just did."""
    now = time.monotonic()
    if now - _last_used_written.get(client_id, -LAST_USED_EVERY) < LAST_USED_EVERY:
        return
    _last_used_written[client_id] = now
    moment = timezone.now()
    ApiClient.objects.filter(
        Q(last_used_at__isnull=True)
        | Q(last_used_at__lt=moment - timedelta(seconds=LAST_USED_EVERY)),
        pk=client_id,
    ).update(last_used_at=moment)


class ApiClientRateThrottle(SharedRateThrottle):
    """Per-client request rate (the client's own, or API_CLIENT_RATE), counted so that every
    web process agrees (leadops/api/throttle.py). Session users (people trying the API from
    the admin) are throttled per user."""

    scope = "api_client"

    def get_rate(self, request: Request) -> str:
        if isinstance(request.auth, ApiClient) and request.auth.rate_limit:
            return request.auth.rate_limit
        return str(settings.API_CLIENT_RATE)

    def get_key(self, request: Request, view: APIView) -> str:
        if isinstance(request.auth, ApiClient):
            return f"client:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"anon:{self.get_ident(request)}"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the API key scheme in the OpenAPI schema."""

    target_class = "leadops.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` or `Bearer <key>`; keys come from createapiclient.",
        }
