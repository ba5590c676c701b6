"""The operations dashboard's figures, for the reader's markets and a period.

Intake comes from the hourly rollup `IntakeHour` (leadops/leads/rollups.py: recomputed per hour
by beat, marked stale by retags and merges, backfilled from a migration's marks), so a page reads
a few rows per market and hour, never the submissions. The exception figures read the queue
through partial indexes whose size is what is open, or what was closed since the period began.
Medians come from the period's raw rows (`percentile_cont`), never from averaging. Test leads
never count; every query also runs under the reader's row-level security.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

OUTCOMES = ["created", "merged", "review", "quarantined", "rejected"]


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    market_ids: list[int]

    @property
    def bucket(self) -> str:
        """Hours for a period of two days or less, days otherwise."""
        return "hour" if self.until - self.since <= timedelta(days=2) else "day"


def period_of(*, since: date | None, until: date | None, market_ids: Iterable[int]) -> Period:
    """[since, until] as whole UTC days (default: the last 14 days, today included)."""
    last = until or timezone.now().date()
    first = since or last - timedelta(days=13)
    return Period(
        since=datetime.combine(first, time.min, UTC),
        until=datetime.combine(last + timedelta(days=1), time.min, UTC),
        market_ids=sorted(market_ids),
    )


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


@dataclass
class Intake:
    total: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # source → outcome → n
    source_ids: dict[str, int | None] = field(default_factory=dict)
    series: list[tuple[datetime, dict[str, int]]] = field(default_factory=list)
    leads_created: int = 0

    def rate(self, *outcomes: str) -> float | None:
        """Share of the accepted submissions (all but rejected) with one of `outcomes`."""
        accepted = self.total - self.by_outcome.get("rejected", 0)
        if not accepted:
            return None
        return sum(self.by_outcome.get(o, 0) for o in outcomes) / accepted


def intake_figures(p: Period) -> Intake:
    """Submissions of the period per bucket, source and outcome, and the leads created, from
    the rollup."""
    rows = _rows(
        "SELECT date_trunc(%s, r.hour) AS b, r.source_id, src.slug, r.kind, sum(r.count)::int"
        " FROM leads_intakehour r LEFT JOIN leads_source src ON src.id = r.source_id"
        " WHERE r.hour >= %s AND r.hour < %s AND r.market_id = ANY(%s)"
        " GROUP BY 1, 2, 3, 4 ORDER BY 1",
        [p.bucket, p.since, p.until, p.market_ids],
    )
    intake = Intake()
    buckets: dict[datetime, dict[str, int]] = {}
    for bucket, source_id, slug, kind, count in rows:
        if kind == "lead":
            intake.leads_created += count
            continue
        source = slug or "(no source)"
        intake.total += count
        intake.by_outcome[kind] = intake.by_outcome.get(kind, 0) + count
        per = intake.by_source.setdefault(source, {})
        per[kind] = per.get(kind, 0) + count
        intake.source_ids[source] = source_id
        slot = buckets.setdefault(bucket, {})
        slot[kind] = slot.get(kind, 0) + count
    # Every bucket of the period, the empty ones too, so the chart is a time axis.
    step = timedelta(hours=1) if p.bucket == "hour" else timedelta(days=1)
    moment, series = p.since, []
    while moment < p.until:
        series.append((moment, buckets.get(moment, {})))
        moment += step
    intake.series = series
    return intake


@dataclass
class Exceptions:
    open_by: list[dict[str, Any]] = field(default_factory=list)  # kind, market, open, overdue
    open_total: int = 0
    overdue_total: int = 0
    oldest_open: datetime | None = None
    resolved: int = 0
    median_minutes: float | None = None
    median_by_kind: dict[str, float] = field(default_factory=dict)
    leads: int = 0
    leads_needing_a_person: int = 0

    @property
    def manual_rate(self) -> float | None:
        return self.leads_needing_a_person / self.leads if self.leads else None


def _synthetic_targets() -> list[str]:
    """The test leads' ids as item targets (a handful, through a partial index)."""
    return [str(i) for (i,) in _rows("SELECT id FROM leads_lead WHERE is_synthetic", [])]


def exception_figures(p: Period, *, leads_created: int) -> Exceptions:
    """Open and overdue items now (per kind and market), the oldest open, the median time to
    resolve of the items closed in the period, and the manual intervention rate of the period's
    leads (`leads_created`, from the rollup, is its denominator)."""
    figures = Exceptions(leads=leads_created)
    now = timezone.now()
    synthetic = _synthetic_targets()
    for kind, market_id, code, open_, overdue, oldest in _rows(
        "SELECT q.kind, q.market_id, m.code, count(*), count(*) FILTER (WHERE q.due_at < %s),"
        " min(q.created_at)"
        " FROM queue_exceptionitem q JOIN markets_market m ON m.id = q.market_id"
        " WHERE q.status IN ('open', 'claimed') AND q.market_id = ANY(%s)"
        "  AND NOT (q.target_type = 'leads.lead' AND q.target_id = ANY(%s))"
        " GROUP BY 1, 2, 3 ORDER BY 1, 3",
        [now, p.market_ids, synthetic],
    ):
        row = {"kind": kind, "market_id": market_id, "market": code}
        figures.open_by.append({**row, "open": open_, "overdue": overdue})
        figures.open_total += open_
        figures.overdue_total += overdue
        if figures.oldest_open is None or oldest < figures.oldest_open:
            figures.oldest_open = oldest
    for kind, count, median in _rows(
        "SELECT q.kind, count(*), percentile_cont(0.5) WITHIN GROUP"
        "  (ORDER BY extract(epoch FROM q.resolved_at - q.created_at))"
        " FROM queue_exceptionitem q"
        " WHERE q.resolved_at >= %s AND q.resolved_at < %s AND q.market_id = ANY(%s)"
        "  AND q.status IN ('resolved', 'dismissed')"
        "  AND NOT (q.target_type = 'leads.lead' AND q.target_id = ANY(%s))"
        " GROUP BY ROLLUP (q.kind)",
        [p.since, p.until, p.market_ids, synthetic],
    ):
        if kind is None:
            figures.resolved = count
            figures.median_minutes = round(median / 60, 1) if median is not None else None
        else:
            figures.median_by_kind[kind] = round(median / 60, 1)
    # A person resolves an item after the lead exists: only items resolved since the period
    # began can be about its leads (an index range, not every item ever resolved). Two steps:
    # a cast or a regex in a join would not be leakproof, and under row-level security the
    # planner would then read every lead before joining.
    targets = [
        int(t)
        for (t,) in _rows(
            "SELECT DISTINCT q.target_id FROM queue_exceptionitem q"
            " WHERE q.resolved_at >= %s AND q.resolved_by_id IS NOT NULL"
            "  AND q.target_type = 'leads.lead'",
            [p.since],
        )
        if t.isdigit()
    ]
    [(needing,)] = _rows(
        "SELECT count(*) FROM leads_lead l WHERE l.id = ANY(%s)"
        "  AND l.created_at >= %s AND l.created_at < %s AND l.market_id = ANY(%s)"
        "  AND NOT l.is_synthetic AND l.merged_into_id IS NULL",
        [targets, p.since, p.until, p.market_ids],
    )
    figures.leads_needing_a_person = needing
    return figures


@dataclass
class Routing:
    decisions: int = 0
    assigned: int = 0
    unroutable: int = 0
    by_team: list[dict[str, Any]] = field(default_factory=list)  # market, team, owner, n
    waiting_for_team: int = 0
    unroutable_open: int = 0

    @property
    def unroutable_rate(self) -> float | None:
        return self.unroutable / self.decisions if self.decisions else None


def routing_figures(p: Period) -> Routing:
    """The period's routing decisions (assigned per team and owner, unroutable), and the
    leads waiting for an owner now: waiting for a closed team, or filed as unroutable."""
    figures = Routing()
    for market, team, owner_id, owner, outcome, count in _rows(
        "SELECT m.code, t.name, d.owner_id, u.username, d.outcome, count(*)"
        " FROM routing_decision d JOIN markets_market m ON m.id = d.market_id"
        " LEFT JOIN markets_team t ON t.id = d.team_id"
        " LEFT JOIN auth_user u ON u.id = d.owner_id"
        " WHERE d.decided_at >= %s AND d.decided_at < %s AND d.market_id = ANY(%s)"
        " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 4",
        [p.since, p.until, p.market_ids],
    ):
        figures.decisions += count
        if outcome == "assigned":
            figures.assigned += count
            figures.by_team.append(
                {"market": market, "team": team, "owner_id": owner_id, "owner": owner, "n": count}
            )
        elif outcome == "unroutable":
            figures.unroutable += count
    [(waiting,)] = _rows(
        "SELECT count(DISTINCT d.lead_id) FROM routing_decision d"
        " WHERE d.outcome = 'waiting' AND d.woken_at IS NULL AND d.market_id = ANY(%s)",
        [p.market_ids],
    )
    [(unroutable_open,)] = _rows(
        "SELECT count(*) FROM queue_exceptionitem q WHERE q.kind = 'unroutable'"
        " AND q.status IN ('open', 'claimed') AND q.market_id = ANY(%s)",
        [p.market_ids],
    )
    figures.waiting_for_team, figures.unroutable_open = waiting, unroutable_open
    return figures


def series_svg(series: list[tuple[datetime, dict[str, int]]], *, width: int = 720) -> str:
    """Submissions per bucket as stacked bars by outcome (inline SVG: no CDN, no script)."""
    from django.utils.html import escape

    if not series:
        return ""
    colours = {"created": "#417690", "merged": "#79aec8", "review": "#c77700",
               "quarantined": "#ba2121", "rejected": "#777"}  # fmt: skip
    height, top = 160, max(sum(c.values()) for _, c in series) or 1
    step = width / len(series)
    bar = max(step - 2, 1)
    parts = []
    for i, (bucket, counts) in enumerate(series):
        y = float(height)
        for outcome in OUTCOMES:
            n = counts.get(outcome, 0)
            if not n:
                continue
            h = height * n / top
            y -= h
            parts.append(
                f'<rect x="{i * step:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{colours[outcome]}"><title>{escape(f"{bucket:%Y-%m-%d %H:%M}")}'
                f" {outcome}: {n}</title></rect>"
            )
    # The time axis: its first and last bucket, then the legend.
    shown = (
        "%Y-%m-%d %H:00"
        if len(series) > 1 and series[1][0] - series[0][0] < timedelta(days=1)
        else "%Y-%m-%d"
    )
    axis = (
        f'<text x="0" y="{height + 14}" font-size="11">{series[0][0]:{shown}}</text>'
        f'<text x="{width}" y="{height + 14}" font-size="11" text-anchor="end">'
        f"{series[-1][0]:{shown}}</text>"
    )
    legend = "".join(
        f'<rect x="{j * 110}" y="{height + 24}" width="10" height="10" fill="{colours[o]}"/>'
        f'<text x="{j * 110 + 14}" y="{height + 33}" font-size="11">{o}</text>'
        for j, o in enumerate(OUTCOMES)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}"'
        ' role="img" aria-label="Submissions over time by outcome" id="intake-chart">'
        + "".join(parts)
        + axis
        + legend
        + "</svg>"
    )


def bars_svg(values: list[tuple[str, int]], *, chart_id: str, width: int = 640) -> str:
    """Labelled horizontal bars (inline SVG)."""
    from django.utils.html import escape

    if not values:
        return ""
    top = max(n for _, n in values) or 1
    label = 260  # room for the longest kind label ("Conflicting notes across markets")
    parts = []
    for i, (name, n) in enumerate(values):
        y = i * 24
        length = int((width - label - 50) * n / top)
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(name)}</text>'
            f'<rect x="{label}" y="{y + 3}" width="{max(length, 1)}" height="16"'
            f' fill="#417690"/>'
            f'<text x="{label + 6 + length}" y="{y + 15}" font-size="12">{n}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{len(values) * 24}"'
        f' role="img" id="{chart_id}">' + "".join(parts) + "</svg>"
    )
