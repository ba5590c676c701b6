"""API authentication and throttling (DRF imports these while it loads: no views here)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from leadops.markets.models import ApiClient
from leadops.markets.services import api_key_hash

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
        client = ApiClient.objects.filter(key_prefix=parts[1]).first()
        # Compare digests in constant time; a wrong key and an unknown prefix look the same.
        expected = client.key_hash if client else "0" * 64
        if not hmac.compare_digest(expected, api_key_hash(key)) or client is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not client.is_active:
            raise exceptions.AuthenticationFailed("This API client is deactivated.")
        # At most one write a minute per client: a timestamp is not worth a write per request.
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > timedelta(minutes=1):
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return 'Token realm="api"'


class ApiClientRateThrottle(SimpleRateThrottle):
    """Per-client request rate, counted in the shared cache so every web process agrees.

    Session users (people trying the API from the admin) are throttled per user.
    """

    scope = "api_client"

    def get_rate(self) -> str:
        return str(settings.API_CLIENT_RATE)

    def allow_request(self, request: Request, view: APIView) -> bool:
        if isinstance(request.auth, ApiClient) and request.auth.rate_limit:
            self.rate = request.auth.rate_limit
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiClient):
            ident = f"client:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


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
