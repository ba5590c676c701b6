"""Routing decisions for many leads at once: rules, then an owner, then the writes.

For a batch, in this order (so locks are taken late and in one order, and nothing is per lead):
1. every lead is evaluated against its market's published version, then the global fallback
   (pure: the compiled versions, teams and calendars are cached per config generation);
2. the loads of capped members and of least-loaded teams are read under a row lock on those
   members (`FOR NO KEY UPDATE`, id order): two transactions cannot both fill the last slot
   under a cap, while teams without caps never wait for each other;
3. the round-robin pointers of the teams used are moved by the number of leads each takes,
   in one statement, last: a pointer row stays locked only from there to COMMIT, and every
   lead gets its own slot, so picks stay fair under any concurrency;
4. one statement assigns the leads (through `leads_assign_many`), one inserts the decisions;
   unroutable leads are filed set-based; the audit entries join the caller's.

If the leads of a batch fill a capped member up, the leads left over are placed again from
step 1 with that member full (a second round; rare).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadops.core.sql import sql_run
from leadops.markets.business_time import ALWAYS_OPEN_UTC, Calendar, is_open_at, open_spans
from leadops.markets.selectors import markets_by_id
from routing.engine import CompiledRule
from routing.models import Decision
from routing.world import (
    Member,
    Published,
    TeamInfo,
    market_calendar_by_id,
    published_versions,
    teams_by_name,
)

OPEN_STATUSES = ("new", "assigned", "working")
MAX_ROUNDS = 4


@dataclass(frozen=True)
class RouteRequest:
    lead_id: int
    market_id: int
    facts: dict[str, Any]
    # Reassigning (an SLA escalation): the current owner is not a candidate.
    exclude_user: int | None = None


@dataclass
class Plan:
    """What routing decided (or is deciding) for one lead."""

    request: RouteRequest
    outcome: str = ""
    reason: str = ""
    version: Published | None = None
    rule: CompiledRule | None = None
    team: TeamInfo | None = None
    owner: Member | None = None
    pick: str = ""
    eligible: list[Member] = field(default_factory=list)
    wake_at: datetime | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    skipped_rules: list[dict[str, str]] = field(default_factory=list)
    slot: int | None = None
    tags: list[str] = field(default_factory=list)
    exception_note: str = ""

    def summary(self) -> dict[str, Any]:
        """The short form the API answers with."""
        return {
            "outcome": self.outcome,
            "version": self.version.number if self.version else None,
            "rule": self.rule.id if self.rule else None,
            "team": self.team.name if self.team else None,
            "reason": self.reason,
            "trace": short_trace(self),
        }


def short_trace(plan: Plan) -> list[str]:
    lines = []
    for block in plan.trace:
        for entry in block.get("rules", []):
            if entry["ok"]:
                lines.append(f"v{block['version']} rule {entry['rule']} matched")
    for skip in plan.skipped_rules:
        lines.append(f"rule {skip['rule']} could not place the lead: {skip['why']}")
    for cand in plan.candidates:
        if cand.get("skipped"):
            lines.append(f"skipped {cand['user']}: {cand['skipped']}")
    return lines[:20]


class _Loads:
    """Open leads and today's assignments per user, read under lock, updated as the batch
    assigns."""

    def __init__(self, *, lock: bool = True) -> None:
        # A simulation reads loads without locking anyone (it decides nothing).
        self.lock = lock
        self.open: dict[int, int] = {}
        self.today: dict[int, int] = {}
        self.known: set[int] = set()  # member ids whose loads are read (and rows locked)
        self.full: set[int] = set()  # member ids filled up by this batch

    def read(self, members: Sequence[Member], now: datetime) -> None:
        wanted = sorted({m.id for m in members} - self.known)
        if not wanted:
            return
        by_id = {m.id: m for m in members}
        if self.lock:
            sql_run(
                "SELECT id FROM markets_teammember WHERE id = ANY(%b) ORDER BY id"
                " FOR NO KEY UPDATE",
                [wanted],
            )
        users = [by_id[i].user_id for i in wanted]
        sinces = [_day_start(by_id[i], now) for i in wanted]
        # A new statement after the lock: under READ COMMITTED it sees what the previous
        # holder of the lock committed.
        rows = sql_run(
            "SELECT u, (SELECT count(*) FROM leads_lead l WHERE l.owner_id = u"
            "   AND l.status = ANY(%b)),"
            " (SELECT count(*) FROM routing_decision d WHERE d.owner_id = u"
            "   AND d.outcome = 'assigned' AND d.decided_at >= s)"
            " FROM unnest(%b::bigint[], %b::timestamptz[]) AS x(u, s)",
            [list(OPEN_STATUSES), users, sinces],
        )
        for user_id, open_count, today in rows:
            self.open[user_id] = int(open_count)
            self.today[user_id] = int(today)
        self.known.update(wanted)

    def at_cap(self, member: Member) -> str:
        if member.cap_open is not None and self.open.get(member.user_id, 0) >= member.cap_open:
            return f"at cap: {self.open.get(member.user_id, 0)} open of {member.cap_open}"
        if member.cap_daily is not None and self.today.get(member.user_id, 0) >= member.cap_daily:
            return f"at daily cap: {self.today.get(member.user_id, 0)} of {member.cap_daily}"
        return ""

    def take(self, member: Member) -> None:
        self.open[member.user_id] = self.open.get(member.user_id, 0) + 1
        self.today[member.user_id] = self.today.get(member.user_id, 0) + 1


def _day_start(member: Member, now: datetime) -> datetime:
    local = now.astimezone(member.calendar.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class _Clock:
    """`is_open_at` memoized for one batch: every lead of it is routed at the same moment."""

    def __init__(
        self,
        now: datetime,
        calendars: dict[int, Calendar] | None = None,
        open_at: Callable[[Calendar, datetime], bool] = is_open_at,
    ) -> None:
        self.now = now
        self._open: dict[int, bool] = {}
        # Market calendars as of another moment (a backtest); None: those in force.
        self.calendars = calendars
        # How "open?" is answered (a backtest looks it up in spans it computed once).
        self.open_at = open_at

    def open(self, member: Member) -> bool:
        key = id(member.calendar)
        if key not in self._open:
            self._open[key] = self.open_at(member.calendar, self.now)
        return self._open[key]

    def market_open(self, market_id: int, at: datetime) -> bool:
        if self.calendars is not None:
            return self.open_at(self.calendars.get(market_id, ALWAYS_OPEN_UTC), at)
        return self.open_at(market_calendar_by_id(market_id), at)


def _versions_for(market_id: int) -> list[Published]:
    published = published_versions()
    chain = []
    if market_id in published and not markets_by_id()[market_id].is_unassigned:
        chain.append(published[market_id])
    if None in published:
        chain.append(published[None])
    return chain


def _candidates(
    team: TeamInfo, loads: _Loads, clock: _Clock, exclude_user: int | None = None
) -> tuple[list[Member], list[dict[str, Any]], bool]:
    """The members who can take a lead now, every member with why not, and whether the team
    is only closed (someone would be available in their working hours)."""
    eligible, described, closed_only = [], [], False
    for m in team.members:
        why = ""
        if m.user_id == exclude_user:
            why = "current owner (reassigning)"
        elif not m.is_active:
            why = "inactive"
        elif m.away_at(clock.now):
            why = "out of office"
        elif not clock.open(m):
            why = "outside working hours"
            closed_only = True
        elif m.id in loads.full:
            why = "filled by this batch"
        elif m.id in loads.known:
            why = loads.at_cap(m)
        entry: dict[str, Any] = {"member": m.id, "user": m.username, "weight": m.weight}
        if m.id in loads.known:
            entry.update(
                open=loads.open.get(m.user_id),
                today=loads.today.get(m.user_id),
                cap_open=m.cap_open,
                cap_daily=m.cap_daily,
            )
        if why:
            entry["skipped"] = why
        else:
            eligible.append(m)
        described.append(entry)
    return eligible, described, closed_only and not eligible


def _next_open(team: TeamInfo, now: datetime) -> datetime | None:
    """The earliest moment an active member not away is in their hours."""
    starts = []
    for m in team.members:
        if not m.is_active:
            continue
        for start, _end in open_spans(m.calendar, now):
            if not m.away_at(start):
                starts.append(start)
                break
    return min(starts) if starts else None


def _needs_loads(team: TeamInfo, pick: str) -> list[Member]:
    if pick == "least_loaded":
        return list(team.members)
    return [m for m in team.members if m.cap_open is not None or m.cap_daily is not None]


def _evaluate(
    plan: Plan,
    loads: _Loads,
    clock: _Clock,
    versions: Sequence[Published] | None = None,
    teams: dict[tuple[int, str], TeamInfo] | None = None,
    trace: bool = True,
) -> list[Member] | None:
    """Walk the rules for one lead until one places it (the published versions for its market,
    or `versions`, e.g. a draft being simulated). Returns members whose loads must be read
    first (the caller reads them and asks again), or None when the plan is decided."""
    req = plan.request
    plan.trace, plan.candidates, plan.skipped_rules, plan.tags = [], [], [], []
    market = markets_by_id()[req.market_id]
    teams = teams_by_name() if teams is None else teams
    for version in _versions_for(req.market_id) if versions is None else versions:
        block: dict[str, Any] = {
            "version": version.number,
            "version_id": version.version_id,
            "rules": [],
            "skipped_by_index": 0,
        }
        plan.trace.append(block)
        after = -1
        while True:
            ev = version.compiled.evaluate(
                req.facts,
                at=clock.now,
                is_open=lambda at: clock.market_open(req.market_id, at),
                after=after,
                trace=trace,
            )
            block["rules"].extend(ev.trace)
            block["skipped_by_index"] += ev.skipped_by_index
            rule = ev.rule
            if rule is None:
                break
            after = rule.position
            then = rule.then
            plan.tags.extend(then.get("tags", []))
            plan.version, plan.rule = version, rule
            if then.get("exception"):
                plan.outcome = Decision.Outcome.UNROUTABLE
                plan.exception_note = str(then["exception"])
                plan.reason = f"rule {rule.id} asks a person to look: {then['exception']}"
                return None
            if "owner" in then:
                placed = _named(plan, then, teams, clock, loads, market.id)
                if placed is not None:
                    return placed
                if plan.outcome:
                    return None
                continue
            if "team" not in then:
                continue  # a rule that only tags or notifies: the next rule places the lead
            team = teams.get((req.market_id, then["team"]))
            if team is None:
                plan.skipped_rules.append(
                    {"rule": rule.id, "why": f"no team {then['team']!r} in {market.code}"}
                )
                continue
            pick = then.get("pick", "round_robin")
            unknown = [m for m in _needs_loads(team, pick) if m.id not in loads.known]
            if unknown:
                return unknown
            eligible, described, closed_only = _candidates(team, loads, clock, req.exclude_user)
            plan.candidates = described
            if eligible:
                plan.team, plan.pick, plan.eligible = team, pick, eligible
                plan.outcome = Decision.Outcome.ASSIGNED
                return None
            if closed_only and then.get("when_closed") == "wait":
                plan.team = team
                plan.wake_at = _next_open(team, clock.now)
                if plan.wake_at is not None:
                    plan.outcome = Decision.Outcome.WAITING
                    plan.reason = (
                        f"rule {rule.id}: {team.name} is closed; waits until "
                        f"{plan.wake_at:%Y-%m-%d %H:%M} UTC"
                    )
                    return None
            plan.skipped_rules.append({"rule": rule.id, "why": f"nobody available in {team.name}"})
    plan.outcome = Decision.Outcome.UNROUTABLE
    plan.version = plan.version if plan.rule else None
    if plan.skipped_rules:
        plan.reason = "no eligible owner: " + "; ".join(
            f"{s['rule']}: {s['why']}" for s in plan.skipped_rules
        )
    else:
        plan.reason = "no rule matched"
    return None


def _named(
    plan: Plan,
    then: dict[str, Any],
    teams: dict[tuple[int, str], TeamInfo],
    clock: _Clock,
    loads: _Loads,
    market_id: int,
) -> list[Member] | None:
    """A rule naming a person: they take the lead if available in a team of the market."""
    assert plan.rule is not None
    username = then["owner"]
    wanted = then.get("team")
    for team in teams.values():
        if team.market_id != market_id or (wanted and team.name != wanted):
            continue
        for m in team.members:
            if m.username != username:
                continue
            capped = m.cap_open is not None or m.cap_daily is not None
            if capped and m.id not in loads.known:
                return [m]
            eligible, described, _closed = _candidates(
                TeamInfo(team.id, team.market_id, team.name, (m,)),
                loads,
                clock,
                plan.request.exclude_user,
            )
            plan.candidates = described
            if eligible:
                plan.team, plan.owner, plan.pick = team, m, "named"
                plan.outcome = Decision.Outcome.ASSIGNED
                return None
    plan.skipped_rules.append({"rule": plan.rule.id, "why": f"{username} is not available"})
    return None


def _weighted_order(members: list[Member]) -> list[Member]:
    """A smooth weighted round-robin cycle: each member appears `weight` times, spread out."""
    total = sum(m.weight for m in members)
    current = {m.id: 0 for m in members}
    cycle = []
    for _ in range(total):
        for m in members:
            current[m.id] += m.weight
        best = max(members, key=lambda m: (current[m.id], -m.id))
        current[best.id] -= total
        cycle.append(best)
    return cycle


def _take_pointers(counts: dict[TeamInfo, int]) -> dict[int, int]:
    """Move each team's pointer by its count in one statement (team id order, so two batches
    lock pointer rows in the same order); each team's position after the move."""
    if not counts:
        return {}
    teams = sorted(counts, key=lambda t: t.id)
    rows = sql_run(
        "INSERT INTO routing_pointer (team_id, market_id, position)"
        " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[])"
        " ON CONFLICT (team_id) DO UPDATE SET position = routing_pointer.position"
        " + EXCLUDED.position RETURNING team_id, position",
        [[t.id for t in teams], [t.market_id for t in teams], [counts[t] for t in teams]],
    )
    return {team_id: int(position) for team_id, position in rows}


def _pick(plans: list[Plan], loads: _Loads) -> list[Plan]:
    """Owners for the plans that have an eligible list; the plans left without one (every
    eligible member filled up by this batch) come back to be placed again."""
    by_team: dict[TeamInfo, list[Plan]] = defaultdict(list)
    for plan in plans:
        round_robin = plan.pick in ("round_robin", "weighted")
        if plan.outcome == Decision.Outcome.ASSIGNED and plan.owner is None and round_robin:
            by_team[plan.team].append(plan)  # type: ignore[index]
    ends = _take_pointers({team: len(group) for team, group in by_team.items()})
    for team, group in by_team.items():
        start = ends[team.id] - len(group)
        for k, plan in enumerate(group):
            plan.slot = start + k
    again = []
    for plan in plans:
        if plan.outcome != Decision.Outcome.ASSIGNED:
            continue
        if plan.owner is None:
            plan.owner = _choose(plan, loads)
        if plan.owner is None:
            again.append(plan)
            continue
        loads.take(plan.owner)
        m = plan.owner
        if m.id in loads.known and loads.at_cap(m):
            loads.full.add(m.id)
        rule_id = plan.rule.id if plan.rule else "?"
        if plan.pick == "named":
            plan.reason = plan.reason or f"rule {rule_id} names {m.username}"
        else:
            plan.reason = plan.reason or (
                f"rule {rule_id} → {plan.team.name if plan.team else ''}, "
                f"{plan.pick.replace('_', ' ')}"
            )
    return again


def _choose(plan: Plan, loads: _Loads) -> Member | None:
    pool = [m for m in plan.eligible if m.id not in loads.full]
    if not pool:
        return None
    if plan.pick == "least_loaded":
        return min(pool, key=lambda m: (loads.open.get(m.user_id, 0), m.id))
    cycle = _weighted_order(plan.eligible) if plan.pick == "weighted" else plan.eligible
    slot = plan.slot or 0
    for k in range(len(cycle)):
        m = cycle[(slot + k) % len(cycle)]
        if m.id not in loads.full:
            if k:
                plan.candidates.append({"user": cycle[slot % len(cycle)].username, "slot": slot})
            return m
    return None


def plans_make(requests: Sequence[RouteRequest], *, now: datetime) -> list[Plan]:
    """Decide for every request: rules, loads under lock, pointers, owners."""
    loads, clock = _Loads(), _Clock(now)
    plans = [Plan(request=r) for r in requests]
    for _round in range(MAX_ROUNDS):
        undecided = [p for p in plans if not p.outcome]
        if not undecided:
            break
        todo = undecided
        while todo:
            wanted: dict[int, Member] = {}
            for plan in todo:
                need = _evaluate(plan, loads, clock)
                if need:
                    wanted.update({m.id: m for m in need})
            if not wanted:
                break
            loads.read(list(wanted.values()), now)
            todo = [p for p in todo if not p.outcome]
        again = _pick([p for p in undecided if p.outcome == Decision.Outcome.ASSIGNED], loads)
        for plan in again:  # their eligible members filled up: place them again
            plan.outcome, plan.owner, plan.slot, plan.reason = "", None, None, ""
    for plan in plans:
        if not plan.outcome:
            plan.outcome, plan.reason = Decision.Outcome.UNROUTABLE, "every eligible owner is full"
    return plans


def plan_simulate(request: RouteRequest, *, at: datetime, versions: Sequence[Published]) -> Plan:
    """What `versions` would decide for one lead at `at`, deciding nothing: no lock, no pointer
    (a round-robin pick is shown as the pool it would pick from), nothing written. Loads are
    today's; availability (active, away, hours) is as the members stand now, at `at`."""
    loads, clock = _Loads(lock=False), _Clock(at)
    plan = Plan(request=request)
    while (need := _evaluate(plan, loads, clock, versions)) is not None:
        loads.read(need, at)
    if plan.outcome == Decision.Outcome.ASSIGNED and plan.owner is not None:
        plan.reason = f"rule {plan.rule.id if plan.rule else '?'} names {plan.owner.username}"
    elif plan.outcome == Decision.Outcome.ASSIGNED:
        if plan.pick == "least_loaded":
            plan.owner = _choose(plan, loads)
        plan.reason = plan.reason or (
            f"rule {plan.rule.id if plan.rule else '?'} → {plan.team.name if plan.team else ''}, "
            f"{plan.pick.replace('_', ' ')} among {', '.join(m.username for m in plan.eligible)}"
        )
    return plan


def plan_replay(
    request: RouteRequest,
    *,
    at: datetime,
    versions: Sequence[Published],
    teams: dict[tuple[int, str], TeamInfo],
    calendars: dict[int, Calendar],
    trace: bool = False,
    open_at: Callable[[Calendar, datetime], bool] = is_open_at,
) -> tuple[Plan, bool]:
    """What `versions` decide for one lead at a past moment `at`, against the teams, members
    and calendars as they were then (a backtest): nothing read from today, nothing written.
    Loads of that moment are not known: capped members count as empty and a least-loaded pick
    is not made, so such a plan is marked approximate (the second value). No trace unless
    asked: a backtest keeps counts, and traces only for the leads a person opens."""
    loads, clock = _Loads(lock=False), _Clock(at, calendars, open_at)
    for team in teams.values():
        loads.known.update(m.id for m in team.members)
    plan = Plan(request=request)
    _evaluate(plan, loads, clock, versions, teams, trace)
    approximate = plan.team is not None and (plan.pick == "least_loaded" or plan.team.capped)
    return plan, approximate
