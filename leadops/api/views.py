"""The bases of every API view: checked query parameters and body size, then the caller's scope."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.http import HttpRequest
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from leadops.api.limits import SINGLE_LEAD_BYTES, PayloadTooLarge, body_size, too_large_message
from leadops.core.access import market_context
from leadops.core.actors import origin_context
from leadops.core.config import config_snapshot
from leadops.markets.models import ApiClient
from leadops.markets.selectors import market_access_for


class BaseApi(APIView):
    """Every LeadOps endpoint.

    - Query parameters are checked by name: a GET takes those of `query_serializer` (filters
      and paging), other methods none; anything else is a 400 naming it (a misspelt `limit=2`
      must not be silently ignored).
    - A body over `max_body_bytes` is refused with 413 before anything parses it;
      `body_refused` runs first, so an intake endpoint can keep a record of it.
    """

    max_body_bytes = SINGLE_LEAD_BYTES
    query_serializer: type[serializers.Serializer] | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # Whatever the view writes is audited as coming through the API; the stack lets a
        # subclass hold a context (a market scope) exactly as long as the request.
        with ExitStack() as stack:
            stack.enter_context(origin_context("api"))
            # The request reads config (its key, markets, sources…) against one generation.
            stack.enter_context(config_snapshot())
            self._context_stack = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._check_query_names(request)
        if request.method in ("POST", "PUT", "PATCH"):
            size = body_size(request)
            if size > self.max_body_bytes:
                message = too_large_message(size, self.max_body_bytes)
                self.body_refused(request, size=size, message=message)
                raise PayloadTooLarge(message)

    def _check_query_names(self, request: Request) -> None:
        wanted = self.query_serializer if request.method == "GET" else None
        allowed = set(wanted().fields) if wanted is not None else set()
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            takes = (
                f"This endpoint takes: {', '.join(sorted(allowed))}."
                if allowed
                else "This endpoint takes no query parameters."
            )
            raise exceptions.ValidationError(
                {name: [f"Unknown query parameter. {takes}"] for name in unknown}
            )

    def query(self) -> dict[str, Any]:
        """The validated query parameters (400 with field errors when they do not hold)."""
        assert self.query_serializer is not None
        parsed = self.query_serializer(data=self.request.query_params)
        parsed.is_valid(raise_exception=True)
        return dict(parsed.validated_data)

    def body_refused(self, request: Request, *, size: int, message: str) -> None:
        """Hook: record a refused body (intake endpoints store a rejected submission)."""


class ScopedAPIView(BaseApi):
    """Runs the view in a transaction that sees only the caller's markets.

    The context is set right after authentication, permissions and throttling (`initial`), and
    ends with the transaction when `dispatch` returns, so it can never reach the next request on
    a reused connection.
    """

    # Methods that manage their own transactions (ingest: the idempotency claim must commit
    # before the work starts); they still authenticate and throttle, but get no context here.
    unscoped_methods: tuple[str, ...] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method in self.unscoped_methods:
            return
        principal = request.auth if isinstance(request.auth, ApiClient) else request.user
        self.access = market_access_for(principal)
        self._context_stack.enter_context(
            market_context(market_ids=self.access.market_ids, see_global=self.access.see_global)
        )
