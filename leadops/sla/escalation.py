"""The escalation steps `leadops.sla` provides itself (routing registers "reassign"), and the
`sla_breach` exception kind. Every step takes the leads that reached it, set-based: one query
to find who to tell, one statement to tell them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from leadops.core.actors import Actor
from leadops.leads.models import Lead
from leadops.leads.owners import item_lead, lead_assign_named
from leadops.markets.models import TeamMember
from leadops.queue.models import ExceptionItem
from leadops.queue.registry import ExceptionKind, Resolution, kind_register
from leadops.queue.services import Filing, Notice, exceptions_file_many, notifications_send_many
from leadops.sla.models import Timer
from leadops.sla.steps import escalation_step_register

MESSAGES = {
    "sla_warned": "Lead #{lead}: first response due {due} ({policy}).",
    "sla_breached": "Lead #{lead} has had no first response: it was due {due} ({policy}).",
    "sla_team": "Lead #{lead} of {team} breached its first-response SLA (due {due}).",
}


def _open(lead_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Each lead's market, owner, team and manager, and its latest clock's deadline."""
    rows = list(
        Lead.objects.filter(pk__in=lead_ids)
        .values("id", "market_id", "owner_id", "team_id", "team__name", "team__manager_id")
        .order_by("id")
    )
    clocks = {
        t["lead_id"]: t
        for t in Timer.objects.filter(lead_id__in=lead_ids)
        .order_by("lead_id", "-started_at")
        .distinct("lead_id")
        .values("lead_id", "due_at", "version__policy__key", "version__number")
    }
    # A lead given to someone by hand has no team: its manager is the manager of the owner's
    # team in that market.
    by_owner = {
        (m["market_id"], m["user_id"]): m["team__manager_id"]
        for m in TeamMember.objects.filter(
            user_id__in={r["owner_id"] for r in rows if r["team_id"] is None and r["owner_id"]},
            team__manager__isnull=False,
        )
        .order_by("market_id", "user_id", "team_id")
        .values("market_id", "user_id", "team__manager_id")
    }
    found = []
    for row in rows:
        if row["team__manager_id"] is None and row["owner_id"]:
            row["team__manager_id"] = by_owner.get((row["market_id"], row["owner_id"]))
        clock = clocks.get(row["id"])
        due = timezone.localtime(clock["due_at"]).strftime("%Y-%m-%d %H:%M %Z") if clock else "?"
        policy = f"{clock['version__policy__key']} v{clock['version__number']}" if clock else ""
        found.append({**row, "due": due, "policy": policy})
    return found


def _notify(lead_ids: Sequence[int], *, who: str, reason: str, now: datetime) -> int:
    notices = []
    for row in _open(lead_ids):
        user_id = row["owner_id"] if who == "owner" else row["team__manager_id"]
        if user_id is None:
            continue
        message = MESSAGES[reason].format(
            lead=row["id"],
            due=row["due"],
            policy=row["policy"],
            team=row["team__name"] or "the owner's team",
        )
        notices.append(
            Notice(
                market_id=row["market_id"],
                user_id=user_id,
                reason=reason,
                message=message,
                link=reverse("admin:leads_lead_change", args=[row["id"]]),
            )
        )
    return notifications_send_many(notices=notices, now=now)


def owners_notify(*, lead_ids: Sequence[int], reason: str, now: datetime) -> int:
    return _notify(lead_ids, who="owner", reason=reason, now=now)


def notify_owner(*, actor: Actor, lead_ids: Sequence[int]) -> int:
    """Tell the lead's owner it breached (no owner: nobody to tell; the ladder's later steps
    are for that)."""
    return _notify(lead_ids, who="owner", reason="sla_breached", now=timezone.now())


def notify_manager(*, actor: Actor, lead_ids: Sequence[int]) -> int:
    """Tell the manager of the lead's team."""
    return _notify(lead_ids, who="manager", reason="sla_team", now=timezone.now())


def file_breach(*, actor: Actor, lead_ids: Sequence[int]) -> list[int | None]:
    """File an `sla_breach` item per lead, for the managers of its market."""
    return exceptions_file_many(
        actor=actor,
        filings=[
            Filing(
                kind=SLA_BREACH.key,
                market_id=row["market_id"],
                target=("leads.lead", str(row["id"])),
                summary=f"Lead #{row['id']}: no first response, due {row['due']}",
                details={"policy": row["policy"], "due": row["due"], "owner": row["owner_id"]},
            )
            for row in _open(lead_ids)
        ],
    )


def _assign(*, item: ExceptionItem, actor: Actor, value: str = "", **_: Any) -> None:
    lead_assign_named(
        actor=actor, lead=item_lead(item), username=value, reason="SLA breach: assigned by hand"
    )


SLA_BREACH = ExceptionKind(
    key="sla_breach",
    label="Lead without a first response in time (SLA breach)",
    owner_group="Managers {market}",
    recovery=timedelta(hours=1),
    resolutions=(
        Resolution(
            "followed_up",
            "Followed up",
            help="Someone has responded or will now; the lead's clock shows when.",
        ),
        Resolution(
            "assign",
            "Give it to someone else",
            _assign,
            help="A member of a team of the lead's market gets it.",
            ask="Username of the new owner",
        ),
    ),
)

BUILT_IN = {
    "notify_owner": notify_owner,
    "notify_manager": notify_manager,
    "file_breach": file_breach,
}


def sla_steps_register() -> None:
    kind_register(SLA_BREACH)
    for name, step in BUILT_IN.items():
        escalation_step_register(name, step)
