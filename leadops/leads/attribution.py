"""Attribution: which sources and campaigns brought the leads of a period.

For leads created in [since, until) in the reader's markets (test leads and leads merged away
left out), per market, source and campaign (`utm_campaign`, else the touch's campaign):
- first touch: one credit to the lead's earliest touch,
- last touch: one credit to its latest touch,
- all touches (linear): each of a lead's n touches gets 1/n, so a column sums to the leads,
- touches: how many touches there were.
One query (window functions over the touches of those leads); the admin page and
`GET /api/v1/reports/attribution` both read it, so their numbers are the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.utils import timezone


def period(since: date | None, until: date | None) -> tuple[datetime, datetime]:
    """[since, until) in UTC from two dates (until inclusive as a day); default the last 30
    days."""
    end = (until or timezone.now().date()) + timedelta(days=1)
    start = since or end - timedelta(days=31)
    return datetime.combine(start, time.min, UTC), datetime.combine(end, time.min, UTC)


@dataclass(frozen=True)
class Row:
    market: str
    source: str
    campaign: str
    first_touch: int
    last_touch: int
    linear: Decimal
    touches: int


def attribution_report(*, market_ids: Iterable[int], since: datetime, until: datetime) -> list[Row]:
    """Rows ordered by market, source, campaign. Runs in the caller's access context: RLS
    keeps other markets out even if `market_ids` said otherwise."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH t AS ("
            " SELECT l.market_id, s.slug AS source,"
            "  COALESCE(NULLIF(t.utm_campaign, ''), t.campaign) AS campaign,"
            "  row_number() OVER (PARTITION BY t.lead_id ORDER BY t.occurred_at, t.id)"
            "   AS first_rank,"
            "  row_number() OVER (PARTITION BY t.lead_id ORDER BY t.occurred_at DESC, t.id DESC)"
            "   AS last_rank,"
            "  count(*) OVER (PARTITION BY t.lead_id) AS n"
            " FROM leads_sourcetouch t"
            " JOIN leads_lead l ON l.id = t.lead_id"
            " JOIN leads_source s ON s.id = t.source_id"
            " WHERE l.created_at >= %s AND l.created_at < %s AND NOT l.is_synthetic"
            "  AND l.merged_into_id IS NULL AND l.market_id = ANY(%s))"
            " SELECT m.code, t.source, t.campaign,"
            "  count(*) FILTER (WHERE first_rank = 1), count(*) FILTER (WHERE last_rank = 1),"
            "  sum(1.0 / n), count(*)"
            " FROM t JOIN markets_market m ON m.id = t.market_id"
            " GROUP BY m.code, t.source, t.campaign ORDER BY m.code, t.source, t.campaign",
            [since, until, sorted(market_ids)],
        )
        return [
            Row(
                market=code,
                source=source,
                campaign=campaign or "",
                first_touch=first,
                last_touch=last,
                linear=Decimal(linear).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                touches=touches,
            )
            for code, source, campaign, first, last, linear, touches in cursor.fetchall()
        ]


def totals(rows: Iterable[Row]) -> dict[str, object]:
    rows = list(rows)
    return {
        "first_touch": sum(r.first_touch for r in rows),
        "last_touch": sum(r.last_touch for r in rows),
        "linear": sum((r.linear for r in rows), Decimal("0.00")),
        "touches": sum(r.touches for r in rows),
    }


def bars_svg(rows: Iterable[Row], *, width: int = 640, bar: int = 22) -> str:
    """First-touch leads per source as a horizontal bar chart (inline SVG: no CDN, no script)."""
    from django.utils.html import escape

    per_source: dict[str, int] = {}
    for r in rows:
        per_source[r.source] = per_source.get(r.source, 0) + r.first_touch
    if not per_source:
        return ""
    biggest = max(per_source.values()) or 1
    label = 140
    parts = []
    for i, (source, count) in enumerate(sorted(per_source.items(), key=lambda kv: -kv[1])):
        y = i * (bar + 6)
        length = int((width - label - 60) * count / biggest)
        parts.append(
            f'<text x="0" y="{y + bar - 6}" font-size="13">{escape(source)}</text>'
            f'<rect x="{label}" y="{y}" width="{max(length, 1)}" height="{bar}" fill="#417690">'
            f"<title>{escape(source)}: {count}</title></rect>"
            f'<text x="{label + length + 6}" y="{y + bar - 6}" font-size="13">{count}</text>'
        )
    height = len(per_source) * (bar + 6)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' role="img" aria-label="First-touch leads per source" id="attribution-chart">'
        + "".join(parts)
        + "</svg>"
    )
