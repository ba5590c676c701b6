"""The manager's SLA board (/admin/sla/board/): for the reader's markets, the open clocks per
owner, what is due next, and what breached today in each market's own day.

A view and its context only; the figures are `leadops.sla.reports` selectors, a fixed number of
queries however many clocks are shown. The page runs in the reader's market context (the admin
site's `admin_view`), so row-level security applies on top of the market filter here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from leadops.core.admin import request_scope
from leadops.core.labels import duration, local_time
from leadops.markets.models import Market
from leadops.sla.models import Timer
from leadops.sla.reports import (
    board_breaches_today,
    board_due_next,
    board_owners,
    market_day,
)

DUE_NEXT = 20
BREACHES_SHOWN = 50


def viewer_time(moment: datetime | None) -> SafeString | str:
    """A time for the script on the page to show in the reader's own zone (UTC until then)."""
    if moment is None:
        return "—"
    utc = moment.astimezone(UTC)
    return format_html(
        '<time class="lo-viewer-time" datetime="{}">{}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M UTC"),
    )


def clock_time(moment: datetime | None, zone: str) -> SafeString | str:
    """The time of day only, in the market's zone ("03:01 EST"): for today's breaches, whose
    day the table already says; the whole date and UTC on hover."""
    if moment is None:
        return "—"
    here = moment.astimezone(ZoneInfo(zone))
    utc = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        utc.isoformat(),
        here.strftime("%Y-%m-%d %H:%M %Z"),
        here.strftime("%H:%M %Z"),
    )


def _lead(timer: Timer) -> dict[str, Any]:
    company = timer.lead.company if timer.lead_id else ""
    return {
        "lead_id": timer.lead_id,
        "lead_label": f"Lead #{timer.lead_id}" + (f" · {company}" if company else ""),
        "lead_link": reverse("admin:leads_lead_change", args=[timer.lead_id]),
        "market": timer.market.code,
        "owner": timer.owner.get_username() if timer.owner else None,
        "policy": timer.choice.get("policy", ""),
    }


def _due_row(timer: Timer, now: datetime) -> dict[str, Any]:
    left = (timer.due_at - now).total_seconds()
    return {
        **_lead(timer),
        "timer_id": timer.pk,
        "warned": timer.warned_at is not None,
        "overdue": left < 0,
        "due_in": duration(left),
        "due_market": local_time(timer.due_at, timer.market.timezone),
        "due_viewer": viewer_time(timer.due_at),
    }


def _breach_row(timer: Timer, now: datetime) -> dict[str, Any]:
    zone = timer.market.timezone
    past_due = ""
    if timer.met_at is not None:
        response = format_html("answered late, {}", local_time(timer.met_at, zone))
    elif timer.closed_at is not None:
        response = format_html("none: lead {}", timer.closed_reason or "closed")
    else:
        response = mark_safe("<strong>none yet</strong>")
        past_due = duration((now - timer.due_at).total_seconds())
    return {
        **_lead(timer),
        "timer_id": timer.pk,
        "open": timer.closed_at is None,
        "due_market": local_time(timer.due_at, zone),
        "breached_market": clock_time(timer.breached_at, zone),
        "breached_viewer": viewer_time(timer.breached_at),
        "response": response,
        "past_due": past_due,
    }


def _leads_of(owner_id: int | None) -> str:
    if owner_id is None:
        return ""
    return reverse("admin:leads_lead_changelist") + "?" + urlencode({"owner": owner_id})


def board_context(request: HttpRequest, *, now: datetime | None = None) -> dict[str, Any]:
    """What the board shows for the reader's markets (narrowed by `?market=CODE`)."""
    market_ids, _ = request_scope(request)
    now = now or timezone.now()
    markets = list(Market.objects.filter(pk__in=market_ids).order_by("code"))
    chosen = request.GET.get("market", "")
    shown = [m for m in markets if not chosen or m.code == chosen]
    ids = [m.pk for m in shown]
    owners = board_owners(ids)
    due = board_due_next(ids, limit=DUE_NEXT)
    breaches, breaches_total = board_breaches_today(shown, now=now, limit=BREACHES_SHOWN)
    return {
        "now": now,
        "markets": markets,
        "chosen": chosen,
        "days": [
            {
                "market": m,
                "day": market_day(m, now)[0].date(),
                "now": local_time(now, m.timezone),
            }
            for m in shown
        ],
        "owners": [{**vars(o), "link": _leads_of(o.owner_id)} for o in owners],
        "open_total": sum(o.open for o in owners),
        "warned_total": sum(o.warned for o in owners),
        "breached_total": sum(o.breached for o in owners),
        "due": [_due_row(t, now) for t in due],
        "due_limit": DUE_NEXT,
        "breaches": [_breach_row(t, now) for t in breaches],
        "breaches_total": breaches_total,
        "breaches_limit": BREACHES_SHOWN,
        "dashboard_link": reverse("admin:dashboard")
        + (f"?{urlencode({'market': chosen})}" if chosen else ""),
    }


def board_allowed(request: HttpRequest) -> bool:
    """Whether the board has anything for this person: a market of theirs, and leads to read."""
    market_ids, _ = request_scope(request)
    return bool(market_ids) and request.user.has_perm("leads.view_lead")


def sla_board_view(request: HttpRequest, site_context: dict[str, Any]) -> TemplateResponse:
    """The board; anyone without a market (or leave to read leads) is refused with a page that
    says why, since there would be nothing of theirs on it."""
    context: dict[str, Any] = {**site_context, "title": "SLA board"}
    if not board_allowed(request):
        return TemplateResponse(
            request, "admin/sla/board.html", {**context, "refused": True}, status=403
        )
    return TemplateResponse(request, "admin/sla/board.html", {**context, **board_context(request)})
