"""Work the layers above `leads` do when a lead is made or changes, without `leads` importing
them: the intake door passes routing in as ingest's `after_create`, and routing registers its
re-route here, so a held lead released or a lead put in another market is routed again in the
same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
    """A lead this call made, as a hook after creation sees it (routing, in the intake door)."""

    lead_id: int
    market_id: int
    status: str
    synthetic: bool
    facts: dict[str, Any]


@dataclass(frozen=True)
class Placed:
    """What a hook made of a new lead: its owner (username), status and routing summary."""

    owner: str | None
    status: str
    routing: dict[str, Any] | None


# Called in ingest's transaction with the new leads and ingest's audit entries (to add to):
# what became of each lead, by id. `leads` cannot import the layers above it, so the door
# passes their step in.
AfterCreate = Callable[[list[NewLead], list[Entry]], dict[int, Placed]]


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
