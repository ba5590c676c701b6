"""The lead admin's pages for duplicates: the side-by-side review, the conflicting-identity
choice, and unmerge with its preview. Views only: every change goes through the services in
`reviews.py`, `merges.py` and the queue's `exception_resolve`."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from leadops.core.errors import ApplicationError
from leadops.leads.dedupe import TIERS
from leadops.leads.merges import PICKABLE, differing, lead_unmerge, lead_unmerge_preview
from leadops.leads.models import Activity, Lead, LeadMerge, SourceTouch
from leadops.leads.reviews import identity_leads, review_leads
from leadops.markets.services import is_revops
from leadops.queue.models import ExceptionItem
from leadops.queue.services import exception_resolve

# The rows of the side-by-side table: label → the columns shown.
COMPARED: list[tuple[str, str, tuple[str, ...]]] = [
    ("name", "Name", ("first_name", "last_name")),
    ("email", "Email", ("email",)),
    ("phone", "Phone", ("phone_e164",)),
    ("company", "Company", ("company",)),
    ("website", "Company domain", ("company_domain",)),
    ("title", "Title", ("title",)),
    ("place", "Country, region, postal code", ("country", "region", "postal_code")),
    ("market", "Market", ("market",)),
    ("status", "Status", ("status",)),
    ("owner", "Owner", ("owner",)),
    ("created", "Created", ("created_at",)),
]


def _can_work_queue(request: HttpRequest) -> None:
    if not request.user.has_perm("queue.change_exceptionitem"):
        raise PermissionDenied


def _value(lead: Lead, columns: tuple[str, ...]) -> str:
    parts = [getattr(lead, c) for c in columns]
    return (
        " ".join(
            f"{p:%Y-%m-%d %H:%M} UTC" if hasattr(p, "strftime") else str(p)
            for p in parts
            if p not in (None, "")
        )
        or "—"
    )


# What a merge does with a field the person does not pick (shown where the leads differ).
KEPT_NOTE = {
    "market": "the survivor's: a merge never changes it",
    "status": "the survivor's: a merge never changes it",
    "owner": "the survivor's: a merge never changes it",
    "email": "each lead keeps its own; the absorbed one's still finds the survivor",
    "created": "—",
}
FILL_NOTE = "the survivor's; filled from the other lead where empty"


def side(lead: Lead) -> dict[str, Any]:
    return {
        "lead": lead,
        "touches": list(
            SourceTouch.objects.filter(lead=lead).select_related("source", "submission")[:20]
        ),
        "activities": list(Activity.objects.filter(lead=lead)[:20]),
    }


def compare_rows(left: Lead, right: Lead) -> list[dict[str, Any]]:
    """Each compared field with both values, whether they differ, and whether the person picks
    which survives (pickable and both non-empty)."""
    pickable = set(differing(left, right))
    rows = []
    for key, label, columns in COMPARED:
        a, b = _value(left, columns), _value(right, columns)
        rows.append(
            {
                "key": key,
                "label": label,
                "left": a,
                "right": b,
                "differs": a != b,
                "pick": key in pickable,
                "note": KEPT_NOTE.get(key, FILL_NOTE) if a != b else "—",
            }
        )
    return rows


def posted_picks(request: HttpRequest, *, survivor_is_left: bool) -> dict[str, str]:
    """The side-by-side form names the side whose value survives (`pick:<field>` = left or
    right); the merge service wants "survivor" or "absorbed"."""
    picks = {}
    for key in PICKABLE:
        side = request.POST.get(f"pick:{key}")
        if side in ("left", "right"):
            picks[key] = "survivor" if (side == "left") == survivor_is_left else "absorbed"
    return picks


def review_view(model_admin: Any, request: HttpRequest, item_id: int) -> HttpResponse:
    """A `duplicate_review` item side by side: its lead on the left, a candidate on the right."""
    _can_work_queue(request)
    item = get_object_or_404(ExceptionItem.objects.all(), pk=item_id, kind="duplicate_review")
    lead, candidates = review_leads(item)
    if lead is None:
        raise Http404("The item's lead is not there.")
    if request.method == "POST":
        return _review_decide(request, item, lead, candidates)
    chosen = request.GET.get("candidate", "")
    right = next(
        (c for c in candidates if str(c.pk) == chosen), candidates[0] if candidates else None
    )
    tiers = {c["lead"]: c.get("tiers", []) for c in (item.details or {}).get("candidates", [])}
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Possible duplicate: lead #{lead.pk}",
        "item": item,
        "left": {"lead": lead},
        "right": {"lead": right} if right else None,
        "candidates": [(c, [TIERS[t] for t in tiers.get(c.pk, [])]) for c in candidates],
        "rows": compare_rows(lead, right) if right else [],
        "picking": not item.is_closed,
        "sides": [side(lead), side(right)] if right else [],
        "details": item.details or {},
        "closed": item.is_closed,
    }
    return TemplateResponse(request, "admin/leads/lead/review.html", context)


def _review_decide(
    request: HttpRequest, item: ExceptionItem, lead: Lead, candidates: list[Lead]
) -> HttpResponse:
    action = request.POST.get("action", "")
    note = request.POST.get("note", "").strip()
    other = next((c for c in candidates if str(c.pk) == request.POST.get("candidate")), None)
    here = reverse("admin:leads_lead_review", args=[item.pk])
    try:
        if action in ("merge_left", "merge_right") and other is not None:
            survivor, absorbed = (lead, other) if action == "merge_left" else (other, lead)
            picks = posted_picks(request, survivor_is_left=survivor is lead)
            value = json.dumps({"survivor": survivor.pk, "absorbed": absorbed.pk, "picks": picks})
            exception_resolve(
                actor=request.user, item=item, resolution="merge", note=note, value=value
            )
            messages.success(request, f"Lead #{absorbed.pk} merged into lead #{survivor.pk}.")
            return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[survivor.pk]))
        if action == "separate":
            exception_resolve(actor=request.user, item=item, resolution="separate", note=note)
            messages.success(request, "Kept separate: this pair will not be flagged again.")
            return HttpResponseRedirect(reverse("admin:queue_exceptionitem_changelist"))
        messages.error(
            request, "Choose merge into the left, merge into the right, or keep separate."
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(here)


def identity_view(model_admin: Any, request: HttpRequest, item_id: int) -> HttpResponse:
    """A conflicting identity: the held submission, the lead its email names and the lead its
    external id names, side by side, with the choices."""
    _can_work_queue(request)
    item = get_object_or_404(ExceptionItem.objects.all(), pk=item_id, kind="quarantined")
    submission, by_email, by_id = identity_leads(item)
    if submission is None or by_email is None or by_id is None:
        raise Http404("The submission or one of its leads is not there.")
    if request.method == "POST":
        choice = request.POST.get("choice", "")
        try:
            exception_resolve(
                actor=request.user,
                item=item,
                resolution="attach",
                note=request.POST.get("note", "").strip(),
                value=choice,
            )
            messages.success(request, "Done: the submission has its lead.")
            return HttpResponseRedirect(reverse("admin:queue_exceptionitem_changelist"))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:leads_lead_identity", args=[item.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Conflicting identity: submission #{submission.pk}",
        "item": item,
        "submission": submission,
        "left": {"lead": by_email},
        "right": {"lead": by_id},
        "rows": compare_rows(by_email, by_id),
        "picking": False,
        "sides": [side(by_email), side(by_id)],
        "closed": item.is_closed,
    }
    return TemplateResponse(request, "admin/leads/lead/identity.html", context)


def unmerge_view(model_admin: Any, request: HttpRequest, merge_id: int) -> HttpResponse:
    """RevOps: what an unmerge would restore and what arrived since, then the unmerge."""
    if not is_revops(request.user):
        raise PermissionDenied
    merge = get_object_or_404(LeadMerge.objects.select_related("survivor", "absorbed"), pk=merge_id)
    if request.method == "POST":
        try:
            lead_unmerge(
                actor=request.user,
                merge=merge,
                touches=[int(i) for i in request.POST.getlist("touch") if i.isdigit()],
                activities=[int(i) for i in request.POST.getlist("activity") if i.isdigit()],
                note=request.POST.get("note", "").strip(),
            )
            messages.success(request, f"Unmerged: lead #{merge.absorbed_id} is back.")
            return HttpResponseRedirect(
                reverse("admin:leads_lead_change", args=[merge.absorbed_id])
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:leads_lead_unmerge", args=[merge.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Unmerge lead #{merge.absorbed_id} from lead #{merge.survivor_id}",
        "merge": merge,
        "preview": None if merge.snapshot.get("erased") else lead_unmerge_preview(merge=merge),
        "restored": merge.snapshot.get("absorbed", {}),
    }
    return TemplateResponse(request, "admin/leads/lead/unmerge.html", context)


def lead_duplicates_context(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    """What the lead page says about duplicates: where it was merged, what was merged into
    it, its open review items, the leads marked as other people, and what the reader may do."""
    from leadops.leads.models import DuplicateMark

    marks = DuplicateMark.objects.filter(lead_low=lead) | DuplicateMark.objects.filter(
        lead_high=lead
    )
    return {
        "merged_into": lead.merged_into_id,
        "absorbed_here": list(
            LeadMerge.objects.filter(survivor=lead, state=LeadMerge.State.MERGED)
        ),
        "merged_away": LeadMerge.objects.filter(
            absorbed=lead, state=LeadMerge.State.MERGED
        ).first(),
        "reviews": list(
            ExceptionItem.objects.filter(
                kind="duplicate_review",
                target_type="leads.lead",
                target_id=str(lead.pk),
                status__in=["open", "claimed"],
            )
        ),
        "marks": [
            (m, m.lead_high_id if m.lead_low_id == lead.pk else m.lead_low_id)
            for m in marks.order_by("-created_at")
        ],
        "touches": list(
            SourceTouch.objects.filter(lead=lead).select_related("source").order_by("-occurred_at")
        ),
        "can_unmerge": is_revops(request.user),
        "can_work": request.user.has_perm("queue.change_exceptionitem"),
    }


def duplicates_act(request: HttpRequest, lead: Lead) -> None:
    from leadops.leads.merges import duplicate_mark_remove, submission_detach
    from leadops.leads.models import DuplicateMark, Submission
    from leadops.leads.reviews import lead_duplicates_check

    _can_work_queue(request)
    action = request.POST.get("action", "")
    note = request.POST.get("note", "").strip()
    kind, _, ref = action.partition(":")
    try:
        if action == "check":
            item_id = lead_duplicates_check(actor=request.user, lead=lead)
            if item_id:
                messages.success(request, f"Possible duplicates found: review item #{item_id}.")
            else:
                messages.info(request, "No possible duplicate (or a review is already open).")
        elif kind == "unmark" and ref.isdigit():
            mark = get_object_or_404(DuplicateMark.objects.all(), pk=int(ref))
            duplicate_mark_remove(actor=request.user, mark=mark, note=note)
            messages.success(request, "The mark is removed: the pair may be reviewed again.")
        elif kind == "detach" and ref.isdigit():
            submission = get_object_or_404(Submission.objects.all(), pk=int(ref), lead=lead)
            new = submission_detach(actor=request.user, submission=submission, note=note)
            messages.success(request, f"Submission #{submission.pk} is now lead #{new.pk}.")
        else:
            messages.error(request, f"Unknown action {action!r}.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
