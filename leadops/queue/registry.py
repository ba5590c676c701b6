"""Kinds of exception and how each is resolved. Higher apps register their kinds in
AppConfig.ready(); the queue itself never imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadops.queue.models import ExceptionItem

# handler(item=, actor=, note=) runs inside exception_resolve's transaction; raising aborts it.
Handler = Callable[..., None]


@dataclass(frozen=True)
class Resolution:
    key: str
    label: str
    handler: Handler | None = None
    help: str = ""
    # When set, the person is asked for a value (this is the question) and the handler gets it
    # as `value=`, e.g. the market to put a lead in.
    ask: str = ""
    # Offered only on the kind's own page (the value is built there, e.g. a merge's choices).
    on_page: bool = False


@dataclass(frozen=True)
class ExceptionKind:
    """`owner_group` may name the market: "Managers {market}" becomes "Managers DE"."""

    key: str
    label: str
    owner_group: str
    recovery: timedelta
    resolutions: tuple[Resolution, ...] = field(default_factory=tuple)
    # The item's own page (e.g. a side-by-side review), if it has one: the URL, or None when
    # this item has none.
    page: Callable[[ExceptionItem], str | None] | None = None

    def page_url(self, item: ExceptionItem) -> str | None:
        return self.page(item) if self.page is not None else None

    def resolution(self, key: str) -> Resolution | None:
        return next((r for r in self.resolutions if r.key == key), None)


class UnknownKind(LookupError):
    pass


_kinds: dict[str, ExceptionKind] = {}


def kind_register(kind: ExceptionKind) -> ExceptionKind:
    _kinds[kind.key] = kind
    return kind


def kind_get(key: str) -> ExceptionKind:
    try:
        return _kinds[key]
    except KeyError:
        raise UnknownKind(
            f"exception kind {key!r} is not registered; known: {', '.join(sorted(_kinds))}"
        ) from None


def kinds_all() -> list[ExceptionKind]:
    return sorted(_kinds.values(), key=lambda kind: kind.label)


def run_handler(item: ExceptionItem, resolution: Resolution, **kwargs: Any) -> None:
    if resolution.handler is not None:
        resolution.handler(item=item, **kwargs)
