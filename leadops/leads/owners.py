"""Who works a lead: `lead_assign`, the one service that gives a lead an owner (the lead page,
bulk actions, and later routing and SLA escalation all call it), its bulk form, and who may be
chosen."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import Entry, audit_record
from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.core.sql import sql_run, unnest_arrays
from leadops.leads.history import history_insert_sql
from leadops.leads.hooks import lead_change_announce
from leadops.leads.models import Lead
from leadops.markets.models import TeamMember
from leadops.markets.teams import is_available

# An owner can be given to a lead someone still works; a held lead is released first, a
# closed one reopened through its status.
ASSIGNABLE = {
    Lead.Status.NEW,
    Lead.Status.ASSIGNED,
    Lead.Status.WORKING,
    Lead.Status.QUALIFIED,
    Lead.Status.RECYCLED,
}


@transaction.atomic
def lead_assign(*, actor: Actor, lead: Lead, owner: User | None, reason: str) -> Lead:
    """Give `lead` to `owner` (None: take it back), saying why. The owner must be an active
    member of a team in the lead's market (anyone else would not see their own lead). A new
    lead becomes `assigned`. One audit event `lead.assigned` with from, to and the reason."""
    if not reason.strip():
        raise ApplicationError("Say why the lead goes to this owner.", code="reason_required")
    lead = Lead.objects.select_for_update(of=("self",)).select_related("market").get(pk=lead.pk)
    if lead.merged_into_id:
        raise ApplicationError(
            f"Lead #{lead.pk} was merged into lead #{lead.merged_into_id}: assign that one.",
            code="merged",
        )
    if lead.status not in ASSIGNABLE:
        raise ApplicationError(
            f"A {lead.get_status_display().lower()} lead takes no owner.", code="not_assignable"
        )
    if owner is not None and not member_of_market(owner, lead.market_id):
        raise ApplicationError(
            f"{owner.get_username()} is on no active team of {lead.market.code}: "
            "they would not see the lead.",
            code="not_in_market",
        )
    before, status_before = lead.owner_id, lead.status
    if before == (owner.pk if owner else None):
        raise ApplicationError("The lead already has this owner.", code="unchanged")
    lead.owner = owner
    if owner is not None and lead.status == Lead.Status.NEW:
        lead.status = Lead.Status.ASSIGNED
    lead.updated_at = timezone.now()
    lead._change_reason = reason.strip()[:100]  # type: ignore[attr-defined]
    lead.save(update_fields=["owner", "status", "updated_at"])
    audit_record(
        actor=actor,
        action="lead.assigned",
        target=lead,
        market_id=lead.market_id,
        data={
            "from": before,
            "to": owner.pk if owner else None,
            "reason": reason.strip()[:300],
            "status": [status_before, lead.status] if status_before != lead.status else None,
        },
    )
    if owner is not None:
        lead_change_announce("assigned", actor=actor, lead_ids=[lead.pk], now=lead.updated_at)
    return lead


def item_lead(item: Any) -> Lead:
    """The lead an exception item is about (`leads.lead` targets), for resolution handlers."""
    lead = (
        Lead.objects.filter(pk=item.target_id).first() if item.target_type == "leads.lead" else None
    )
    if lead is None:
        raise ApplicationError("The lead of this item no longer exists.", code="no_lead")
    return lead


def lead_assign_named(*, actor: Actor, lead: Lead, username: str, reason: str) -> Lead:
    """`lead_assign` to the active user a person typed (a queue resolution's "assign by hand")."""
    user = User.objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise ApplicationError(f"No active user {username.strip()!r}.", code="unknown_user")
    return lead_assign(actor=actor, lead=lead, owner=user, reason=reason)


@dataclass(frozen=True)
class Assignment:
    """One lead for `leads_assign_many`: its new owner and team, the status it moves to, the
    tags to add, and why."""

    lead_id: int
    market_id: int
    owner_id: int
    team_id: int | None
    status: str
    reason: str
    tags: tuple[str, ...] = ()


ASSIGN_COLUMNS = [
    ("id", "bigint"),
    ("owner_id", "bigint"),
    ("team_id", "bigint"),
    ("status", "varchar"),
    ("tags", "jsonb"),
]


def leads_assign_many(
    *,
    actor: Actor,
    assignments: Sequence[Assignment],
    audit_into: list[Entry] | None,
    now: datetime,
) -> dict[int, tuple[int | None, str]]:
    """`lead_assign` for many leads in one statement (routing in the intake door and its
    re-routes): the same rules, held by the statement itself — a lead is assignable (not
    merged away, in an assignable status) and the owner is an active member of a team in the
    lead's market, else that lead is left as it was. One history row and one `lead.assigned`
    event (appended to `audit_into`) per lead assigned; with `audit_into` None the caller
    records the assignment in an event of its own in this transaction (routing's
    `routing.decided` names from, to and the status: one event per lead instead of two on the
    intake path). The leads assigned, each with its owner and status before."""
    if not assignments:
        return {}
    rows = [
        [a.lead_id, a.owner_id, a.team_id, a.status, json.dumps(list(a.tags))] for a in assignments
    ]
    typed, arrays = unnest_arrays(ASSIGN_COLUMNS, rows)
    names = ", ".join(name for name, _ in ASSIGN_COLUMNS)
    done = sql_run(
        f"WITH v ({names}) AS (SELECT * FROM unnest({typed})),"
        " before AS (SELECT l.id, l.owner_id, l.status FROM leads_lead l JOIN v ON v.id = l.id),"
        " upd AS (UPDATE leads_lead l SET owner_id = v.owner_id, team_id = v.team_id,"
        "   status = v.status, updated_at = %b,"
        "   tags = ARRAY(SELECT DISTINCT t FROM unnest(l.tags || ARRAY(SELECT"
        "     jsonb_array_elements_text(v.tags))) t ORDER BY t)"
        "   FROM v WHERE l.id = v.id AND l.merged_into_id IS NULL AND l.status = ANY(%b)"
        "   AND EXISTS (SELECT 1 FROM markets_teammember m WHERE m.market_id = l.market_id"
        "     AND m.user_id = v.owner_id AND m.is_active)"
        "   RETURNING l.*),"
        f" hist AS ({history_insert_sql('upd')})"
        " SELECT upd.id, before.owner_id, before.status FROM upd JOIN before ON before.id = upd.id",
        [*arrays, now, [str(s) for s in ASSIGNABLE], now, "routed", "~"],
    )
    before = {lead_id: (owner_id, status) for lead_id, owner_id, status in done}
    for a in assignments:
        if a.lead_id not in before or audit_into is None:
            continue
        owner_before, status_before = before[a.lead_id]
        audit_into.append(
            Entry(
                action="lead.assigned",
                target=("leads.lead", str(a.lead_id)),
                market_id=a.market_id,
                data={
                    "from": owner_before,
                    "to": a.owner_id,
                    "reason": a.reason[:300],
                    "status": [status_before, a.status] if status_before != a.status else None,
                },
            )
        )
    lead_change_announce("assigned", actor=actor, lead_ids=sorted(before), now=now)
    return before


def member_of_market(user: User, market_id: int) -> bool:
    return TeamMember.objects.filter(market_id=market_id, user=user, is_active=True).exists()


@dataclass(frozen=True)
class Candidate:
    user: User
    teams: list[str]
    available: bool
    why: str


def assign_candidates(*, market_id: int, at: datetime | None = None) -> list[Candidate]:
    """The people a lead of `market_id` may go to: members of its market's teams, available
    ones first, with why the others are not (inactive, out of office, outside hours)."""
    at = at or timezone.now()
    members = TeamMember.objects.filter(market_id=market_id).select_related(
        "user", "team", "team__market"
    )
    people: dict[int, Candidate] = {}
    for member in members:
        state = is_available(member, at)
        known = people.get(member.user_id)
        teams = [*(known.teams if known else []), member.team.name]
        available = state.available or bool(known and known.available)
        why = "available" if available else state.reason
        people[member.user_id] = Candidate(member.user, teams, available, why)
    return sorted(people.values(), key=lambda c: (not c.available, c.user.get_username()))


@dataclass
class BulkReport:
    done: int = 0
    refused: dict[int, str] = field(default_factory=dict)  # lead id → why


def leads_bulk(
    *,
    lead_ids: Sequence[int],
    act: Callable[[Lead], Any],
    chunk: int = 200,
) -> BulkReport:
    """Apply `act` (a service call) to each lead, one transaction per chunk: a refusal (an
    ApplicationError) skips that lead and is reported; anything else rolls its chunk back."""
    report = BulkReport()
    for start in range(0, len(lead_ids), chunk):
        with transaction.atomic():
            for lead in Lead.objects.filter(pk__in=lead_ids[start : start + chunk]).order_by("pk"):
                try:
                    with transaction.atomic():
                        act(lead)
                    report.done += 1
                except ApplicationError as exc:
                    report.refused[lead.pk] = exc.message
    return report
