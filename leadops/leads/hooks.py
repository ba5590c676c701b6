"""Work the layers above `leads` do when a lead is made or changes, without `leads` importing
them: the intake door passes routing in as ingest's `router`, and routing registers its
re-route here, so a held lead released or a lead put in another market is routed again in the
same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audit.services import Entry
from leadops.core.actors import Actor

# rerouter(actor=, lead_ids=, trigger=): trigger is "release", "market" or "retag".
Rerouter = Callable[..., Any]
_rerouters: list[Rerouter] = []


def reroute_register(rerouter: Rerouter) -> None:
    if rerouter not in _rerouters:
        _rerouters.append(rerouter)


def reroute_request(*, actor: Actor, lead_ids: Sequence[int], trigger: str) -> None:
    """Ask the registered router to place these leads again (no router: nothing happens)."""
    if not lead_ids:
        return
    for rerouter in _rerouters:
        rerouter(actor=actor, lead_ids=list(lead_ids), trigger=trigger)


@dataclass(frozen=True)
class NewLead:
    """A lead ingest is about to make, as the router sees it: `key` is its item's index in
    the call (the lead has no id until it is inserted)."""

    key: int
    market_id: int
    status: str
    synthetic: bool
    facts: dict[str, Any]


@dataclass(frozen=True)
class Placement:
    """What the lead is inserted with: its owner, team, status and tags."""

    owner_id: int | None
    team_id: int | None
    status: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placed:
    """What became of a new lead: its owner (username), status and routing summary."""

    owner: str | None
    status: str
    routing: dict[str, Any] | None


class Router(Protocol):
    """Routing in ingest's transaction, in two steps around the lead insert, so a new lead is
    written once, with its owner: `place` decides before the insert (placements by key), and
    `record` writes the decisions once the leads have ids (`made`: key → lead id; a lead a
    parallel call made first is absent) and adds its audit entries to ingest's. `leads`
    cannot import `routing`: the intake door passes it in."""

    def wants(self, *, market_id: int, status: str, synthetic: bool) -> bool:
        """Whether a new lead like this one is routed at all (ingest builds the facts of
        those only)."""
        ...

    def place(self, leads: list[NewLead]) -> dict[int, Placement]: ...

    def record(self, made: dict[int, int], audit: list[Entry]) -> dict[int, Placed]: ...


@dataclass(frozen=True)
class LeadPanel:
    """A part of the lead page that an app above `leads` provides (routing's decisions): a
    line for the header, and a module rendered from `template` with `context` as `panel`."""

    key: str
    title: str
    header: str
    template: str
    context: dict[str, Any]


# panel(lead=) → LeadPanel | None, read in the reader's markets.
_panels: list[Callable[..., LeadPanel | None]] = []
# action(actor=, lead=, data=) → the message to show; raises ApplicationError to refuse.
_actions: dict[str, Callable[..., str]] = {}


def lead_panel_register(panel: Callable[..., LeadPanel | None]) -> None:
    if panel not in _panels:
        _panels.append(panel)


def lead_panels(*, lead: Any) -> list[LeadPanel]:
    return [found for panel in _panels if (found := panel(lead=lead)) is not None]


def lead_action_register(key: str, action: Callable[..., str]) -> None:
    _actions[key] = action


def lead_action(key: str) -> Callable[..., str] | None:
    return _actions.get(key)


# Admin actions for the lead list that apps above `leads` provide (routing's "route again").
_bulk_actions: list[Callable[..., Any]] = []


def lead_bulk_action_register(action: Callable[..., Any]) -> None:
    if action not in _bulk_actions:
        _bulk_actions.append(action)


def lead_bulk_actions() -> list[Callable[..., Any]]:
    return list(_bulk_actions)


# --- SLA clocks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StartingLead:
    """A lead whose first-response clock may start now (made by intake, assigned, released):
    what an SLA policy is matched on."""

    lead_id: int
    market_id: int
    source: str
    score: int
    owner_id: int | None
    team_id: int | None
    fields: dict[str, str]


class Clock(Protocol):
    """SLA timers in ingest's transaction: `start` is called once the new leads have ids and
    owners, and answers each started lead's `sla` summary by lead id. `leads` cannot import
    `leadops.sla`: the intake door passes it in."""

    def wants(self, *, market_id: int) -> bool:
        """Whether any policy is in force in this market (ingest builds the rest only then)."""
        ...

    def start(self, leads: list[StartingLead], now: Any) -> dict[int, dict[str, Any]]: ...


# Changes to leads that the layers above react to (the SLA's clocks): `kind` is "assigned"
# (lead_ids, now), "activity" (activity), "status" (lead_ids, before, after, now), "merged"
# (lead_ids, now) or "moved" (lead_ids, now: put in another market, before they are re-routed).
# Listeners run in the changing transaction with the changing actor.
LeadChangeListener = Callable[..., Any]
_listeners: dict[str, list[LeadChangeListener]] = {}


def lead_change_listen(kind: str, listener: LeadChangeListener) -> None:
    registered = _listeners.setdefault(kind, [])
    if listener not in registered:
        registered.append(listener)


def lead_change_announce(kind: str, *, actor: Actor, **change: Any) -> None:
    for listener in _listeners.get(kind, ()):
        listener(actor=actor, **change)


# The lead list's extra columns and filters that apps above `leads` provide (the SLA's clock):
# `prefetch(leads)` reads what the column shows for the page's leads in one query (never per
# row, and never inside the list's count).
@dataclass(frozen=True)
class LeadListColumn:
    name: str
    render: Callable[..., Any]  # render(lead) → HTML
    prefetch: Callable[..., Any]
    filters: tuple[Any, ...] = ()


_columns: list[LeadListColumn] = []


def lead_list_column_register(column: LeadListColumn) -> None:
    if all(c.name != column.name for c in _columns):
        _columns.append(column)


def lead_list_columns() -> list[LeadListColumn]:
    return list(_columns)
