"""What the dashboard and the manager's home page show: figures from `leadops.dashboard`, each
with the link to the filtered list behind it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.safestring import mark_safe

from leadops.core.admin import request_scope
from leadops.core.labels import duration
from leadops.dashboard import (
    OUTCOMES,
    Period,
    bars_svg,
    exception_figures,
    intake_figures,
    period_of,
    routing_figures,
    series_svg,
)
from leadops.markets.models import Market
from leadops.sla.admin_board import board_allowed
from leadops.sla.reports import RESPONSES_MAX, SlaCounts, SlaFigures, sla_figures

# Sections of features that do not exist yet: said plainly, never shown as zeros.
LATER = [
    ("Delivery", "CRM sync backlog, failures and conflicts arrive with the CRM connectors."),
]  # fmt: skip


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f} %"


def _kind_label(key: str) -> str:
    from leadops.queue.registry import UnknownKind, kind_get

    try:
        return kind_get(key).label
    except UnknownKind:
        return key


def _when(moment: datetime) -> str:
    return moment.isoformat()


def _link(name: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return reverse(name) + (f"?{query}" if query else "")


def _period(request: HttpRequest, market_ids: frozenset[int]) -> tuple[Period, list[Market], str]:
    markets = list(Market.objects.filter(pk__in=market_ids).order_by("code"))
    chosen = request.GET.get("market", "")
    wanted = [m.pk for m in markets if not chosen or m.code == chosen]
    since = parse_date(request.GET.get("since", "") or "")
    until = parse_date(request.GET.get("until", "") or "")
    if since and until and since > until:
        since, until = until, since
    return period_of(since=since, until=until, market_ids=wanted), markets, chosen


def _sla_cells(counts: SlaCounts) -> dict[str, Any]:
    return {
        "market": counts.market,
        "team": counts.team,
        "owner": counts.owner,
        "started": counts.started,
        "decided": counts.decided,
        "on_time": counts.on_time,
        "met_late": counts.met_late,
        "breached": counts.breached,
        "attainment": percent(counts.attainment),
        "responded": counts.responded,
        "median": duration(counts.median_seconds),
        "p90": duration(counts.p90_seconds),
        "warned_now": counts.warned_now,
        "breached_now": counts.breached_now,
    }


def _sla_context(sla: SlaFigures, p: Period, chosen: str, *, board: bool) -> dict[str, Any]:
    def owner_link(row: SlaCounts) -> str:
        if row.owner_id is None:
            return ""
        return _link(
            "admin:leads_lead_changelist",
            owner=row.owner_id,
            created_at__gte=_when(p.since),
            created_at__lt=_when(p.until),
        )

    breaches = [
        (f"{t.market} · {t.team or '(no team)'}", t.breached) for t in sla.by_team if t.breached
    ]
    return {
        "sla": sla,
        "sla_total": _sla_cells(sla.total),
        "sla_markets": [_sla_cells(m) for m in sla.by_market],
        "sla_teams": [_sla_cells(t) for t in sla.by_team],
        "sla_owners": [{**_sla_cells(r), "link": owner_link(r)} for r in sla.rows],
        # Built from escaped labels and numbers only (leadops.dashboard.bars_svg).
        "sla_breach_chart": mark_safe(
            bars_svg(sorted(breaches, key=lambda kv: -kv[1]), chart_id="sla-breach-chart")
        ),
        "sla_responses_max": f"{RESPONSES_MAX:,}",
        # Only for people the board has something for (leadops.sla.admin_board.board_allowed).
        "sla_board_link": _link("admin:sla_board", market=chosen) if board else "",
    }


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    market_ids, _ = request_scope(request)
    p, markets, chosen = _period(request, market_ids)
    intake = intake_figures(p)
    exceptions = exception_figures(p, leads_created=intake.leads_created)
    routing = routing_figures(p)
    market_of = {m.pk: m for m in markets}
    single = market_of[p.market_ids[0]].pk if chosen and p.market_ids else None
    received = {"received_at__gte": _when(p.since), "received_at__lt": _when(p.until)}

    def submissions(**params: Any) -> str:
        return _link(
            "admin:leads_submission_changelist", market__id__exact=single, **received, **params
        )

    sources = [
        {
            "source": source,
            "cells": [
                (
                    counts.get(o, 0),
                    submissions(outcome__exact=o, source__id__exact=intake.source_ids.get(source)),
                )
                for o in OUTCOMES
            ],
            "total": sum(counts.values()),
        }
        for source, counts in sorted(intake.by_source.items())
    ]
    open_rows = [
        {
            **row,
            "label": _kind_label(row["kind"]),
            "median": exceptions.median_by_kind.get(row["kind"]),
            "open_link": _link(
                "admin:queue_exceptionitem_changelist", kind=row["kind"], market=row["market_id"]
            ),
            "overdue_link": _link(
                "admin:queue_exceptionitem_changelist",
                kind=row["kind"],
                market=row["market_id"],
                overdue="yes",
            ),
        }
        for row in exceptions.open_by
    ]
    per_kind: dict[str, int] = {}
    for row in exceptions.open_by:
        label = _kind_label(row["kind"])
        per_kind[label] = per_kind.get(label, 0) + row["open"]
    return {
        "period": p,
        "until_day": p.until.date().fromordinal(p.until.date().toordinal() - 1),
        "markets": markets,
        "chosen": chosen,
        "outcomes": OUTCOMES,
        "intake": intake,
        "outcome_cells": [
            (o, intake.by_outcome.get(o, 0), submissions(outcome__exact=o)) for o in OUTCOMES
        ],
        "all_submissions": submissions(),
        "sources": sources,
        "dedupe_rate": percent(intake.rate("merged", "review")),
        "quarantine_rate": percent(intake.rate("quarantined")),
        "manual_rate": percent(exceptions.manual_rate),
        # Both charts are built from escaped labels and numbers only (leadops.dashboard).
        "intake_chart": mark_safe(series_svg(intake.series)),
        "queue_chart": mark_safe(
            bars_svg(sorted(per_kind.items(), key=lambda kv: -kv[1]), chart_id="queue-chart")
        ),
        "exceptions": exceptions,
        "open_rows": open_rows,
        "queue_link": _link("admin:queue_exceptionitem_changelist"),
        "overdue_link": _link("admin:queue_exceptionitem_changelist", overdue="yes"),
        "period_leads_link": _link(
            "admin:leads_lead_changelist",
            created_at__gte=_when(p.since),
            created_at__lt=_when(p.until),
            market__id__exact=single,
        ),
        "routing": routing,
        "unroutable_rate": percent(routing.unroutable_rate),
        "unroutable_link": _link("admin:queue_exceptionitem_changelist", kind="unroutable"),
        "owner_rows": [
            {
                **row,
                "link": _link(
                    "admin:leads_lead_changelist",
                    owner=row["owner_id"],
                    created_at__gte=_when(p.since),
                    created_at__lt=_when(p.until),
                ),
            }
            for row in routing.by_team
        ],
        **_sla_context(sla_figures(p), p, chosen, board=board_allowed(request)),
        "later": LATER,
    }


def home_context(request: HttpRequest) -> dict[str, Any]:
    """The manager's home: their queue, their teams with who is available now, today's intake."""
    from leadops.leads.owners import assign_candidates
    from leadops.queue.models import ExceptionItem

    market_ids, _ = request_scope(request)
    today = timezone.now().date()
    p = period_of(since=today, until=today, market_ids=market_ids)
    now = timezone.now()
    items = ExceptionItem.objects.filter(status__in=["open", "claimed"]).order_by("due_at", "id")
    markets = list(Market.objects.filter(pk__in=market_ids).order_by("code"))
    intake = intake_figures(p)
    return {
        "queue": list(items.select_related("market", "claimed_by")[:10]),
        "queue_open": items.count(),
        "queue_overdue": items.filter(due_at__lt=now).count(),
        "mine": items.filter(claimed_by=request.user).count(),
        "queue_link": _link("admin:queue_exceptionitem_changelist"),
        "overdue_link": _link("admin:queue_exceptionitem_changelist", overdue="yes"),
        "now": now,
        "teams": [(m, assign_candidates(market_id=m.pk, at=now)) for m in markets],
        "today": intake,
        "today_cells": [(o, intake.by_outcome.get(o, 0)) for o in OUTCOMES],
        "today_link": _link(
            "admin:leads_submission_changelist",
            received_at__gte=_when(p.since),
            received_at__lt=_when(p.until),
        ),
    }
