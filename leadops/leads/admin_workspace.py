"""The lead page people work from: a header read at a glance, the actions (each a service with
its audit event) and the timeline. Views only; the lead admin wires them in."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.services import subject_erase
from leadops.core.admin import request_scope
from leadops.core.errors import ApplicationError
from leadops.leads.admin_reviews import compare_rows, posted_picks, side
from leadops.leads.hooks import lead_action, lead_panels
from leadops.leads.merges import leads_merge
from leadops.leads.models import Activity, Lead
from leadops.leads.normalize import normalize_phone
from leadops.leads.owners import assign_candidates, lead_assign
from leadops.leads.services import activity_record, lead_market_set, lead_status_change
from leadops.leads.status import allowed_next
from leadops.leads.timeline import lead_timeline
from leadops.markets.models import Market
from leadops.markets.services import is_revops
from leadops.queue.models import ExceptionItem

# What a person logs by hand (a status change is its own action).
LOGGABLE = [k for k in Activity.Kind if k != Activity.Kind.STATUS]


def workspace_context(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    market_ids, see_global = request_scope(request)
    open_items = ExceptionItem.objects.filter(
        target_type="leads.lead", target_id=str(lead.pk), status__in=["open", "claimed"]
    )
    return {
        "lead": lead,
        "open_items": list(open_items),
        "next_statuses": [(s, Lead.Status(s).label) for s in allowed_next(lead.status)],
        "candidates": assign_candidates(market_id=lead.market_id),
        "kinds": [(k.value, k.label) for k in LOGGABLE],
        "markets": list(Market.objects.filter(pk__in=market_ids).exclude(pk=lead.market_id)),
        "timeline": lead_timeline(lead=lead, market_ids=market_ids, see_global=see_global),
        "is_revops": is_revops(request.user),
        "can_change": request.user.has_perm("leads.change_lead")
        or request.user.has_perm("queue.change_exceptionitem"),
        "now": timezone.now(),
        "panels": {panel.key: panel for panel in lead_panels(lead=lead)},
    }


def lead_act(request: HttpRequest, lead: Lead) -> HttpResponse:
    """One action from the lead page; a refusal comes back as a message, nothing half-done."""
    action = request.POST.get("action", "")
    here = reverse("admin:leads_lead_change", args=[lead.pk])
    if not (
        request.user.has_perm("leads.change_lead")
        or request.user.has_perm("queue.change_exceptionitem")
    ):
        raise PermissionDenied
    try:
        if action == "status":
            if not request.POST.get("status"):
                raise ApplicationError("Choose the status the lead moves to.")
            lead_status_change(
                actor=request.user,
                lead=lead,
                status=request.POST.get("status", ""),
                note=request.POST.get("note", "").strip(),
            )
            messages.success(request, "Status changed.")
        elif action == "assign":
            owner_id = request.POST.get("owner", "")
            owner = get_object_or_404(User, pk=int(owner_id)) if owner_id.isdigit() else None
            lead_assign(
                actor=request.user, lead=lead, owner=owner, reason=request.POST.get("reason", "")
            )
            messages.success(request, f"Owner: {owner.get_username() if owner else 'nobody'}.")
        elif action == "activity":
            kind = request.POST.get("kind", "")
            if kind not in {k.value for k in LOGGABLE}:
                raise ApplicationError(
                    "Choose what happened: a call, an email, a meeting or a note."
                )
            when = parse_datetime(request.POST.get("occurred_at", "") or "") or timezone.now()
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
            activity_record(
                actor=request.user,
                lead=lead,
                kind=kind,
                occurred_at=when,
                note=request.POST.get("note", "").strip(),
                by_user=request.user,
            )
            messages.success(request, f"{Activity.Kind(kind).label} logged.")
        elif action == "market":
            market = get_object_or_404(Market.objects.all(), pk=_int(request.POST.get("market")))
            lead_market_set(actor=request.user, lead=lead, market=market)
            messages.success(request, f"Lead #{lead.pk} is now in {market.code}.")
        elif action == "merge_find":
            return _merge_find(request, lead)
        elif action == "erase":
            return _erase(request, lead)
        elif (registered := lead_action(action)) is not None:
            messages.success(request, registered(actor=request.user, lead=lead, data=request.POST))
        else:
            messages.error(request, f"Unknown action {action!r}.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(here)


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def _merge_find(request: HttpRequest, lead: Lead) -> HttpResponse:
    """Another lead by exact email or phone (normalized, as the lead list searches)."""
    from leadops.leads.admin import lead_search_terms

    term = request.POST.get("term", "").strip()
    terms = lead_search_terms(term) if term else {}
    if "company_domain" in terms:  # a local number: read it in the lead's own country
        phone = normalize_phone(term, region=lead.country or None)
        terms = {"phone_e164": phone.value} if phone.value else terms
    if not terms or "company_domain" in terms:
        messages.error(request, "Give an exact email or phone of the other lead.")
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))
    found = list(
        Lead.objects.filter(**terms, merged_into__isnull=True)
        .exclude(pk=lead.pk)
        .order_by("id")[:2]
    )
    if not found:
        messages.error(request, f"No other lead in your markets has {term}.")
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))
    if len(found) > 1:
        messages.info(request, f"Several leads have {term}: comparing with the oldest.")
    return HttpResponseRedirect(reverse("admin:leads_lead_compare", args=[lead.pk, found[0].pk]))


def _erase(request: HttpRequest, lead: Lead) -> HttpResponse:
    """RevOps only, confirmed by typing ERASE: every copy of the person's email and phone."""
    if not is_revops(request.user):
        raise PermissionDenied
    if request.POST.get("confirm", "").strip() != "ERASE":
        messages.error(request, "Type ERASE to confirm: erasure cannot be undone.")
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))
    identities = [f"email:{lead.email_norm}"] if lead.email_norm else []
    identities += [f"phone:{lead.phone_e164}"] if lead.phone_e164 else []
    if not identities:
        messages.error(request, "This lead holds no email or phone to erase.")
    for identity in identities:
        subject_erase(actor=request.user, identity=identity)
    if identities:
        messages.success(
            request, f"Erased: {len(identities)} identit{'y' if len(identities) == 1 else 'ies'}."
        )
    return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))


def compare_view(
    model_admin: Any, request: HttpRequest, lead_id: int, other_id: int
) -> HttpResponse:
    """Two leads side by side, found from the lead page: merge either way, picking values."""
    if not request.user.has_perm("queue.change_exceptionitem"):
        raise PermissionDenied
    leads = model_admin.get_queryset(request)
    left = get_object_or_404(leads, pk=lead_id)
    right = get_object_or_404(leads, pk=other_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        survivor, absorbed = (left, right) if action == "merge_left" else (right, left)
        picks = posted_picks(request, survivor_is_left=survivor is left)
        try:
            if action not in ("merge_left", "merge_right"):
                raise ApplicationError("Choose merge into the left or into the right.")
            leads_merge(
                actor=request.user,
                survivor=survivor,
                absorbed=absorbed,
                picks=picks,
                note=request.POST.get("note", "").strip() or "merged from the lead page",
            )
            messages.success(request, f"Lead #{absorbed.pk} merged into lead #{survivor.pk}.")
            return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[survivor.pk]))
        except ApplicationError as exc:
            messages.error(request, exc.message)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Lead #{left.pk} and lead #{right.pk}",
        "left": {"lead": left},
        "right": {"lead": right},
        "rows": compare_rows(left, right),
        "picking": True,
        "sides": [side(left), side(right)],
    }
    return TemplateResponse(request, "admin/leads/lead/compare.html", context)
