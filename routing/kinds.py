"""The `unroutable` exception kind and its resolutions, registered with the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.leads.owners import item_lead, lead_assign_named
from leadops.queue.models import ExceptionItem
from leadops.queue.registry import ExceptionKind, Resolution, kind_register


def _assign_by_hand(*, item: ExceptionItem, actor: Actor, value: str = "", **_: Any) -> None:
    lead_assign_named(
        actor=actor, lead=item_lead(item), username=value, reason="assigned by hand (unroutable)"
    )


def _reroute(*, item: ExceptionItem, actor: Actor, **_: Any) -> None:
    from routing.services import lead_reroute

    placed = lead_reroute(actor=actor, lead=item_lead(item))
    if placed.owner is None:
        reason = (placed.routing or {}).get("reason", "")
        raise ApplicationError(
            f"Still no owner after re-routing: {reason}. Fix the rules or assign by hand.",
            code="still_unroutable",
        )


UNROUTABLE = ExceptionKind(
    key="unroutable",
    label="Lead without an owner (unroutable)",
    owner_group="Managers {market}",
    recovery=timedelta(hours=2),
    resolutions=(
        Resolution(
            "assign",
            "Assign by hand",
            _assign_by_hand,
            help="Give the lead to a member of a team of its market.",
            ask="Username of the new owner",
        ),
        Resolution(
            "reroute",
            "Re-route after a rule change",
            _reroute,
            help="Runs the published rules again; refused if they still place nobody.",
        ),
    ),
)


def routing_kinds_register() -> None:
    kind_register(UNROUTABLE)
