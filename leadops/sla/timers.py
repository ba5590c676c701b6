"""First-response clocks: started, paused and resumed, met, closed.

A clock starts in the transaction that makes the lead (intake, through `IntakeClock`) or gives
it an owner (`lead.assigned` announcements: a policy that starts on assignment, or a restart on
reassignment). Business time is turned into instants here — `due_at` and `warn_at`, in the
calendar the policy names (the market's, or the owner's own hours) — so the sweep only compares
instants. Nothing here is per lead inside a set: one statement starts any number of clocks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import Entry, audit_record, audit_record_many
from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.core.sql import sql_run, unnest_arrays
from leadops.leads.fields import FACT_COLUMNS
from leadops.leads.hooks import StartingLead
from leadops.leads.models import Activity, Lead
from leadops.markets.business_time import (
    ALWAYS_OPEN_UTC,
    Calendar,
    add_business_minutes,
    business_seconds_between,
)
from leadops.markets.calendars import calendars_in_force
from leadops.markets.models import TeamMember
from leadops.markets.selectors import markets_by_id
from leadops.markets.teams import hours_calendar
from leadops.sla.models import PolicyVersion, Timer, TimerStep
from leadops.sla.policies import InForce, policies_in_force, policy_pick, versions_by_id

OPEN_STATES = (Timer.State.RUNNING, Timer.State.PAUSED, Timer.State.BREACHED)
# Statuses that end the need for a first response.
CLOSING_STATUSES: dict[str, str] = {
    Lead.Status.DISQUALIFIED: "disqualified",
    Lead.Status.CONVERTED: "converted",
}


# --- calendars --------------------------------------------------------------------------------


def calendars_for(
    pairs: Iterable[tuple[int, int | None]],
) -> dict[tuple[int, int | None], Calendar]:
    """The calendar of each (market id, user id whose hours count or None), in one query for
    all the users: a member's own hours over the market's holidays, else the market's."""
    pairs = set(pairs)
    markets = calendars_in_force()
    zones = markets_by_id()
    users = {user_id for _, user_id in pairs if user_id is not None}
    hours: dict[tuple[int, int], str] = {}
    if users:
        members = TeamMember.objects.filter(user_id__in=users, is_active=True).exclude(hours="")
        for market_id, user_id, text in members.values_list("market_id", "user_id", "hours"):
            hours.setdefault((market_id, user_id), text)
    found = {}
    for market_id, user_id in pairs:
        market = markets.get(market_id, ALWAYS_OPEN_UTC)
        own = hours.get((market_id, user_id)) if user_id is not None else None
        zone = zones[market_id].timezone if market_id in zones else "UTC"
        found[(market_id, user_id)] = hours_calendar(own, market, zone) if own else market
    return found


def deadlines(policy: InForce, calendar: Calendar, start: datetime) -> tuple[datetime, datetime]:
    """(warn_at, due_at) of a clock started at `start`."""
    due = add_business_minutes(calendar, start, policy.minutes)
    warn = add_business_minutes(calendar, start, policy.minutes * policy.warn_percent / 100)
    return warn, due


def summary(*, policy: str, due_at: datetime, state: str) -> dict[str, Any]:
    """The `sla` of an answer: the policy (key and version), when a response is due, the state."""
    return {"policy": policy, "due_at": due_at.isoformat(), "state": state}


# --- starting -----------------------------------------------------------------------------------

TIMER_COLUMNS = [
    ("lead_id", "bigint"),
    ("market_id", "bigint"),
    ("version_id", "bigint"),
    ("choice", "jsonb"),
    ("owner_id", "bigint"),
    ("hours_of_id", "bigint"),
    ("started_at", "timestamptz"),
    ("due_at", "timestamptz"),
    ("warn_at", "timestamptz"),
]


@dataclass(frozen=True)
class Started:
    lead_id: int
    timer_id: int
    policy: str
    due_at: datetime


def timers_start(
    *, actor: Actor, leads: Sequence[StartingLead], now: datetime, trigger: str
) -> dict[int, Started]:
    """Start a clock for each lead a policy in force applies to, in one statement (with its
    `started` history rows), in the caller's transaction. `trigger` is "receipt" (intake, a
    held lead released: policies that start on receipt, and those that start on assignment
    when the lead already has an owner), "assigned" (policies that start on assignment) or
    "restart" (any policy: a new owner's fresh clock). A lead that already has an open clock
    keeps it (the partial unique index decides under concurrency, not a read)."""
    picked: list[tuple[StartingLead, InForce, dict[str, Any]]] = []
    for lead in leads:
        found = policy_pick(lead)
        if found is None:
            continue
        policy, choice = found
        on_receipt = policy.starts_on == PolicyVersion.Start.RECEIPT
        if trigger == "receipt" and not (on_receipt or lead.owner_id is not None):
            continue
        if trigger == "assigned" and on_receipt:
            continue
        picked.append((lead, policy, choice))
    if not picked:
        return {}
    calendars = calendars_for(
        (lead.market_id, lead.owner_id if policy.hours == "owner" else None)
        for lead, policy, _ in picked
    )
    rows = []
    # Every clock of a call starts at `now`: leads of one policy and one calendar share their
    # deadlines (a batch of a thousand computes a handful).
    shared: dict[tuple[int, int, int | None], tuple[datetime, datetime]] = {}
    for lead, policy, choice in picked:
        hours_of = lead.owner_id if policy.hours == "owner" else None
        key = (policy.id, lead.market_id, hours_of)
        if key not in shared:
            shared[key] = deadlines(policy, calendars[(lead.market_id, hours_of)], now)
        warn, due = shared[key]
        choice = {**choice, "trigger": trigger}
        row = [lead.lead_id, lead.market_id, policy.id, json.dumps(choice), lead.owner_id]
        rows.append([*row, hours_of, now, due, warn])
    typed, arrays = unnest_arrays(TIMER_COLUMNS, rows)
    names = ", ".join(name for name, _ in TIMER_COLUMNS)
    made = sql_run(
        f"WITH v ({names}) AS (SELECT * FROM unnest({typed})),"
        f" ins AS (INSERT INTO sla_timer ({names}, state, next_at, stage, paused_seconds,"
        "   pause_reason, closed_reason)"
        f"   SELECT {names}, 'running', warn_at, 0, 0, '', '' FROM v"
        "   ON CONFLICT (lead_id) WHERE closed_at IS NULL DO NOTHING"
        "   RETURNING id, lead_id, market_id, started_at, due_at, version_id),"
        " st AS (INSERT INTO sla_timerstep (timer_id, market_id, kind, at, actor, detail)"
        "   SELECT id, market_id, 'started', started_at, %b,"
        "     jsonb_build_object('trigger', %b::text) FROM ins)"
        " SELECT id, lead_id, due_at, version_id FROM ins",
        [*arrays, actor_ref(actor).label[:150], trigger],
    )
    labels = {policy.id: policy.label for _, policy, _ in picked}
    return {
        lead_id: Started(lead_id, timer_id, labels[version_id], due_at)
        for timer_id, lead_id, due_at, version_id in made
    }


def starting_leads(lead_ids: Sequence[int]) -> list[StartingLead]:
    """What policies are matched on, read from stored leads (one query)."""
    columns = ("id", "market_id", "score", "owner_id", "team_id", "first_source__slug")
    rows = Lead.objects.filter(pk__in=lead_ids, merged_into__isnull=True).values_list(
        *columns, *FACT_COLUMNS
    )
    return [
        StartingLead(
            lead_id=row[0],
            market_id=row[1],
            score=row[2],
            owner_id=row[3],
            team_id=row[4],
            source=row[5],
            fields={name: row[6 + i] or "" for i, name in enumerate(FACT_COLUMNS)},
        )
        for row in rows
    ]


class IntakeClock:
    """`leads.hooks.Clock` for the intake door: clocks of new leads in ingest's transaction."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def wants(self, *, market_id: int) -> bool:
        return market_id in policies_in_force()

    def start(self, leads: list[StartingLead], now: Any) -> dict[int, dict[str, Any]]:
        started = timers_start(actor=self.actor, leads=leads, now=now, trigger="receipt")
        return {
            lead_id: summary(policy=s.policy, due_at=s.due_at, state=Timer.State.RUNNING)
            for lead_id, s in started.items()
        }


# --- reacting to leads -------------------------------------------------------------------------


def _close(
    timers: Sequence[Timer], *, reason: str, now: datetime, actor: Actor, state: str = ""
) -> None:
    """Close open clocks (a breached one keeps its state: the breach stays on record)."""
    if not timers:
        return
    label = actor_ref(actor).label[:150]
    for timer in timers:
        timer.closed_at, timer.closed_reason, timer.next_at = now, reason, None
        if state and timer.state != Timer.State.BREACHED:
            timer.state = state
    Timer.objects.bulk_update(timers, ["closed_at", "closed_reason", "next_at", "state"])
    TimerStep.objects.bulk_create(
        TimerStep(
            timer=t,
            market_id=t.market_id,
            kind="closed",
            at=now,
            actor=label,
            detail={"reason": reason},
        )
        for t in timers
    )
    audit_record_many(
        actor=actor,
        entries=[
            Entry(
                action="sla.closed",
                target=("sla.timer", str(t.pk)),
                market_id=t.market_id,
                data={"lead": t.lead_id, "reason": reason, "state": t.state},
            )
            for t in timers
        ],
    )


def _open_timers(lead_ids: Sequence[int]) -> list[Timer]:
    return list(
        Timer.objects.select_for_update().filter(lead_id__in=lead_ids, closed_at__isnull=True)
    )


def on_assigned(*, actor: Actor, lead_ids: Sequence[int], now: datetime) -> None:
    """A lead got an owner: start a clock where its policy starts on assignment and it never
    had one; where its open clock's policy restarts on reassignment and the owner changed,
    close that clock and start a fresh one for the new owner."""
    if not lead_ids:
        return
    with system_context("sla"):
        if not _any_policy():
            return
        leads = {lead.lead_id: lead for lead in starting_leads(lead_ids)}
        open_by_lead = {t.lead_id: t for t in _open_timers(list(leads))}
        versions = versions_by_id({t.version_id for t in open_by_lead.values()})
        restart = [
            t
            for t in open_by_lead.values()
            if versions[t.version_id].restart_on_reassign
            and t.owner_id != leads[t.lead_id].owner_id
        ]
        _close(restart, reason="reassigned", now=now, actor=actor)
        if restart:
            timers_start(
                actor=actor,
                leads=[leads[t.lead_id] for t in restart],
                now=now,
                trigger="restart",
            )
        # A clock closed because its lead moved market was the old market's promise.
        had = set(
            Timer.objects.filter(lead_id__in=list(leads))
            .exclude(closed_reason="moved")
            .values_list("lead_id", flat=True)
        )
        fresh = [lead for lead_id, lead in leads.items() if lead_id not in had]
        if fresh:
            timers_start(actor=actor, leads=fresh, now=now, trigger="assigned")
        # A clock that keeps running follows the lead to its new owner (for the board).
        keep = [t for t in open_by_lead.values() if t not in restart]
        for timer in keep:
            timer.owner_id = leads[timer.lead_id].owner_id
        Timer.objects.bulk_update(keep, ["owner_id"])


def on_status(
    *, actor: Actor, lead_ids: Sequence[int], before: str, after: str, now: datetime
) -> None:
    """A closed lead needs no response (its clocks close); a held lead released starts its
    clock as if it had just arrived."""
    with system_context("sla"):
        if not _any_policy():
            return
        if after in CLOSING_STATUSES:
            _close(
                _open_timers(lead_ids),
                reason=CLOSING_STATUSES[after],
                now=now,
                actor=actor,
                state=Timer.State.CLOSED,
            )
        elif before == Lead.Status.HELD:
            timers_start(actor=actor, leads=starting_leads(lead_ids), now=now, trigger="receipt")


def on_moved(*, actor: Actor, lead_ids: Sequence[int], now: datetime) -> None:
    """A lead put in another market takes its clocks' history along (whoever reads the lead
    reads its clocks; nobody else does). Its open clock was the old market's promise: it
    closes, and the new market's policy starts a clock now (one that starts on assignment
    starts when routing gives it an owner there)."""
    with system_context("sla"):
        if not _any_policy():
            return
        sql_run(
            "UPDATE sla_timer t SET market_id = l.market_id FROM leads_lead l"
            " WHERE l.id = t.lead_id AND t.lead_id = ANY(%b) AND t.market_id <> l.market_id",
            [list(lead_ids)],
        )
        sql_run(
            "UPDATE sla_timerstep s SET market_id = t.market_id FROM sla_timer t"
            " WHERE t.id = s.timer_id AND t.lead_id = ANY(%b) AND s.market_id <> t.market_id",
            [list(lead_ids)],
        )
        _close(_open_timers(lead_ids), reason="moved", now=now, actor=actor)
        timers_start(actor=actor, leads=starting_leads(lead_ids), now=now, trigger="receipt")


def on_merged(*, actor: Actor, lead_ids: Sequence[int], now: datetime) -> None:
    with system_context("sla"):
        if not _any_policy():
            return
        _close(
            _open_timers(lead_ids), reason="merged", now=now, actor=actor, state=Timer.State.CLOSED
        )


def qualifies(activity: Activity, policy: InForce, owner_id: int | None) -> str:
    """Why an activity does not count as the first response ("" when it does)."""
    if activity.automated:
        return "automated"
    if activity.kind not in policy.activity_kinds:
        return f"{activity.kind} does not count under {policy.label}"
    if policy.response_by == PolicyVersion.ResponseBy.OWNER and (
        owner_id is None or activity.by_user_id != owner_id
    ):
        return "not by the owner"
    return ""


def on_activity(*, actor: Actor, activity: Activity) -> None:
    """The first qualifying activity meets the clock. One dated before the deadline that
    arrives after the breach turns it into "met late, recorded" (escalations already taken
    stay on record); one dated after the deadline answers a breached clock."""
    with system_context("sla"):
        if not _any_policy():
            return
        timer = (
            Timer.objects.select_for_update()
            .filter(lead_id=activity.lead_id, closed_at__isnull=True)
            .first()
        )
        if timer is None or activity.occurred_at < timer.started_at:
            return
        policy = versions_by_id({timer.version_id})[timer.version_id]
        owner_id = Lead.objects.filter(pk=activity.lead_id).values_list("owner_id", flat=True)[0]
        if qualifies(activity, policy, owner_id):
            return
        now = timezone.now()
        on_time = activity.occurred_at <= timer.due_at
        if timer.state == Timer.State.BREACHED:
            state = Timer.State.MET_LATE if on_time else Timer.State.BREACHED
            kind = "met_late" if on_time else "responded"
        else:
            state, kind = Timer.State.MET, "met"
        if timer.state == Timer.State.PAUSED:
            _resume_into(timer, now)
        timer.state, timer.met_at = state, activity.occurred_at
        timer.closed_at, timer.closed_reason, timer.next_at = now, kind, None
        timer.save()
        detail = {"activity": activity.pk, "occurred_at": activity.occurred_at.isoformat()}
        _step(timer, kind, now, actor, detail)
        audit_record(
            actor=actor,
            action=f"sla.{kind}",
            target=timer,
            market_id=timer.market_id,
            data={
                "lead": timer.lead_id,
                "activity": activity.pk,
                "due_at": timer.due_at.isoformat(),
                "occurred_at": activity.occurred_at.isoformat(),
            },
        )


def _any_policy() -> bool:
    """Cheap check first: with no policy published anywhere and no clock, nothing to do (one
    cached read, and one indexed probe until the first clock exists)."""
    return bool(policies_in_force()) or Timer.objects.exists()


# --- pausing ------------------------------------------------------------------------------------


def timer_calendar(timer: Timer) -> Calendar:
    return calendars_for([(timer.market_id, timer.hours_of_id)])[
        (timer.market_id, timer.hours_of_id)
    ]


@transaction.atomic
def lead_hold(*, actor: Actor, lead: Lead, reason: str) -> Timer:
    """Put a lead on hold ("waiting on the customer"): its clock stops counting business time
    until it is resumed. A flag with a reason on the clock, not a lead status."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("Say why the lead is on hold.", code="reason_required")
    timer = Timer.objects.select_for_update().filter(lead=lead, closed_at__isnull=True).first()
    if timer is None or timer.state != Timer.State.RUNNING:
        raise ApplicationError(
            "Only a running clock can be paused"
            + (
                f": this one is {timer.get_state_display().lower()}."
                if timer
                else ": none is open."
            ),
            code="not_running",
        )
    now = timezone.now()
    timer.state, timer.paused_at, timer.pause_reason, timer.next_at = (
        Timer.State.PAUSED,
        now,
        reason[:200],
        None,
    )
    timer.save(update_fields=["state", "paused_at", "pause_reason", "next_at"])
    _step(timer, "paused", now, actor, {"reason": reason[:200]})
    audit_record(
        actor=actor,
        action="sla.paused",
        target=timer,
        market_id=timer.market_id,
        data={"lead": lead.pk, "reason": reason[:200]},
    )
    return timer


def _resume_into(timer: Timer, now: datetime) -> float:
    """Move the deadlines on by the business time the clock was on hold (the time left is the
    time left when it stopped). Returns the business seconds paused."""
    assert timer.paused_at is not None
    calendar = timer_calendar(timer)
    paused = business_seconds_between(calendar, timer.paused_at, now)
    left = business_seconds_between(calendar, timer.paused_at, timer.due_at)
    warn_left = business_seconds_between(calendar, timer.paused_at, timer.warn_at)
    timer.due_at = add_business_minutes(calendar, now, max(left, 0) / 60)
    if timer.warned_at is None:
        timer.warn_at = add_business_minutes(calendar, now, max(warn_left, 0) / 60)
    timer.paused_seconds += paused
    timer.state, timer.paused_at, timer.pause_reason = Timer.State.RUNNING, None, ""
    timer.next_at = timer.warn_at if timer.warned_at is None else timer.due_at
    return paused


@transaction.atomic
def lead_resume(*, actor: Actor, lead: Lead) -> Timer:
    timer = Timer.objects.select_for_update().filter(lead=lead, closed_at__isnull=True).first()
    if timer is None or timer.state != Timer.State.PAUSED:
        raise ApplicationError("The lead's clock is not on hold.", code="not_paused")
    now = timezone.now()
    paused = _resume_into(timer, now)
    timer.save()
    _step(timer, "resumed", now, actor, {"paused_business_seconds": round(paused)})
    audit_record(
        actor=actor,
        action="sla.resumed",
        target=timer,
        market_id=timer.market_id,
        data={"lead": lead.pk, "due_at": timer.due_at.isoformat()},
    )
    return timer


def _step(timer: Timer, kind: str, at: datetime, actor: Actor, detail: dict[str, Any]) -> None:
    TimerStep.objects.create(
        timer=timer,
        market_id=timer.market_id,
        kind=kind,
        at=at,
        actor=actor_ref(actor).label[:150],
        detail=detail,
    )


def timers_erase(*, identity: str, actor: Actor) -> int:
    """Eraser: an erased person's leads need no response; their open clocks close. A hold's
    reason is typed by a person and may name the customer ("waiting for Ada's answer"): it is
    blanked on the clocks and their history. Registered under a name that sorts before the
    leads' eraser, which blanks the emails this finds the leads by."""
    field, _, value = identity.partition(":")
    column = {"email": "email_norm", "phone": "phone_e164"}.get(field)
    if column is None or not value:
        return 0
    lead_ids = list(Lead.objects.filter(**{column: value}).values_list("pk", flat=True))
    timers = _open_timers(lead_ids)
    _close(timers, reason="erased", now=timezone.now(), actor=actor, state=Timer.State.CLOSED)
    scrubbed = (
        Timer.objects.filter(lead_id__in=lead_ids).exclude(pause_reason="").update(pause_reason="")
    )
    scrubbed += TimerStep.objects.filter(
        timer__lead_id__in=lead_ids, kind="paused", detail__has_key="reason"
    ).update(detail={"reason": "(erased)"})
    return len(timers) + scrubbed
