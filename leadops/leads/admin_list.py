"""The lead list at scale: filters that stay index-friendly, a paginator that never counts the
whole table, and bulk actions through the services (one transaction per chunk)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db.models import BigIntegerField, BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from leadops.core.admin import request_scope
from leadops.leads.models import Lead
from leadops.leads.owners import BulkReport, lead_assign, leads_bulk
from leadops.leads.services import lead_status_change
from leadops.markets.models import TeamMember
from leadops.queue.models import ExceptionItem

COUNT_CAP = 5_000
OPEN_IDS_INLINE = 50_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 matching rows (a bounded scan, never the whole table, as
    DESIGN.md asks); past that the list says "more than 5000" and pages stop there."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        self.cap = COUNT_CAP
        # Unordered: counting needs no order, and with one a filtered count walks the sort
        # index row by row (bench/admin_leads.py: 0.5 to 1 s at 1M leads).
        rows = self.object_list.order_by()  # type: ignore[attr-defined]
        return int(rows[: self.cap + 1].count())

    @property
    def capped(self) -> bool:
        return self.count > self.cap


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        market_ids, _ = request_scope(request)
        # The people who can own these leads: members of teams in the reader's markets.
        users = (
            User.objects.filter(
                pk__in=TeamMember.objects.filter(market_id__in=market_ids).values("user_id")
            )
            .order_by("username")
            .values_list("pk", "username")[:200]
        )
        return [("me", "Mine"), ("none", "Nobody"), *((str(pk), name) for pk, name in users)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "me":
            return queryset.filter(owner=request.user)
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value and value.isdigit():
            return queryset.filter(owner_id=int(value))
        return queryset


class OpenExceptionFilter(admin.SimpleListFilter):
    """Leads with an open or claimed item: the few such leads are found from the queue's side
    (an index on the open items' targets), never by probing every lead."""

    title = "open exception"
    parameter_name = "open_exception"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has one"), ("no", "Has none")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() not in ("yes", "no"):
            return queryset
        targets = (
            ExceptionItem.objects.filter(target_type="leads.lead", status__in=["open", "claimed"])
            .order_by()
            .values_list(Cast("target_id", BigIntegerField()), flat=True)
        )
        # The ids themselves, as one array (the usual case: open items are few next to the
        # leads): the planner then fetches those leads by key instead of walking the list in
        # order and probing each one; one array, not thousands of IN parameters to compile.
        ids = list(targets[: OPEN_IDS_INLINE + 1])
        if len(ids) > OPEN_IDS_INLINE:
            return (
                queryset.filter(pk__in=targets)
                if self.value() == "yes"
                else queryset.exclude(pk__in=targets)
            )
        among = RawSQL('"leads_lead"."id" = ANY(%s::bigint[])', [ids], output_field=BooleanField())
        return queryset.filter(among if self.value() == "yes" else ~Q(among))


def _leads(queryset: QuerySet[Lead]) -> list[int]:
    return list(queryset.order_by().values_list("pk", flat=True))


def _report(request: HttpRequest, what: str, report: BulkReport) -> None:
    messages.success(request, f"{what}: {report.done} lead(s).")
    for lead_id, why in list(report.refused.items())[:10]:
        messages.warning(request, f"Lead #{lead_id}: {why}")
    if len(report.refused) > 10:
        messages.warning(request, f"…and {len(report.refused) - 10} more refused.")


@admin.action(description="Assign selected leads to…", permissions=["work"])
def assign_selected(model_admin: Any, request: HttpRequest, queryset: QuerySet[Lead]) -> Any:
    """An intermediate page (owner and reason), then `lead_assign` per lead."""
    if request.POST.get("apply") == "1":
        owner_id = request.POST.get("owner", "")
        owner = User.objects.filter(pk=int(owner_id)).first() if owner_id.isdigit() else None
        reason = request.POST.get("reason", "")
        report = leads_bulk(
            lead_ids=_leads(queryset),
            act=lambda lead: lead_assign(actor=request.user, lead=lead, owner=owner, reason=reason),
        )
        _report(request, f"Assigned to {owner.get_username() if owner else 'nobody'}", report)
        return None
    market_ids, _ = request_scope(request)
    owners = User.objects.filter(
        pk__in=TeamMember.objects.filter(market_id__in=market_ids, is_active=True).values("user_id")
    ).order_by("username")
    return _intermediate(model_admin, request, queryset, "assign_selected", {"owners": owners})


@admin.action(description="Change the status of selected leads…", permissions=["work"])
def status_selected(model_admin: Any, request: HttpRequest, queryset: QuerySet[Lead]) -> Any:
    """An intermediate page (status and note), then `lead_status_change` per lead (a lead that
    cannot make that move is refused and listed)."""
    if request.POST.get("apply") == "1":
        status, note = request.POST.get("status", ""), request.POST.get("note", "")
        report = leads_bulk(
            lead_ids=_leads(queryset),
            act=lambda lead: lead_status_change(
                actor=request.user, lead=lead, status=status, note=note
            ),
        )
        _report(request, f"Status {status}", report)
        return None
    statuses = [s for s in Lead.Status if s != Lead.Status.HELD]
    return _intermediate(model_admin, request, queryset, "status_selected", {"statuses": statuses})


def _intermediate(
    model_admin: Any, request: HttpRequest, queryset: QuerySet[Lead], action: str, extra: dict
) -> HttpResponse:
    ids = _leads(queryset)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Assign leads" if action == "assign_selected" else "Change status",
        "action": action,
        "ids": ids[:50],
        "count": len(ids),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "query": request.GET.urlencode(),
        **extra,
    }
    return TemplateResponse(request, "admin/leads/lead/bulk.html", context)
