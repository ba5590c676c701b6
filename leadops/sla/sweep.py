"""The SLA sweep: beat runs it every minute; it reads only what is due.

Invariant: each warning, breach and ladder step of a clock happens exactly once, however many
sweeps run, however often a task is delivered, and wherever a worker dies.
- The read is `next_at <= now` on a partial index (`sla_timer_next`), in chunks, `FOR UPDATE
  SKIP LOCKED`: two sweeps at once take different clocks, and a clock one sweep holds is
  neither waited for nor done twice by the other.
- Each step is claimed by inserting its history row with a key unique per clock (`warn`,
  `breach`, `step:2:reassign`) `ON CONFLICT DO NOTHING`; only claimed steps run, in the same
  transaction as the claim and the clock's conditional advance. A worker killed mid-step
  aborts that transaction: the claim goes with it, and the redelivered task (acks late) runs the
  step again, once.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import Entry, audit_record_many
from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.core.sql import sql_run, unnest_arrays
from leadops.markets.business_time import add_business_minutes
from leadops.sla.escalation import owners_notify
from leadops.sla.policies import InForce, versions_by_id
from leadops.sla.steps import UnknownStep, escalation_step_run
from leadops.sla.timers import calendars_for

logger = logging.getLogger(__name__)

CHUNK = 1000


@dataclass
class SweepReport:
    looked_at: int = 0
    warned: int = 0
    breached: int = 0
    steps: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        steps = ", ".join(f"{n} {name}" for name, n in sorted(self.steps.items())) or "no steps"
        return (
            f"{self.looked_at} clocks due: {self.warned} warned, {self.breached} breached, {steps}"
        )


@dataclass
class _Due:
    id: int
    lead_id: int
    market_id: int
    version_id: int
    hours_of: int | None
    state: str
    stage: int
    due_at: datetime
    warn_at: datetime
    warned_at: datetime | None
    breached_at: datetime | None
    next_at: datetime | None = None
    events: list[tuple[str, str]] = field(default_factory=list)  # (kind, key)
    was_stage: int = 0

    def __post_init__(self) -> None:
        self.was_stage = self.stage


def timers_sweep(*, actor: Actor, now: datetime | None = None, chunk: int = CHUNK) -> SweepReport:
    """Advance every clock that is due at `now` (default: the database's now), chunk by chunk,
    one transaction each."""
    report = SweepReport()
    while True:
        with system_context("sla_sweep"):
            at = now or timezone.now()
            done = _sweep_chunk(actor=actor, now=at, chunk=chunk, report=report)
        if done < chunk:
            return report


def _sweep_chunk(*, actor: Actor, now: datetime, chunk: int, report: SweepReport) -> int:
    rows = sql_run(
        "SELECT id, lead_id, market_id, version_id, hours_of_id, state, stage, due_at, warn_at,"
        " warned_at, breached_at FROM sla_timer WHERE next_at <= %b"
        " ORDER BY next_at LIMIT %b FOR UPDATE SKIP LOCKED",
        [now, chunk],
    )
    if not rows:
        return 0
    due = [_Due(*row) for row in rows]
    versions = versions_by_id({d.version_id for d in due})
    calendars = calendars_for((d.market_id, d.hours_of) for d in due)
    for d in due:
        _advance(d, versions[d.version_id], calendars[(d.market_id, d.hours_of)], now)
    claimed = _claim(due, now, actor)
    _save(due)
    _act(due, claimed, versions, actor, now, report)
    report.looked_at += len(due)
    return len(due)


def _advance(d: _Due, policy: InForce, calendar: Any, now: datetime) -> None:
    """Everything due for this clock by `now`, in order (a sweep that did not run for a while
    catches up: warn, breach and any ladder steps whose time has come)."""
    if d.state == "running" and d.warned_at is None and d.warn_at <= now:
        d.events.append(("warned", "warn"))
        d.warned_at = now
    if d.state == "running" and d.due_at <= now:
        d.events.append(("breached", "breach"))
        d.state, d.breached_at = "breached", now
    next_step = None
    if d.state == "breached":
        while d.stage < len(policy.ladder):
            name, after = policy.ladder[d.stage]
            at = add_business_minutes(calendar, d.due_at, after)
            if at > now:
                next_step = at
                break
            d.events.append(("escalated", f"step:{d.stage}:{name}"))
            d.stage += 1
    if d.state == "running":
        d.next_at = d.warn_at if d.warned_at is None else d.due_at
    else:
        d.next_at = next_step


def _claim(due: Sequence[_Due], now: datetime, actor: Actor) -> set[tuple[int, str]]:
    """Insert each event's history row; the ones inserted are this sweep's to run."""
    rows = [
        [d.id, d.market_id, kind, key, json.dumps({"lead": d.lead_id})]
        for d in due
        for kind, key in d.events
    ]
    if not rows:
        return set()
    columns = [
        ("timer_id", "bigint"),
        ("market_id", "bigint"),
        ("kind", "varchar"),
        ("key", "varchar"),
        ("detail", "jsonb"),
    ]
    typed, arrays = unnest_arrays(columns, rows)
    got = sql_run(
        "INSERT INTO sla_timerstep (timer_id, market_id, kind, key, detail, at, actor)"
        f" SELECT v.*, %b, %b FROM unnest({typed}) v"
        " ON CONFLICT (timer_id, key) WHERE key IS NOT NULL DO NOTHING"
        " RETURNING timer_id, key",
        [now, actor_ref(actor).label[:150], *arrays],
    )
    return {(timer_id, key) for timer_id, key in got}


def _save(due: Sequence[_Due]) -> None:
    columns = [
        ("id", "bigint"),
        ("state", "varchar"),
        ("stage", "smallint"),
        ("warned_at", "timestamptz"),
        ("breached_at", "timestamptz"),
        ("next_at", "timestamptz"),
        ("was_stage", "smallint"),
    ]
    rows = [
        [d.id, d.state, d.stage, d.warned_at, d.breached_at, d.next_at, d.was_stage] for d in due
    ]
    typed, arrays = unnest_arrays(columns, rows)
    # Conditional: only a clock still open and still at the stage this sweep read moves (the
    # rows are locked, so this holds against anything but this very transaction). Joined on
    # the primary key: a `next_at <= now` condition would walk every due entry again
    # (bench/README.md, SLA sweep).
    sql_run(
        "UPDATE sla_timer t SET state = v.state, stage = v.stage, warned_at = v.warned_at,"
        " breached_at = v.breached_at, next_at = v.next_at"
        f" FROM unnest({typed}) v (id, state, stage, warned_at, breached_at, next_at, was_stage)"
        " WHERE t.id = v.id AND t.closed_at IS NULL AND t.stage = v.was_stage",
        arrays,
    )


def _act(
    due: Sequence[_Due],
    claimed: set[tuple[int, str]],
    versions: dict[int, InForce],
    actor: Actor,
    now: datetime,
    report: SweepReport,
) -> None:
    """Run the claimed steps, set-based: one call per step for all the leads that reached it."""
    entries: list[Entry] = []
    warned: list[int] = []
    steps: dict[str, list[int]] = defaultdict(list)
    for d in due:
        policy = versions[d.version_id]
        for kind, key in d.events:
            if (d.id, key) not in claimed:
                continue
            data: dict[str, Any] = {
                "lead": d.lead_id,
                "policy": policy.label,
                "due_at": d.due_at.isoformat(),
            }
            if kind == "warned":
                warned.append(d.lead_id)
                report.warned += 1
            elif kind == "breached":
                report.breached += 1
            else:
                name = key.split(":", 2)[2]
                steps[name].append(d.lead_id)
                report.steps[name] = report.steps.get(name, 0) + 1
                data["step"] = name
            entries.append(
                Entry(
                    action=f"sla.{kind}",
                    target=("sla.timer", str(d.id)),
                    market_id=d.market_id,
                    data=data,
                )
            )
    audit_record_many(actor=actor, entries=entries)
    if warned:
        owners_notify(lead_ids=warned, reason="sla_warned", now=now)
    for name, lead_ids in steps.items():
        # A step that refuses (no one else to reassign to, an unknown step after a deploy)
        # must not hold every other clock back: its savepoint rolls back alone, its claim
        # stays with the error on it (the step is not retried for ever), and the log says so.
        try:
            with transaction.atomic():
                escalation_step_run(name, actor=actor, lead_ids=lead_ids)
        except (ApplicationError, UnknownStep, LookupError) as exc:
            logger.warning("SLA step %s failed for leads %s: %s", name, lead_ids, exc)
            sql_run(
                "UPDATE sla_timerstep SET detail = detail || jsonb_build_object('error', %b::text)"
                " WHERE key LIKE %b AND at = %b AND (detail->>'lead')::bigint = ANY(%b)",
                [str(exc)[:300], f"step:%:{name}", now, lead_ids],
            )
