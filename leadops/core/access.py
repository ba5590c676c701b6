"""The access context: which markets the current transaction may see.

It lives in two places that must agree: transaction-local PostgreSQL settings read by the RLS
policies (`leadops.market_ids`, `leadops.see_global`, `leadops.system`), and a Python context
variable read by the ORM guard on market-scoped models. Both are only ever set inside an
`atomic()` block and both end with it: `set_config(..., true)` dies at COMMIT or ROLLBACK, and the
context managers here reset the Python side when the block exits. A setting made in autocommit
would silently vanish before the next statement (research/technical.md §2.1), so that is refused.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections, transaction

GUC_MARKET_IDS = "leadops.market_ids"
GUC_SEE_GLOBAL = "leadops.see_global"
GUC_SYSTEM = "leadops.system"


class MarketContextMissing(RuntimeError):
    """A market-scoped query ran with no access context: a forgotten scope, never a user error."""


@dataclass(frozen=True)
class AccessContext:
    """What one transaction may see. `system_reason` set means every market (named system work)."""

    market_ids: frozenset[int]
    see_global: bool = False
    system_reason: str = ""

    @property
    def is_system(self) -> bool:
        return bool(self.system_reason)


_current: contextvars.ContextVar[AccessContext | None] = contextvars.ContextVar(
    "leadops_access_context", default=None
)


# The database alias the current context was set on (the settings live on that connection).
_current_alias: contextvars.ContextVar[str] = contextvars.ContextVar(
    "leadops_access_alias", default=""
)


def access_current() -> AccessContext | None:
    return _current.get()


def access_require() -> AccessContext:
    """The context of the running transaction; raises when there is none (the ORM guard)."""
    context = _current.get()
    if context is None:
        raise MarketContextMissing(
            "No market access context is set. Run market-scoped queries inside "
            "market_context(...) (requests and tasks do this for you) or, for work that must see "
            "every market, inside system_context(reason)."
        )
    return context


def _apply(context: AccessContext | None, using: str) -> None:
    connection = connections[using]
    if not connection.in_atomic_block:
        raise MarketContextMissing(
            "The access context can only be set inside transaction.atomic(): in autocommit "
            "PostgreSQL forgets a transaction-local setting before the next statement."
        )
    ids = "" if context is None else ",".join(str(i) for i in sorted(context.market_ids))
    see_global = "on" if context is not None and context.see_global else ""
    system = "" if context is None else context.system_reason
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, %s, true), set_config(%s, %s, true)",
            [GUC_MARKET_IDS, ids, GUC_SEE_GLOBAL, see_global, GUC_SYSTEM, system],
        )


@contextmanager
def market_context(
    *, market_ids: Iterable[int], see_global: bool = False, using: str = "default"
) -> Iterator[AccessContext]:
    """Open (or join) a transaction that sees exactly `market_ids` until the block ends."""
    context = AccessContext(market_ids=frozenset(market_ids), see_global=see_global)
    with _scoped(context, using) as active:
        yield active


@contextmanager
def system_context(reason: str, *, using: str = "default") -> Iterator[AccessContext]:
    """Open (or join) a transaction that sees every market, for named system work.

    The reason is recorded in the transaction's settings (visible in pg_stat_activity tooling
    and to audit triggers), so every bypass of market scoping says why it happened.
    """
    if not reason.strip():
        raise ValueError("system_context needs a reason, e.g. system_context('sla_sweep').")
    context = AccessContext(market_ids=frozenset(), see_global=True, system_reason=reason)
    with _scoped(context, using) as active:
        yield active


@contextmanager
def _scoped(context: AccessContext, using: str) -> Iterator[AccessContext]:
    previous = _current.get()
    connection = connections[using]
    nested_system = context.is_system and previous is not None and previous.is_system
    if nested_system and connection.in_atomic_block and _current_alias.get() == using:
        # System work inside system work (ingest filing its exceptions) already sees every
        # market: the outer reason stands, and no savepoint or setting is needed.
        yield previous  # type: ignore[misc]
        return
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        _apply(context, using)
        token = _current.set(context)
        alias_token = _current_alias.set(using)
        try:
            yield context
        finally:
            _current_alias.reset(alias_token)
            _current.reset(token)
        # Success: put back what the enclosing block had (a released savepoint keeps settings).
        # On an error the atomic block rolls back, and the rollback restores them by itself.
        # The outermost block needs neither: COMMIT ends the transaction-local settings.
        if not outermost:
            _apply(previous, using)
