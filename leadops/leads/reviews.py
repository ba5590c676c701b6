"""The `duplicate_review` exception kind, the conflicting-identity choices, and a lead's
duplicate check outside intake.

A review item is resolved from its review page (leads admin) through `exception_resolve`, so
claiming, closing and the audit trail are the queue's; the handlers here do the lead work in
the same transaction.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.urls import reverse

from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.leads.dedupe import Found, Review, review_find, shared_phone_limit
from leadops.leads.merges import distinct_from, leads_mark_distinct, leads_merge
from leadops.leads.models import Lead, SourceTouch, Submission
from leadops.queue.models import ExceptionItem
from leadops.queue.registry import ExceptionKind, Resolution


def review_leads(item: ExceptionItem) -> tuple[Lead | None, list[Lead]]:
    """The item's lead and its candidates still open to review (not merged away, not marked
    distinct since), as the reader may see them (RLS applies)."""
    details = item.details or {}
    lead = Lead.objects.filter(pk=int(details.get("lead") or 0)).first()
    ids = [c["lead"] for c in details.get("candidates", []) if c.get("lead")]
    if lead is not None:
        ids = [i for i in ids if i not in distinct_from(lead.pk)]
    by_id = {c.pk: c for c in Lead.objects.filter(pk__in=ids, merged_into__isnull=True)}
    return lead, [by_id[i] for i in ids if i in by_id]


def _decision(value: str) -> dict[str, Any]:
    try:
        decision = json.loads(value or "{}")
    except ValueError:
        decision = None
    if not isinstance(decision, dict):
        raise ApplicationError("The decision could not be read; reload the page.", code="bad_value")
    return decision


def _merge(*, item: ExceptionItem, actor: Actor, value: str = "", note: str = "", **_: Any) -> None:
    """value: {"survivor": id, "absorbed": id, "picks": {field: "survivor"|"absorbed"}}; both
    leads must be the item's lead and one of its candidates."""
    decision = _decision(value)
    lead, candidates = review_leads(item)
    allowed = {c.pk for c in candidates} | ({lead.pk} if lead else set())
    pair = {decision.get("survivor"), decision.get("absorbed")}
    if lead is None or lead.pk not in pair or not pair <= allowed or len(pair) != 2:
        raise ApplicationError(
            "Merge the item's lead with one of its candidates.", code="not_in_item"
        )
    leads_merge(
        actor=actor,
        survivor=Lead.objects.get(pk=decision["survivor"]),
        absorbed=Lead.objects.get(pk=decision["absorbed"]),
        picks=decision.get("picks") or {},
        note=note or f"review item #{item.pk}",
    )


def _separate(*, item: ExceptionItem, actor: Actor, note: str = "", **_: Any) -> None:
    lead, candidates = review_leads(item)
    if lead is None:
        raise ApplicationError("The item's lead is gone: dismiss the item.", code="no_lead")
    for candidate in candidates:
        leads_mark_distinct(actor=actor, lead=lead, other=candidate, note=note or "kept separate")


def review_page_url(item: ExceptionItem) -> str:
    return reverse("admin:leads_lead_review", args=[item.pk])


DUPLICATE_REVIEW = ExceptionKind(
    key="duplicate_review",
    label="Possible duplicate",
    owner_group="Managers {market}",
    recovery=timedelta(hours=24),
    page=review_page_url,
    resolutions=(
        Resolution("merge", "Merge", _merge, help="Merge the two leads (undoable).", on_page=True),
        Resolution(
            "separate",
            "Keep separate",
            _separate,
            help="Different people: never flag again.",
            on_page=True,
        ),
    ),
)


# --- conflicting identity: the email says one lead, the external id another ----------------


def identity_leads(item: ExceptionItem) -> tuple[Submission | None, Lead | None, Lead | None]:
    details = item.details or {}
    submission = Submission.objects.filter(pk=int(details.get("submission") or 0)).first()
    by_email = Lead.objects.filter(pk=int(details.get("email_lead") or 0)).first()
    by_id = Lead.objects.filter(pk=int(details.get("external_id_lead") or 0)).first()
    return submission, by_email, by_id


def _attach(*, item: ExceptionItem, actor: Actor, value: str = "", **_: Any) -> None:
    """value: "email" or "external_id" (the lead the held submission belongs to gets its touch),
    or "merge": both leads are that one person: the external id's lead is merged into the
    email's, which gets the touch."""
    submission, by_email, by_id = identity_leads(item)
    lead = {"email": by_email, "external_id": by_id, "merge": by_email}.get(value)
    if submission is None or lead is None or by_id is None:
        raise ApplicationError("Choose the lead this submission belongs to.", code="bad_value")
    if value == "merge":
        leads_merge(
            actor=actor, survivor=lead, absorbed=by_id, note=f"conflicting identity #{item.pk}"
        )
    submission_attach(actor=actor, submission=submission, lead=lead)


@transaction.atomic
def submission_attach(*, actor: Actor, submission: Submission, lead: Lead) -> SourceTouch:
    """Give a held submission (which reached no lead) to `lead` as a source touch: attribution
    only; the lead's fields stay as they are."""
    from audit.services import audit_record
    from leadops.leads.fields import UTM_FIELDS

    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.lead_id is not None or submission.source_id is None:
        raise ApplicationError("This submission already belongs to a lead.", code="has_lead")
    payload = submission.payload if isinstance(submission.payload, dict) else {}
    touch = SourceTouch.objects.create(
        lead=lead,
        market_id=lead.market_id,
        submission=submission,
        source_id=submission.source_id,
        campaign=str(payload.get("utm_campaign") or "")[:200],
        occurred_at=submission.received_at,
        **{k: str(payload.get(k) or "")[:200] for k in UTM_FIELDS},
    )
    Submission.objects.filter(pk=submission.pk).update(lead=lead, market_id=lead.market_id)
    audit_record(
        actor=actor,
        action="submission.attached",
        target=lead,
        market_id=lead.market_id,
        data={"submission": submission.pk, "lead": lead.pk},
    )
    return touch


def identity_page_url(item: ExceptionItem) -> str | None:
    if (item.details or {}).get("reason") != "conflicting_identity":
        return None
    return reverse("admin:leads_lead_identity", args=[item.pk])


IDENTITY_RESOLUTIONS = (
    Resolution(
        "attach",
        "It belongs to one of the two leads",
        _attach,
        help="The submission becomes a touch of the lead you choose.",
        ask="email, external_id or merge",
        on_page=True,
    ),
)


# --- a lead's check outside intake ---------------------------------------------------------


@transaction.atomic
def lead_duplicates_check(*, actor: Actor, lead: Lead) -> int | None:
    """Look for the lead's possible duplicates now (as intake does for a new lead) and file one
    review item if there are any; pairs marked "not duplicates" are never offered. The item's
    id, or None (nothing found, or an open item for this lead already exists)."""
    from leadops.core.access import system_context
    from leadops.queue.services import Filing, exceptions_file_many

    lead = Lead.objects.get(pk=lead.pk)
    if lead.merged_into_id:
        raise ApplicationError("This lead was merged into another.", code="merged")
    # Like intake, the lookup sees every market; the item it files is scoped to both.
    with system_context("duplicates_check"):
        review = _review_for(lead)
    if review is None:
        return None
    others = {c.market_id for c in review.candidates} - {lead.market_id}
    [item_id] = exceptions_file_many(
        actor=actor,
        filings=[
            Filing(
                kind="duplicate_review",
                market_id=lead.market_id,
                second_market_id=next(iter(others), None),
                target=("leads.lead", str(lead.pk)),
                summary=review.summary(lead.pk),
                details=review.details(lead.pk),
                error_class="data",
                remediation="Compare the leads side by side: merge them, or keep them separate.",
            )
        ],
    )
    return item_id


def _review_for(lead: Lead) -> Review | None:
    fields = {
        name: getattr(lead, name)
        for name in ("email_norm", "phone_e164", "name_key", "company_domain")
    }
    columns = ("id", "market_id", "merged_into_id")
    rows: dict[int, dict[str, Any]] = {}
    found = Found()
    live = Lead.objects.filter(merged_into__isnull=True).exclude(pk=lead.pk).order_by()
    if lead.email_norm:
        for row in live.filter(email_norm=lead.email_norm).values(*columns):
            rows[row["id"]] = row
            found.by_email.setdefault(lead.email_norm, []).append(row["id"])
    if lead.phone_e164:
        # Unordered, like intake's lookup (an ORDER BY id can make the planner walk the key).
        phone_rows = live.filter(phone_e164=lead.phone_e164).values(*columns)
        for row in sorted(phone_rows[: shared_phone_limit() + 1], key=lambda r: r["id"]):
            rows[row["id"]] = row
            found.by_phone.setdefault(lead.phone_e164, []).append(row["id"])
    if lead.name_key and lead.company_domain:
        key = (lead.name_key, lead.company_domain)
        for row in (
            live.filter(name_key=key[0], company_domain=key[1]).order_by("id").values(*columns)[:20]
        ):
            rows[row["id"]] = row
            found.by_name.setdefault(key, []).append(row["id"])
    return review_find(
        lead=fields,
        market_id=lead.market_id,
        found=found,
        leads=rows,
        exclude={lead.pk, *distinct_from(lead.pk)},
    )
