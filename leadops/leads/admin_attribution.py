"""The attribution report page (Leads → Attribution): the same numbers as
`GET /api/v1/reports/attribution`, for the reader's markets."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.dateparse import parse_date
from django.utils.safestring import mark_safe

from leadops.core.admin import request_scope
from leadops.leads.attribution import attribution_report, bars_svg, period, totals
from leadops.markets.models import Market


def attribution_view(model_admin: Any, request: HttpRequest) -> HttpResponse:
    market_ids, _ = request_scope(request)
    since = parse_date(request.GET.get("since", "") or "")
    until = parse_date(request.GET.get("until", "") or "")
    errors = []
    if since and until and since > until:
        errors.append("The first day must not be after the last.")
        since = until = None
    markets = list(Market.objects.filter(pk__in=market_ids).order_by("code"))
    chosen = request.GET.get("market", "")
    wanted = {m.pk for m in markets if not chosen or m.code == chosen}
    start, end = period(since, until)
    rows = attribution_report(market_ids=wanted, since=start, until=end)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Attribution",
        "rows": rows,
        "totals": totals(rows),
        # Built from escaped labels and numbers only (attribution.bars_svg).
        "chart": mark_safe(bars_svg(rows)),
        "markets": markets,
        "chosen": chosen,
        "since": start.date(),
        "until": (end.date().fromordinal(end.date().toordinal() - 1)),
        "errors": errors,
    }
    return TemplateResponse(request, "admin/leads/lead/attribution.html", context)
