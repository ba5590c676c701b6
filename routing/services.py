"""Routing as the rest of LeadOps calls it: new leads in the intake door, re-routes (a held lead
released, a lead put in another market or retagged, on demand, a closed team opening), and the
SLA's "reassign" step. Every entry point decides set-based (routing/assign.py) and writes in
the caller's transaction with its audit events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import Entry, audit_record_many
from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.core.config import config_snapshot
from leadops.core.errors import ApplicationError
from leadops.core.sql import sql_run, unnest_insert
from leadops.leads.fields import FACT_COLUMNS, lead_facts
from leadops.leads.hooks import NewLead, Placed, Placement
from leadops.leads.models import Lead
from leadops.leads.owners import Assignment, leads_assign_many
from leadops.leads.status import can_move
from leadops.markets.selectors import markets_by_id
from leadops.queue.services import Filing, Notice, exceptions_file_many, notifications_send_many
from routing.assign import Plan, RouteRequest, plans_make
from routing.models import Decision
from routing.world import published_versions

Trigger = Decision.Trigger
DECISION_COLUMNS = [
    ("lead_id", "bigint"),
    ("market_id", "bigint"),
    ("trigger", "varchar"),
    ("outcome", "varchar"),
    ("version_id", "bigint"),
    ("rule", "varchar"),
    ("team_id", "bigint"),
    ("owner_id", "bigint"),
    ("reason", "varchar"),
    ("trace", "jsonb"),
    ("inputs", "jsonb"),
    ("decided_at", "timestamptz"),
    ("wake_at", "timestamptz"),
]
FACT_VALUES = ("email_norm", "phone_e164", *FACT_COLUMNS)


def routing_in_force() -> bool:
    """Whether any routing version is published at all (cached per config generation)."""
    return bool(published_versions())


def routing_configured(market_id: int) -> bool:
    """Whether any published version could place a lead of this market. Until RevOps publish
    one (for the market or the global fallback), leads wait unowned, and no `unroutable` item
    is filed for each of them."""
    published = published_versions()
    return market_id in published or None in published


def _status_after(plan: Plan, current: str) -> str:
    status = "assigned" if current == "new" else current
    wanted = plan.rule.then.get("status") if plan.rule else None
    if wanted and wanted != status and can_move(status, wanted):
        return str(wanted)
    return status


def decisions_write(
    *,
    actor: Actor,
    plans: Sequence[Plan],
    statuses: dict[int, str],
    trigger: str,
    now: datetime,
    audit_into: list[Entry],
    assigned: dict[int, str] | None = None,
) -> dict[int, Placed]:
    """Assign, record and file what `plans` decided; the audit entries go to `audit_into`.
    What each lead became (owner, status, the routing summary), by lead id. `assigned`: the
    leads intake already inserted with their owner (their status then), nothing to update."""
    assignments = [
        Assignment(
            lead_id=p.request.lead_id,
            market_id=p.request.market_id,
            owner_id=p.owner.user_id,
            team_id=p.team.id if p.team else None,
            status=_status_after(p, statuses[p.request.lead_id]),
            reason=p.reason,
            tags=tuple(p.tags),
        )
        for p in plans
        if p.outcome == Decision.Outcome.ASSIGNED
        and p.owner is not None
        and p.request.lead_id not in (assigned or {})
    ]
    # One event per lead (routing.decided, below) says what was decided and what it assigned.
    done = leads_assign_many(actor=actor, assignments=assignments, audit_into=None, now=now)
    status_of = {a.lead_id: a.status for a in assignments}
    for lead_id, status in (assigned or {}).items():
        done[lead_id], status_of[lead_id] = (None, statuses[lead_id]), status
    for p in plans:
        if p.outcome == Decision.Outcome.ASSIGNED and p.request.lead_id not in done:
            # The statement's own rules refused it (the lead moved on meanwhile).
            p.outcome, p.reason = Decision.Outcome.UNROUTABLE, "the lead could not take an owner"
    unnest_insert(
        "routing_decision",
        DECISION_COLUMNS,
        [
            [
                p.request.lead_id,
                p.request.market_id,
                trigger,
                p.outcome,
                p.version.version_id if p.version else None,
                p.rule.id if p.rule else "",
                p.team.id if p.team else None,
                p.owner.user_id if p.owner and p.outcome == Decision.Outcome.ASSIGNED else None,
                p.reason[:300],
                json.dumps(_redacted(p.trace)),
                json.dumps(
                    {
                        "pick": p.pick,
                        "slot": p.slot,
                        "candidates": p.candidates,
                        "skipped_rules": p.skipped_rules,
                        "tags": p.tags,
                        "notify": p.rule.then.get("notify", []) if p.rule else [],
                    }
                ),
                now,
                p.wake_at,
            ]
            for p in plans
        ],
    )
    exceptions_file_many(
        actor=actor,
        filings=[
            Filing(
                kind="unroutable",
                market_id=p.request.market_id,
                target=("leads.lead", str(p.request.lead_id)),
                summary=f"Lead #{p.request.lead_id} has no owner: {p.reason}"[:300],
                details={"reason": p.reason, "rule": p.rule.id if p.rule else None},
                remediation="Assign it by hand, or fix the rules and re-route it.",
            )
            for p in plans
            if p.outcome == Decision.Outcome.UNROUTABLE
        ],
        audit_into=audit_into,
    )
    _notify(plans, now)
    audit_into.extend(
        Entry(
            action="routing.decided",
            target=("leads.lead", str(p.request.lead_id)),
            market_id=p.request.market_id,
            data=_decided(p, trigger, done.get(p.request.lead_id), status_of),
        )
        for p in plans
    )
    return {
        p.request.lead_id: Placed(
            owner=p.owner.username if p.owner and p.outcome == "assigned" else None,
            status=status_of.get(p.request.lead_id, statuses[p.request.lead_id]),
            routing=p.summary(),
        )
        for p in plans
    }


def _decided(
    p: Plan, trigger: str, before: tuple[int | None, str] | None, status_of: dict[int, str]
) -> dict[str, Any]:
    """The `routing.decided` event's data: the decision, and the assignment it made (the
    lead's owner and status from → to), so one event records both."""
    data: dict[str, Any] = {
        "trigger": trigger,
        "outcome": p.outcome,
        "version": p.version.number if p.version else None,
        "rule": p.rule.id if p.rule else None,
        "team": p.team.name if p.team else None,
        "reason": p.reason[:300],
    }
    if before is not None and p.owner is not None:
        status = status_of[p.request.lead_id]
        data.update(
            {
                "from": before[0],
                "to": p.owner.user_id,
                "status": [before[1], status] if before[1] != status else None,
            }
        )
    return data


def _notify(plans: Sequence[Plan], now: datetime) -> None:
    """The in-admin notices a matched rule's `notify` asks for (one statement for the users,
    one for the notices; none when no rule notifies)."""
    wanted = [(p, name) for p in plans if p.rule for name in p.rule.then.get("notify", [])]
    if not wanted:
        return
    users = dict(
        User.objects.filter(username__in={name for _, name in wanted}, is_active=True).values_list(
            "username", "pk"
        )
    )
    notifications_send_many(
        notices=[
            Notice(
                market_id=p.request.market_id,
                user_id=users[name],
                reason="routed",
                message=f"Lead #{p.request.lead_id}: {p.outcome} by rule "
                f"{p.rule.id if p.rule else ''}"
                + (f" to {p.owner.username}" if p.owner and p.outcome == "assigned" else ""),
                link=reverse("admin:leads_lead_change", args=[p.request.lead_id]),
            )
            for p, name in wanted
            if name in users
        ],
        now=now,
    )


class IntakeRouter:
    """The intake door's routing (a `leads.hooks.Router`): new leads (created or review; never
    held, never test leads) are placed before ingest inserts them, so each is written once with
    its owner, and the decisions are recorded once they have ids, in ingest's transaction."""

    def __init__(self, *, actor: Actor) -> None:
        self.actor = actor
        self.now = timezone.now()
        self.plans: list[Plan] = []

    def wants(self, *, market_id: int, status: str, synthetic: bool) -> bool:
        return status == "new" and not synthetic and routing_configured(market_id)

    def place(self, leads: list[NewLead]) -> dict[int, Placement]:
        routable = [
            lead
            for lead in leads
            if self.wants(market_id=lead.market_id, status=lead.status, synthetic=lead.synthetic)
        ]
        if not routable:
            return {}
        # Keyed by the item's index until the lead has an id (`record`).
        self.plans = plans_make(
            [RouteRequest(lead.key, lead.market_id, lead.facts) for lead in routable],
            now=self.now,
        )
        return {
            p.request.lead_id: Placement(
                owner_id=p.owner.user_id,
                team_id=p.team.id if p.team else None,
                status=_status_after(p, "new"),
                tags=tuple(sorted(set(p.tags))),
            )
            for p in self.plans
            if p.outcome == Decision.Outcome.ASSIGNED and p.owner is not None
        }

    def record(self, made: dict[int, int], audit: list[Entry]) -> dict[int, Placed]:
        plans = []
        for plan in self.plans:
            if plan.request.lead_id in made:  # else a parallel call made that lead first
                plan.request = replace(plan.request, lead_id=made[plan.request.lead_id])
                plans.append(plan)
        if not plans:
            return {}
        assigned = {
            p.request.lead_id: _status_after(p, "new")
            for p in plans
            if p.outcome == Decision.Outcome.ASSIGNED and p.owner is not None
        }
        return decisions_write(
            actor=self.actor,
            plans=plans,
            statuses={p.request.lead_id: "new" for p in plans},
            trigger=Trigger.INTAKE,
            now=self.now,
            audit_into=audit,
            assigned=assigned,
        )


PERSONAL_FIELDS = frozenset({"email", "phone", "first_name", "last_name"})


def _redacted(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace as stored: a person's email, phone and names are not kept in decisions (the
    lead has them; erasing the lead must leave nothing behind here)."""
    for block in trace:
        for rule in block.get("rules", []):
            for condition in rule.get("conditions", []):
                if condition.get("field") in PERSONAL_FIELDS and condition.get("actual"):
                    condition["actual"] = "(personal data, not kept)"
    return trace


def _requests_of(
    lead_ids: Iterable[int], *, exclude_owner: bool = False
) -> tuple[list[RouteRequest], dict[int, str]]:
    rows = (
        Lead.objects.filter(pk__in=list(lead_ids), merged_into__isnull=True)
        .exclude(status__in=["held", "converted", "disqualified"])
        .values(
            "id",
            "market_id",
            "status",
            "owner_id",
            "score",
            "attributes",
            "first_source__slug",
            *FACT_VALUES,
        )
        .order_by("id")
    )
    requests, statuses, markets = [], {}, markets_by_id()
    for row in rows:
        facts = lead_facts(
            values=row,
            market=markets.get(row["market_id"]),
            source=row["first_source__slug"],
            score=row["score"],
            status=row["status"],
            attributes=row["attributes"],
        )
        exclude = row["owner_id"] if exclude_owner else None
        requests.append(RouteRequest(row["id"], row["market_id"], facts, exclude))
        statuses[row["id"]] = row["status"]
    return requests, statuses


def leads_reassign(*, actor: Actor, lead_ids: Sequence[int]) -> dict[int, Placed]:
    """The SLA's "reassign" escalation step: route again, the current owner excluded."""
    return leads_reroute(actor=actor, lead_ids=lead_ids, trigger=Trigger.SLA, exclude_owner=True)


@transaction.atomic
def leads_reroute(
    *, actor: Actor, lead_ids: Sequence[int], trigger: str, exclude_owner: bool = False
) -> dict[int, Placed]:
    """Route existing leads again (released, moved, retagged, on demand, woken): the same
    decisions as intake, recorded as new decisions. Leads that are held, closed or merged away
    are left alone. Earlier waits of these leads end here."""
    with config_snapshot(), system_context("routing"):
        requests, statuses = _requests_of(lead_ids, exclude_owner=exclude_owner)
        requests = [r for r in requests if routing_configured(r.market_id)]
        if not requests:
            return {}
        now = timezone.now()
        ids = [r.lead_id for r in requests]
        sql_run(
            "UPDATE routing_decision SET woken_at = %b WHERE lead_id = ANY(%b)"
            " AND outcome = 'waiting' AND woken_at IS NULL",
            [now, ids],
        )
        plans = plans_make(requests, now=now)
        audit: list[Entry] = []
        placed = decisions_write(
            actor=actor, plans=plans, statuses=statuses, trigger=trigger, now=now, audit_into=audit
        )
        audit_record_many(actor=actor, entries=audit)
        return placed


def lead_reroute(*, actor: Actor, lead: Lead, trigger: str = Trigger.MANUAL) -> Placed:
    """Route one lead again, on demand; says why when it cannot."""
    placed = leads_reroute(actor=actor, lead_ids=[lead.pk], trigger=trigger)
    if lead.pk not in placed:
        raise ApplicationError(
            "This lead cannot be routed: it is held, closed or merged away, or no routing "
            "rules are published for its market.",
            code="not_routable",
        )
    return placed[lead.pk]


def waiting_wake(*, actor: Actor, now: datetime | None = None, limit: int = 500) -> int:
    """Route again the leads whose team has opened since they started waiting (beat, every
    minute). A lead someone assigned meanwhile is left alone. The number re-routed."""
    now = now or timezone.now()
    with transaction.atomic(), system_context("routing_wake"):
        rows = sql_run(
            "SELECT d.lead_id FROM routing_decision d JOIN leads_lead l ON l.id = d.lead_id"
            " WHERE d.outcome = 'waiting' AND d.woken_at IS NULL AND d.wake_at <= %b"
            " ORDER BY d.wake_at LIMIT %b FOR UPDATE OF d SKIP LOCKED",
            [now, limit],
        )
        ids = [r[0] for r in rows]
        if not ids:
            return 0
        sql_run(
            "UPDATE routing_decision SET woken_at = %b WHERE lead_id = ANY(%b)"
            " AND outcome = 'waiting' AND woken_at IS NULL",
            [now, ids],
        )
        unowned = list(
            Lead.objects.filter(pk__in=ids, owner__isnull=True).values_list("pk", flat=True)
        )
        leads_reroute(actor=actor, lead_ids=unowned, trigger=Trigger.WAKE)
        return len(unowned)


def reroute_job_run(
    *, actor: Actor, job_id: int, lead_ids: Sequence[int], chunk: int = 500
) -> dict[str, int]:
    """Route a selection again as a Job: one transaction per chunk (a page polls the progress
    meanwhile), the outcomes counted."""
    from leadops.core.services import JobScope, job_finish, job_progress, job_start

    job_start(job_id=job_id)
    counts: dict[str, int] = {"assigned": 0, "waiting": 0, "unroutable": 0, "skipped": 0}
    markets: set[int] = set()
    for start in range(0, len(lead_ids), chunk):
        part = list(lead_ids[start : start + chunk])
        placed = leads_reroute(actor=actor, lead_ids=part, trigger=Trigger.MANUAL)
        counts["skipped"] += len(part) - len(placed)
        for result in placed.values():
            outcome = (result.routing or {}).get("outcome", "unroutable")
            counts[outcome] = counts.get(outcome, 0) + 1
        job_progress(
            job_id=job_id,
            progress=int(100 * min(len(lead_ids), start + chunk) / max(1, len(lead_ids))),
            message=f"{min(len(lead_ids), start + chunk):,} of {len(lead_ids):,} leads",
        )
    with system_context("reroute_job"):
        markets = set(
            Lead.objects.filter(pk__in=list(lead_ids)).values_list("market_id", flat=True)
        )
    job_finish(
        job_id=job_id,
        ok=True,
        result=dict(counts),
        message=", ".join(f"{n} {k}" for k, n in counts.items() if n),
        scope=JobScope(market_ids=frozenset(markets)),
    )
    return counts


def decisions_erase(*, identity: str, actor: Actor) -> int:
    """Eraser: the values routing saw of a subject's leads (attributes may hold anything about
    the person; email, phone and names are never kept) are dropped from their decisions' traces.
    Registered under a name that sorts before the leads' eraser, which blanks the lead's email
    and phone: afterwards the leads could no longer be found."""
    field, _, value = identity.partition(":")
    column = {"email": "email_norm", "phone": "phone_e164"}.get(field)
    if column is None or not value:
        return 0
    lead_ids = list(Lead.objects.filter(**{column: value}).values_list("pk", flat=True))
    scrubbed = 0
    for decision in Decision.objects.filter(lead_id__in=lead_ids).only("pk", "trace"):
        for block in decision.trace:
            for rule in block.get("rules", []):
                for condition in rule.get("conditions", []):
                    if "actual" in condition:
                        condition["actual"] = "(erased)"
        decision.save(update_fields=["trace"])
        scrubbed += 1
    return scrubbed
