"""The base of every API view: the caller's market scope, set after authentication."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request

from leadops.api.limits import BodyLimitMixin
from leadops.core.access import market_context
from leadops.core.actors import origin_context
from leadops.markets.models import ApiClient
from leadops.markets.selectors import market_access_for


class ScopedAPIView(BodyLimitMixin):
    """Runs the view in a transaction that sees only the caller's markets.

    The context is set right after authentication, permissions and throttling (`initial`), and
    ends with the transaction when `dispatch` returns, so it can never reach the next request on
    a reused connection.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            stack.enter_context(origin_context("api"))
            self._context_stack = stack
            return super().dispatch(request, *args, **kwargs)

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
