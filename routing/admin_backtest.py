"""Backtest pages: a run's result for the reader's markets (summary, matrix, rule hits, changed
leads), one changed lead with both traces, and the CSV of the changed leads. Views only."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.dateparse import parse_datetime

from leadops.core.admin import request_scope
from leadops.leads.models import Lead
from routing.backtest import _Past, _replay
from routing.backtests import run_is_stale
from routing.engine import compile_version, trace_rows
from routing.models import BacktestPart, BacktestRun
from routing.world import Published

SHOWN = 200


def _parts(request: HttpRequest, run: BacktestRun) -> list[BacktestPart]:
    market_ids, _ = request_scope(request)
    return list(run.parts.filter(market_id__in=sorted(market_ids)).select_related("market"))


def run_context(request: HttpRequest, run: BacktestRun) -> dict[str, Any]:
    parts = _parts(request, run)
    totals: Counter[str] = Counter()
    matrix: Counter[tuple[str, str]] = Counter()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    changed: list[dict[str, Any]] = []
    for part in parts:
        s = part.summary
        for key in (
            "evaluated",
            "unchanged",
            "moved",
            "newly_unroutable",
            "newly_routable",
            "eligible_pool_changed",
            "approximate",
        ):
            totals[key] += s.get(key, 0)
        for cell in s.get("matrix", []):
            matrix[(cell["before"], cell["after"])] += cell["leads"]
        before.update(s.get("rule_hits", {}).get("before", {}))
        after.update(s.get("rule_hits", {}).get("after", {}))
        changed.extend({**row, "market": part.market.code} for row in part.changed)
    widest = max(matrix.values(), default=1)
    return {
        "run": run,
        "stale": run_is_stale(run),
        "parts": parts,
        "hidden": len(run.market_ids) - len(parts) if run.job.is_finished else 0,
        "totals": totals,
        "matrix": [
            {"before": b, "after": a, "leads": n, "width": int(300 * n / widest), "same": a == b}
            for (b, a), n in sorted(matrix.items(), key=lambda kv: -kv[1])
        ],
        "rules": [
            {"rule": r, "before": before.get(r, 0), "after": after.get(r, 0)}
            for r in sorted(set(before) | set(after))
        ],
        "changed": changed[:SHOWN],
        "changed_count": len(changed),
    }


def run_page(request: HttpRequest, run: BacktestRun, site_context: dict[str, Any]) -> HttpResponse:
    context = {**site_context, "title": f"Backtest of {run.version}", **run_context(request, run)}
    return TemplateResponse(request, "admin/routing/backtest/page.html", context)


def run_csv(request: HttpRequest, run: BacktestRun) -> HttpResponse:
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(
        [
            "market",
            "lead",
            "at",
            "change",
            "team_before",
            "rule_before",
            "team_after",
            "rule_after",
            "approximate",
        ]
    )
    for part in _parts(request, run):
        for row in part.changed:
            b, a = row["before"], row["after"]
            out.writerow(
                [
                    part.market.code,
                    row["lead"],
                    row["at"],
                    row["change"],
                    b["team"],
                    b["rule"],
                    a["team"],
                    a["rule"],
                    b["approximate"] or a["approximate"],
                ]
            )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="backtest-{run.pk}-changed.csv"'
    return response


def run_lead(
    request: HttpRequest, run: BacktestRun, lead_id: int, site_context: dict[str, Any]
) -> HttpResponse:
    """One changed lead replayed again, this time with both traces (stored results keep counts
    and outcomes only)."""
    part = next(
        (p for p in _parts(request, run) if any(r["lead"] == lead_id for r in p.changed)), None
    )
    lead = Lead.objects.filter(pk=lead_id).first()
    if part is None or lead is None:
        raise Http404
    row = next(r for r in part.changed if r["lead"] == lead_id)
    version = run.version
    past = _Past([part.market_id])
    draft = Published(
        version.pk, version.number, version.market_id, compile_version(version.content)
    )
    at = parse_datetime(row["at"])
    if at is None:
        raise Http404
    chunk = [(lead.pk, lead.market_id, at)]
    # A replay with traces: the same moment, the same past.
    [replayed] = list(_replay(chunk, past, draft, trace=True))
    sides = []
    for label, plan in (
        ("published then", replayed.before_plan),
        (f"v{version.number}", replayed.after_plan),
    ):
        rules = trace_rows(plan.trace, {**past.contents, version.pk: version.content})
        sides.append({"label": label, "plan": plan, "rules": rules})
    context = {
        **site_context,
        "title": f"Lead #{lead_id} in backtest #{run.pk}",
        "run": run,
        "row": row,
        "lead": lead,
        "sides": sides,
    }
    return TemplateResponse(request, "admin/routing/backtest/lead.html", context)
