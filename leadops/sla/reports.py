"""What the first-response clocks add up to: the dashboard's SLA figures and the manager's board.

Selectors only, for the reader's markets (`market_ids`) and under their row-level security, a
fixed number of queries whatever the number of clocks. Test leads never count.

Period figures are about the clocks *started* in the period:
- attainment: met on time (`met`, and `met_late`: a response dated before the deadline but
  logged after the breach) over the clocks whose outcome is known — met, met late or breached
  (a breached clock counts as breached whether or not it was answered later or its lead was
  closed). Clocks still running or paused, and those closed with no response (disqualified,
  merged, erased), are not in the denominator.
- time to first response: in business time, in the calendar of each clock (its market's, or
  its owner's hours): the open time between the start and the response, less the time the clock
  was on hold. Over every clock of the period that got a response, on time or late. Business
  time is computed in Python (the calendars live there), so it is capped at `RESPONSES_MAX`
  responses, the latest of the period; the figures say when the cap was reached. The calendar
  used is the one in force now, not the one in force when the clock ran.
"Now" figures (warned, breached) are about the clocks open now, whenever they started.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property
from math import floor
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q

from leadops.markets.business_time import Calendar, business_seconds_between
from leadops.markets.models import Market
from leadops.sla.models import Timer
from leadops.sla.timers import calendars_for

# ~30 µs a clock (leadops.markets.business_time): 10,000 responses take about a third of a second.
RESPONSES_MAX = 10_000
DECIDED = ("met", "met_late", "breached")


class Window(Protocol):
    """A period of the reader's markets (leadops.dashboard.Period has this shape)."""

    @property
    def since(self) -> datetime: ...

    @property
    def until(self) -> datetime: ...

    @property
    def market_ids(self) -> Sequence[int]: ...


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q` quantile with linear interpolation (what PostgreSQL's `percentile_cont` gives)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def response_seconds(
    calendar: Calendar, started_at: datetime, met_at: datetime, paused_seconds: float
) -> float:
    """Business seconds from the start to the response, less the time on hold (never below
    zero: a clock met while on hold counts its hold up to when the response was logged)."""
    return max(business_seconds_between(calendar, started_at, met_at) - paused_seconds, 0.0)


@dataclass
class SlaCounts:
    """The figures of one group: a market, a team of a market, an owner in a team, or all."""

    market_id: int | None = None
    market: str = ""
    team_id: int | None = None
    team: str | None = None
    owner_id: int | None = None
    owner: str | None = None
    started: int = 0
    met: int = 0
    met_late: int = 0
    breached: int = 0
    responded: int = 0
    seconds: list[float] = field(default_factory=list, repr=False)
    warned_now: int = 0
    breached_now: int = 0

    @property
    def on_time(self) -> int:
        return self.met + self.met_late

    @property
    def decided(self) -> int:
        return self.met + self.met_late + self.breached

    @property
    def attainment(self) -> float | None:
        return self.on_time / self.decided if self.decided else None

    @cached_property
    def median_seconds(self) -> float | None:
        return percentile(self.seconds, 0.5)

    @cached_property
    def p90_seconds(self) -> float | None:
        return percentile(self.seconds, 0.9)

    def add(self, other: SlaCounts) -> None:
        for name in ("started", "met", "met_late", "breached", "responded"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.warned_now += other.warned_now
        self.breached_now += other.breached_now
        self.seconds.extend(other.seconds)


@dataclass
class SlaFigures:
    total: SlaCounts = field(default_factory=SlaCounts)
    by_market: list[SlaCounts] = field(default_factory=list)
    by_team: list[SlaCounts] = field(default_factory=list)
    rows: list[SlaCounts] = field(default_factory=list)  # per market, team and owner
    responses_used: int = 0
    responses_capped: bool = False


_GROUP = (
    " FROM sla_timer t JOIN markets_market m ON m.id = t.market_id"
    " LEFT JOIN leads_lead l ON l.id = t.lead_id"
    " LEFT JOIN markets_team tm ON tm.id = l.team_id"
    " LEFT JOIN auth_user u ON u.id = t.owner_id"
)
_LABELS = "t.market_id, m.code, l.team_id, tm.name, t.owner_id, u.username"
_REAL = " AND NOT coalesce(l.is_synthetic, false)"


def sla_figures(p: Window) -> SlaFigures:
    """The SLA figures of the clocks started in `p` (attainment, time to first response) and
    of the clocks open now (warned, breached), per market, team and owner: three queries and
    the calendars' (cached)."""
    groups: dict[tuple[int, int | None, int | None], SlaCounts] = {}

    def group(row: Sequence[Any]) -> SlaCounts:
        market_id, code, team_id, team, owner_id, owner = row[:6]
        key = (market_id, team_id, owner_id)
        if key not in groups:
            groups[key] = SlaCounts(
                market_id=market_id,
                market=code,
                team_id=team_id,
                team=team,
                owner_id=owner_id,
                owner=owner,
            )
        return groups[key]

    market_ids = list(p.market_ids)
    for row in _rows(
        f"SELECT {_LABELS}, count(*), count(*) FILTER (WHERE t.state = 'met'),"
        " count(*) FILTER (WHERE t.state = 'met_late'),"
        " count(*) FILTER (WHERE t.state = 'breached'),"
        " count(*) FILTER (WHERE t.met_at IS NOT NULL)"
        + _GROUP
        + " WHERE t.started_at >= %s AND t.started_at < %s AND t.market_id = ANY(%s)"
        + _REAL
        + " GROUP BY 1, 2, 3, 4, 5, 6",
        [p.since, p.until, market_ids],
    ):
        counts = group(row)
        counts.started, counts.met, counts.met_late, counts.breached, counts.responded = row[6:]
    # Open clocks: the partial index on open clocks (sla_timer_open_due) reads only those.
    for row in _rows(
        f"SELECT {_LABELS},"
        " count(*) FILTER (WHERE t.state <> 'breached' AND t.warned_at IS NOT NULL),"
        " count(*) FILTER (WHERE t.state = 'breached')"
        + _GROUP
        + " WHERE t.closed_at IS NULL AND t.market_id = ANY(%s)"
        "  AND (t.state = 'breached' OR t.warned_at IS NOT NULL)"
        + _REAL
        + " GROUP BY 1, 2, 3, 4, 5, 6",
        [market_ids],
    ):
        counts = group(row)
        counts.warned_now, counts.breached_now = row[6:]
    responses = _rows(
        "SELECT t.market_id, l.team_id, t.owner_id, t.hours_of_id, t.started_at, t.met_at,"
        " t.paused_seconds"
        " FROM sla_timer t LEFT JOIN leads_lead l ON l.id = t.lead_id"
        " WHERE t.started_at >= %s AND t.started_at < %s AND t.market_id = ANY(%s)"
        "  AND t.met_at IS NOT NULL" + _REAL + " ORDER BY t.started_at DESC, t.id DESC LIMIT %s",
        [p.since, p.until, market_ids, RESPONSES_MAX + 1],
    )
    figures = SlaFigures(responses_capped=len(responses) > RESPONSES_MAX)
    responses = responses[:RESPONSES_MAX]
    figures.responses_used = len(responses)
    calendars = calendars_for((row[0], row[3]) for row in responses)
    for market_id, team_id, owner_id, hours_of, started_at, met_at, paused in responses:
        found = groups.get((market_id, team_id, owner_id))
        if found is None:  # a response whose clock's lead changed team or owner since
            continue
        found.seconds.append(
            response_seconds(calendars[(market_id, hours_of)], started_at, met_at, paused)
        )
    figures.rows = sorted(
        groups.values(),
        key=lambda c: (c.market, c.team is None, c.team or "", c.owner is None, c.owner or ""),
    )
    markets: dict[int | None, SlaCounts] = {}
    teams: dict[tuple[int | None, int | None], SlaCounts] = {}
    for each in figures.rows:
        figures.total.add(each)
        market = markets.setdefault(
            each.market_id, SlaCounts(market_id=each.market_id, market=each.market)
        )
        market.add(each)
        team = teams.setdefault(
            (each.market_id, each.team_id),
            SlaCounts(
                market_id=each.market_id, market=each.market, team_id=each.team_id, team=each.team
            ),
        )
        team.add(each)
    figures.by_market = list(markets.values())
    figures.by_team = list(teams.values())
    return figures


# --- the manager's board -----------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerLoad:
    market_id: int
    market: str
    owner_id: int | None
    owner: str | None
    open: int
    warned: int
    breached: int


def board_owners(market_ids: Iterable[int]) -> list[OwnerLoad]:
    """Open clocks per market and owner: how many, how many warned (past the warning point,
    not yet due) and breached. One query, through the partial index on open clocks."""
    rows = _rows(
        "SELECT t.market_id, m.code, t.owner_id, u.username, count(*),"
        " count(*) FILTER (WHERE t.state <> 'breached' AND t.warned_at IS NOT NULL),"
        " count(*) FILTER (WHERE t.state = 'breached')"
        " FROM sla_timer t JOIN markets_market m ON m.id = t.market_id"
        " LEFT JOIN leads_lead l ON l.id = t.lead_id"
        " LEFT JOIN auth_user u ON u.id = t.owner_id"
        " WHERE t.closed_at IS NULL AND t.market_id = ANY(%s)" + _REAL + " GROUP BY 1, 2, 3, 4"
        " ORDER BY 2, 7 DESC, 6 DESC, 5 DESC, 4",
        [sorted(market_ids)],
    )
    return [OwnerLoad(*row) for row in rows]


def _board_timers(market_ids: Iterable[int]) -> Any:
    return (
        Timer.objects.filter(market_id__in=sorted(market_ids), lead__is_synthetic=False)
        .select_related("lead", "owner", "market")
        .only(
            "id",
            "lead_id",
            "market_id",
            "owner_id",
            "state",
            "choice",
            "started_at",
            "due_at",
            "warned_at",
            "breached_at",
            "met_at",
            "closed_at",
            "closed_reason",
            "lead__id",
            "lead__company",
            "lead__market_id",
            "owner__id",
            "owner__username",
            "market__id",
            "market__code",
            "market__timezone",
        )
    )


def board_due_next(market_ids: Iterable[int], *, limit: int = 20) -> list[Timer]:
    """The running clocks due first (an overdue one the sweep has not reached yet included),
    with their lead, owner and market: one query, through the partial index on open clocks."""
    rows = _board_timers(market_ids).filter(closed_at__isnull=True, state=Timer.State.RUNNING)
    return list(rows.order_by("due_at", "id")[:limit])


def market_day(market: Market, now: datetime) -> tuple[datetime, datetime]:
    """The market's calendar day around `now`, as instants: [local midnight, next midnight)."""
    zone = ZoneInfo(market.timezone)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def board_breaches_today(
    markets: Sequence[Market], *, now: datetime, limit: int = 50
) -> tuple[list[Timer], int]:
    """Clocks that breached today, each market's today in its own zone, still counted as
    breaches (one later turned "met late" by a response dated before the deadline is not):
    the latest `limit` of them, and how many in all. Two queries."""
    if not markets:
        return [], 0
    today = Q()
    for market in markets:
        start, end = market_day(market, now)
        today |= Q(market_id=market.pk, breached_at__gte=start, breached_at__lt=end)
    rows = _board_timers(m.pk for m in markets).filter(today, state=Timer.State.BREACHED)
    return list(rows.order_by("-breached_at", "-id")[:limit]), rows.count()
