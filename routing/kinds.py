"""The `unroutable` exception kind and its resolutions, registered with the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User

from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.leads.models import Lead
from leadops.leads.owners import lead_assign
from leadops.queue.models import ExceptionItem
from leadops.queue.registry import ExceptionKind, Resolution, kind_register


def _lead(item: ExceptionItem) -> Lead:
    lead = (
        Lead.objects.filter(pk=item.target_id).first() if item.target_type == "leads.lead" else None
    )
    if lead is None:
        raise ApplicationError("The lead of this item no longer exists.", code="no_lead")
    return lead


def _assign_by_hand(*, item: ExceptionItem, actor: Actor, value: str = "", **_: Any) -> None:
    user = User.objects.filter(username=value.strip(), is_active=True).first()
    if user is None:
        raise ApplicationError(f"No active user {value.strip()!r}.", code="unknown_user")
    lead_assign(actor=actor, lead=_lead(item), owner=user, reason="assigned by hand (unroutable)")


def _reroute(*, item: ExceptionItem, actor: Actor, **_: Any) -> None:
    from routing.services import lead_reroute

    placed = lead_reroute(actor=actor, lead=_lead(item))
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
