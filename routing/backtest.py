"""Backtest: what a version (usually a draft) would have done to past leads, beside what the
version published then does on the same rebuilt past.

Each lead is evaluated at its original routing time (its first decision, or its creation when
it was never routed) with its field values as they were then (the lead's history), and the
members, hours and absences of that moment (member history, calendar versions, out-of-office
periods, which are never deleted). The baseline is the version published then, run again on the
same past, so a difference shows the rules and not drift in the data. Team, rule and unroutable
differences are exact; where caps or a least-loaded pick depend on loads of the moment, a
result is labelled approximate; owner differences under round robin are reported as "eligible
pool changed", never guessed.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from leadops.core.config import config_snapshot
from leadops.core.sql import sql_run
from leadops.leads.fields import FACT_COLUMNS, lead_facts
from leadops.leads.models import Lead
from leadops.markets.business_time import ALWAYS_OPEN_UTC, Calendar, open_spans
from leadops.markets.calendars import calendar_of
from leadops.markets.models import CalendarVersion, OutOfOffice, Team, TeamMember
from leadops.markets.selectors import markets_by_id
from leadops.markets.teams import hours_calendar
from routing.assign import RouteRequest, plan_replay
from routing.engine import compile_version
from routing.models import RuleVersion
from routing.rules import content_hash
from routing.world import Member, Published, TeamInfo

CHUNK = 2000
LEAD_VALUES = ("email_norm", "phone_e164", *FACT_COLUMNS, "score", "market_id", "attributes")


@dataclass(frozen=True)
class Result:
    outcome: str
    rule: str | None
    team: str | None
    pool: tuple[str, ...]
    approximate: bool

    @property
    def where(self) -> str:
        """The cell of the matrix: the team, or the outcome when there is none."""
        return self.team or f"({self.outcome})"


@dataclass(frozen=True)
class Replayed:
    lead_id: int
    market_id: int
    at: datetime
    before: Result
    after: Result
    # The plans themselves, kept only when a replay asks for traces (one lead's drill-down).
    before_plan: Any = field(default=None, compare=False, repr=False)
    after_plan: Any = field(default=None, compare=False, repr=False)

    @property
    def change(self) -> str:
        b, a = self.before, self.after
        if b.outcome == a.outcome == "unroutable":
            return "unchanged"  # placed by neither: which rule tried does not matter
        if b.outcome != "unroutable" and a.outcome == "unroutable":
            return "newly_unroutable"
        if b.outcome == "unroutable" and a.outcome != "unroutable":
            return "newly_routable"
        if (b.team, b.rule, b.outcome) != (a.team, a.rule, a.outcome):
            return "moved"
        if b.pool != a.pool:
            return "pool_changed"
        return "unchanged"


@dataclass
class Backtest:
    version_id: int
    content_hash: str
    evaluated: int = 0
    changes: Counter[str] = field(default_factory=Counter)
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)
    rules_before: Counter[str] = field(default_factory=Counter)
    rules_after: Counter[str] = field(default_factory=Counter)
    approximate: int = 0
    changed: list[Replayed] = field(default_factory=list)
    cancelled: bool = False
    # The same counts per market (stored one row per market, under RLS).
    parts: dict[int, Backtest] = field(default_factory=dict)

    def add(self, replayed: Replayed, keep_changed: int) -> None:
        self.evaluated += 1
        change = replayed.change
        self.changes[change] += 1
        self.matrix[(replayed.before.where, replayed.after.where)] += 1
        self.rules_before[replayed.before.rule or "(none)"] += 1
        self.rules_after[replayed.after.rule or "(none)"] += 1
        self.approximate += replayed.before.approximate or replayed.after.approximate
        if change != "unchanged" and len(self.changed) < keep_changed:
            self.changed.append(replayed)

    def changed_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "lead": r.lead_id,
                "at": r.at.isoformat(),
                "change": r.change,
                "before": _shown(r.before),
                "after": _shown(r.after),
            }
            for r in self.changed
        ]

    def summary(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "content_hash": self.content_hash,
            "evaluated": self.evaluated,
            "unchanged": self.changes["unchanged"],
            "moved": self.changes["moved"],
            "newly_unroutable": self.changes["newly_unroutable"],
            "newly_routable": self.changes["newly_routable"],
            "eligible_pool_changed": self.changes["pool_changed"],
            "approximate": self.approximate,
            "matrix": [
                {"before": b, "after": a, "leads": n} for (b, a), n in sorted(self.matrix.items())
            ],
            "rule_hits": {
                "before": dict(sorted(self.rules_before.items())),
                "after": dict(sorted(self.rules_after.items())),
            },
        }


def _shown(result: Result) -> dict[str, Any]:
    return {
        "outcome": str(result.outcome),
        "rule": result.rule,
        "team": result.team,
        "pool": list(result.pool),
        "approximate": result.approximate,
    }


class _Past:
    """The organisation as it stood at any moment of the period: member settings (history),
    absences, calendars and the versions published, read once, looked up by time."""

    def __init__(self, market_ids: Sequence[int]) -> None:
        self.markets = markets_by_id()
        self.team_names = dict(Team.objects.values_list("id", "name"))
        members = TeamMember.history.model.objects.filter(market_id__in=market_ids).order_by(
            "history_date", "history_id"
        )
        usernames = dict(TeamMember.objects.values_list("id", "user__username"))
        self.member_rows: dict[int, list[tuple[datetime, dict[str, Any]]]] = {}
        instants: set[datetime] = set()
        for row in members.values(
            "id",
            "team_id",
            "market_id",
            "user_id",
            "is_active",
            "weight",
            "cap_open",
            "cap_daily",
            "hours",
            "history_date",
            "history_type",
        ):
            row["username"] = usernames.get(row["id"], f"member #{row['id']}")
            self.member_rows.setdefault(row["id"], []).append((row["history_date"], row))
            instants.add(row["history_date"])
        self.away: dict[int, list[tuple[datetime, datetime]]] = {}
        for member_id, start, end in OutOfOffice.objects.filter(
            market_id__in=market_ids
        ).values_list("member_id", "starts_at", "ends_at"):
            self.away.setdefault(member_id, []).append((start, end))
        self.calendar_rows: dict[int, list[tuple[datetime, Calendar]]] = {}
        for version in CalendarVersion.objects.filter(market_id__in=market_ids).order_by(
            "created_at"
        ):
            self.calendar_rows.setdefault(version.market_id, []).append(
                (version.created_at, calendar_of(version))
            )
            instants.add(version.created_at)
        self.instants = sorted(instants)
        # Calendar id → open spans (starts, ends) and the window they cover.
        self._spans: dict[int, tuple[list[datetime], list[datetime], datetime, datetime]] = {}
        self._worlds: dict[int, tuple[dict[tuple[int, str], TeamInfo], dict[int, Calendar]]] = {}
        self.published: dict[int | None, list[tuple[datetime, datetime | None, Published]]] = {}
        self.contents: dict[int, dict[str, Any]] = {}
        for v in RuleVersion.objects.filter(published_at__isnull=False).order_by("published_at"):
            self.contents[v.pk] = v.content
            self.published.setdefault(v.market_id, []).append(
                (
                    v.published_at,
                    v.retired_at,
                    Published(v.pk, v.number, v.market_id, compile_version(v.content)),
                )
            )

    def world(self, at: datetime) -> tuple[dict[tuple[int, str], TeamInfo], dict[int, Calendar]]:
        """Teams with their members and the market calendars as they stood at `at` (one world
        per span between two changes, built once)."""
        epoch = bisect_right(self.instants, at)
        if epoch not in self._worlds:
            calendars = {
                market_id: next((c for when, c in reversed(rows) if when <= at), ALWAYS_OPEN_UTC)
                for market_id, rows in self.calendar_rows.items()
            }
            members: dict[int, list[Member]] = {}
            team_market: dict[int, int] = {}
            for member_id, rows in self.member_rows.items():
                row = next((r for when, r in reversed(rows) if when <= at), None)
                if row is None or row["history_type"] == "-":
                    continue
                market = self.markets.get(row["market_id"])
                calendar = hours_calendar(
                    row["hours"],
                    calendars.get(row["market_id"], ALWAYS_OPEN_UTC),
                    market.timezone if market else "UTC",
                )
                team_market[row["team_id"]] = row["market_id"]
                members.setdefault(row["team_id"], []).append(
                    Member(
                        id=member_id,
                        user_id=row["user_id"],
                        username=row["username"],
                        is_active=row["is_active"],
                        weight=max(1, row["weight"]),
                        cap_open=row["cap_open"],
                        cap_daily=row["cap_daily"],
                        calendar=calendar,
                        absences=tuple(sorted(self.away.get(member_id, []))),
                    )
                )
            teams = {}
            for team_id, team_members in members.items():
                name = self.team_names.get(team_id, f"team #{team_id}")
                teams[(team_market[team_id], name)] = TeamInfo(
                    team_id,
                    team_market[team_id],
                    name,
                    tuple(sorted(team_members, key=lambda m: m.id)),
                )
            self._worlds[epoch] = (teams, calendars)
        return self._worlds[epoch]

    def open_at(self, calendar: Calendar, at: datetime) -> bool:
        """`is_open_at`, looked up in the calendar's open spans around the period, computed
        once per calendar (a backtest asks it for every member of every lead)."""
        spans = self._spans.get(id(calendar))
        if spans is None or not (spans[2] <= at < spans[3]):
            since, until = at - timedelta(days=40), at + timedelta(days=40)
            starts, ends = [], []
            for start, end in open_spans(calendar, since):
                if start >= until:
                    break
                starts.append(start)
                ends.append(end)
            # Good while `at` stays a day inside the window (leads come newest first).
            spans = (starts, ends, since + timedelta(days=1), until - timedelta(days=1))
            self._spans[id(calendar)] = spans
        i = bisect_right(spans[0], at) - 1
        return i >= 0 and at < spans[1][i]

    def in_force(self, market_id: int | None, at: datetime) -> Published | None:
        for published_at, retired_at, version in reversed(self.published.get(market_id, [])):
            if published_at <= at and (retired_at is None or retired_at > at):
                return version
        return None


def _result(plan: Any, approximate: bool) -> Result:
    outcome = plan.outcome or "unroutable"
    # A rule "hits" when it decides: it placed the lead, made it wait, or filed it for a person.
    decided = plan.rule is not None and (outcome != "unroutable" or plan.exception_note)
    return Result(
        outcome=outcome,
        rule=plan.rule.id if decided else None,
        team=plan.team.name if plan.team else None,
        pool=tuple(sorted(m.username for m in plan.eligible))
        if plan.owner is None
        else (plan.owner.username,),
        approximate=approximate,
    )


def _leads(
    market_ids: Sequence[int], since: date | None, until: date | None, limit: int | None
) -> list[tuple[int, int, datetime]]:
    leads = Lead.objects.filter(
        market_id__in=market_ids, merged_into__isnull=True, is_synthetic=False
    ).exclude(status="held")
    if since is not None:
        leads = leads.filter(created_at__date__gte=since)
    if until is not None:
        leads = leads.filter(created_at__date__lte=until)
    rows = leads.order_by("-created_at", "-id").values_list("id", "market_id", "created_at")
    return list(rows[:limit] if limit else rows)


def backtest_run(
    *,
    version: RuleVersion,
    market_ids: Sequence[int],
    since: date | None = None,
    until: date | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    keep_changed: int = 10_000,
) -> Backtest:
    """Replay the past leads of `market_ids` (a market version: its own market only) under
    `version` and under the versions published at each lead's time. Reads in chunks, set-based;
    writes nothing. `cancelled()` is asked between chunks: a cancelled run says so and its
    partial counts must not be kept."""
    with config_snapshot():  # markets and their codes read once, not once a lead
        return _run(version, market_ids, since, until, limit, progress, cancelled, keep_changed)


def _run(
    version: RuleVersion,
    market_ids: Sequence[int],
    since: date | None,
    until: date | None,
    limit: int | None,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
    keep_changed: int,
) -> Backtest:
    if version.market_id is not None:
        market_ids = [m for m in market_ids if m == version.market_id]
    past = _Past(market_ids)
    draft = Published(
        version.pk, version.number, version.market_id, compile_version(version.content)
    )
    result = Backtest(version_id=version.pk, content_hash=content_hash(version.content))
    leads = _leads(market_ids, since, until, limit)
    for start in range(0, len(leads), CHUNK):
        if cancelled is not None and cancelled():
            result.cancelled = True
            return result
        chunk = leads[start : start + CHUNK]
        for replayed in _replay(chunk, past, draft):
            result.add(replayed, keep_changed)
            part = result.parts.get(replayed.market_id)
            if part is None:
                part = result.parts[replayed.market_id] = Backtest(
                    version_id=result.version_id, content_hash=result.content_hash
                )
            part.add(replayed, keep_changed)
        if progress is not None:
            progress(min(len(leads), start + CHUNK), len(leads))
    return result


def _replay(
    chunk: list[tuple[int, int, datetime]], past: _Past, draft: Published, trace: bool = False
) -> Iterator[Replayed]:
    ids = [lead_id for lead_id, _, _ in chunk]
    # Raw statements with one array parameter: the ORM would build an IN list of 2,000.
    first = dict(
        sql_run(
            "SELECT DISTINCT ON (lead_id) lead_id, decided_at FROM routing_decision"
            " WHERE lead_id = ANY(%b) ORDER BY lead_id, decided_at",
            [ids],
        )
    )
    moments = {lead_id: first.get(lead_id, created) for lead_id, _, created in chunk}
    values = _as_of(ids, moments)
    sources = dict(
        sql_run(
            "SELECT l.id, s.slug FROM leads_lead l JOIN leads_source s ON s.id = l.first_source_id"
            " WHERE l.id = ANY(%b)",
            [ids],
        )
    )
    for lead_id, market_now, _created in chunk:
        at = moments[lead_id]
        row = values.get(lead_id)
        market_id = row["market_id"] if row else market_now
        facts = lead_facts(
            values=row or {},
            market=past.markets.get(market_id),
            source=sources.get(lead_id, ""),
            score=(row or {}).get("score") or 0,
            status="new",
            attributes=(row or {}).get("attributes") or {},
        )
        teams, calendars = past.world(at)
        request = RouteRequest(lead_id, market_id, facts)
        market_v = past.in_force(market_id, at)
        if past.markets[market_id].is_unassigned:
            market_v = None
        global_v = past.in_force(None, at)
        baseline = [v for v in (market_v, global_v) if v is not None]
        if draft.market_id is None:
            trial = [v for v in (market_v, draft) if v is not None]
        else:
            trial = [v for v in (draft, global_v) if v is not None]
        replay = partial(
            plan_replay,
            request,
            at=at,
            teams=teams,
            calendars=calendars,
            open_at=past.open_at,
            trace=trace,
        )
        before, after = replay(versions=baseline), replay(versions=trial)
        yield Replayed(
            lead_id,
            market_id,
            at,
            _result(*before),
            _result(*after),
            before[0] if trace else None,
            after[0] if trace else None,
        )


def _as_of(ids: list[int], moments: dict[int, datetime]) -> dict[int, dict[str, Any]]:
    """Each lead's values at its moment: its newest history row not after it (the lead's
    current row when it has no history that old). One statement each."""
    columns = ", ".join(LEAD_VALUES)
    found: dict[int, dict[str, Any]] = {}
    rows = sql_run(
        f"SELECT DISTINCT ON (h.id) h.id, {', '.join('h.' + c for c in LEAD_VALUES)}"
        f" FROM {Lead.history.model._meta.db_table} h"
        " JOIN unnest(%b::bigint[], %b::timestamptz[]) AS m(id, at) ON m.id = h.id"
        " WHERE h.history_date <= m.at ORDER BY h.id, h.history_date DESC, h.history_id DESC",
        [ids, [moments[i] for i in ids]],
    )
    seen = {row[0] for row in rows}
    missing = [i for i in ids if i not in seen]
    if missing:
        rows += sql_run(f"SELECT id, {columns} FROM leads_lead WHERE id = ANY(%b)", [missing])
    for row in rows:
        values = dict(zip(LEAD_VALUES, row[1:], strict=True))
        # Django's connection hands jsonb over as text (Django decodes JSON itself).
        if isinstance(values["attributes"], str):
            values["attributes"] = json.loads(values["attributes"])
        found[row[0]] = values
    return found


def stale(*, version: RuleVersion, ran_on: str) -> bool:
    """Whether the version's rules changed since a backtest ran on them (by content hash)."""
    return content_hash(version.content) != ran_on
