"""Changes to leads other than intake: status transitions and the exception kinds of leads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.leads.fields import LEAD_INPUTS, PERSONAL_COLUMNS
from leadops.leads.hooks import lead_change_announce, reroute_request
from leadops.leads.models import Activity, Lead, SourceTouch, Submission
from leadops.leads.moves import Move, leads_move
from leadops.leads.reviews import (
    DUPLICATE_REVIEW,
    IDENTITY_RESOLUTIONS,
    identity_page_url,
    lead_duplicates_check,
)
from leadops.leads.status import allowed_next, can_move
from leadops.markets.models import Market
from leadops.queue.models import ExceptionItem
from leadops.queue.registry import ExceptionKind, Resolution, kind_register


@transaction.atomic
def lead_status_change(*, actor: Actor, lead: Lead, status: str, note: str = "") -> Lead:
    """Move a lead along the allowed transitions; anything else is refused with the options."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if not can_move(lead.status, status):
        raise ApplicationError(
            f"A {lead.status} lead cannot become {status}.",
            code="invalid_transition",
            extra={"allowed": allowed_next(lead.status)},
        )
    before = lead.status
    lead.status = status
    lead._change_reason = note or f"{before} → {status}"  # type: ignore[attr-defined]
    lead.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="lead.status_changed",
        target=lead,
        market_id=lead.market_id,
        data={"from": before, "to": status},
    )
    lead_change_announce(
        "status", actor=actor, lead_ids=[lead.pk], before=before, after=status, now=timezone.now()
    )
    return lead


def _held_lead(item: ExceptionItem) -> Lead | None:
    if item.target_type != "leads.lead":
        return None
    return Lead.objects.filter(pk=item.target_id, status=Lead.Status.HELD).first()


def _release(*, item: ExceptionItem, actor: Actor, **_: Any) -> None:
    lead = _held_lead(item)
    if lead is not None:
        lead_status_change(actor=actor, lead=lead, status=Lead.Status.NEW, note="released")
        # Intake skipped the review tiers while the lead was held: look now.
        lead_duplicates_check(actor=actor, lead=lead)
        reroute_request(actor=actor, lead_ids=[lead.pk], trigger="release")


def _disqualify(*, item: ExceptionItem, actor: Actor, **_: Any) -> None:
    lead = _held_lead(item)
    if lead is not None:
        lead_status_change(
            actor=actor, lead=lead, status=Lead.Status.DISQUALIFIED, note="dismissed"
        )


@transaction.atomic
def activity_record(
    *,
    actor: Actor,
    lead: Lead,
    kind: str,
    occurred_at: Any,
    note: str = "",
    external_id: str = "",
    by_user: Any = None,
    automated: bool = False,
) -> tuple[Activity, bool]:
    """Record an activity; with an `external_id` a repeat returns the first one (created=False).
    `by_user`: the person who did it; `automated`: a tool did (never a first response)."""
    if external_id:
        existing = Activity.objects.filter(lead=lead, external_id=external_id).first()
        if existing is not None:
            return existing, False
    activity = Activity(
        lead=lead,
        market_id=lead.market_id,
        kind=kind,
        occurred_at=occurred_at,
        note=note,
        external_id=external_id,
        actor=actor_ref(actor).label,
        by_user=by_user,
        automated=automated,
    )
    activity.full_clean()
    activity.save()
    audit_record(
        actor=actor,
        action="activity.recorded",
        target=activity,
        market_id=lead.market_id,
        data={"lead": lead.pk, "kind": kind, "external_id": external_id, "automated": automated},
    )
    lead_change_announce("activity", actor=actor, activity=activity)
    return activity, True


def leads_erase(*, identity: str, actor: Actor) -> int:
    """Eraser for the audit registry: scrub a subject ("email:…" / "phone:…") from leads, their
    history, submissions and touches. Runs inside `subject_erase`'s system-context transaction."""
    field, _, value = identity.partition(":")
    column = {"email": "email_norm", "phone": "phone_e164"}.get(field)
    if column is None or not value:
        return 0
    lead_ids = list(Lead.objects.filter(**{column: value}).values_list("id", flat=True))
    # Attributes are free-form: they may hold anything about the person, so they go too.
    blank: dict[str, Any] = {**dict.fromkeys(PERSONAL_COLUMNS, ""), "attributes": {}}
    scrubbed = Lead.objects.filter(id__in=lead_ids).update(**blank)
    scrubbed += Lead.history.model.objects.filter(id__in=lead_ids).update(**blank)
    trace_key = "email" if field == "email" else "phone"
    submissions = Submission.objects.filter(lead_id__in=lead_ids) | Submission.objects.filter(
        **{f"trace__{trace_key}__1": value}
    )
    scrubbed += submissions.update(payload={"erased": True}, trace={}, errors={})
    scrubbed += SourceTouch.objects.filter(lead_id__in=lead_ids).update(alternates={})
    return scrubbed


FIXABLE = LEAD_INPUTS


def parse_corrections(text: str) -> dict[str, str]:
    """`field=value` lines → {field: value}; unknown fields are refused by name."""
    corrections = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        field, sep, value = line.partition("=")
        field = field.strip()
        if not sep or field not in FIXABLE:
            raise ApplicationError(
                f"line {number} {line.strip()!r}: write field=value, with a field among "
                f"{', '.join(FIXABLE)}",
                code="bad_correction",
            )
        corrections[field] = value.strip()
    if not corrections:
        raise ApplicationError("Give at least one correction.", code="bad_correction")
    return corrections


@transaction.atomic
def lead_fix(*, actor: Actor, lead: Lead, corrections: dict[str, str]) -> Lead:
    """Correct a held lead's fields, normalize them again and release it if they now hold up;
    otherwise refuse with the remaining problems (the lead stays held)."""
    from leadops.leads.prepare import IngestItem, normalize_item

    lead = Lead.objects.select_for_update().select_related("first_source").get(pk=lead.pk)
    if lead.status != Lead.Status.HELD:
        raise ApplicationError("Only a held lead can be fixed.", code="not_held")
    current = {field: getattr(lead, field, "") for field in FIXABLE if hasattr(lead, field)}
    current["website"] = lead.company_domain
    fields = {**current, **corrections}
    normalized = normalize_item(IngestItem(source=lead.first_source, payload=fields, fields=fields))
    problems = normalized.quarantine or [m for ms in normalized.unusable.values() for m in ms]
    if problems:
        raise ApplicationError("Still doubtful: " + "; ".join(problems), code="still_doubtful")
    for name, value in normalized.lead.items():
        setattr(lead, name, value)
    lead.status = Lead.Status.NEW
    lead._change_reason = "fixed and released"  # type: ignore[attr-defined]
    lead.save()
    audit_record(
        actor=actor,
        action="lead.fixed",
        target=lead,
        market_id=lead.market_id,
        data={"fields": sorted(corrections), "status": lead.status},
        personal={k: v for k, v in (("email", lead.email_norm), ("phone", lead.phone_e164)) if v},
    )
    reroute_request(actor=actor, lead_ids=[lead.pk], trigger="release")
    return lead


@transaction.atomic
def lead_market_set(*, actor: Actor, lead: Lead, market: Market) -> Lead:
    """Put a lead (with its rows and open items) in another market, by a person's decision
    (`leads_move`). Refused when the email already lives there."""
    report = leads_move(
        actor=actor,
        moves=[Move(lead_id=lead.pk, to_market_id=market.pk)],
        reason="put in market by a person",
    )
    if report.blocked:
        raise ApplicationError(
            f"{market.code} already has a lead with this email: review it as a duplicate.",
            code="duplicate_in_market",
        )
    lead.refresh_from_db()
    return lead


def _fix(*, item: ExceptionItem, actor: Actor, value: str = "", **_: Any) -> None:
    lead = _held_lead(item)
    if lead is None:
        raise ApplicationError(
            "There is no held lead to fix (a conflicting identity): dismiss the item, or merge "
            "the two leads by hand.",
            code="nothing_to_fix",
        )
    lead_fix(actor=actor, lead=lead, corrections=parse_corrections(value))


def _set_market(*, item: ExceptionItem, actor: Actor, value: str = "", **_: Any) -> None:
    market = Market.objects.filter(code=value.strip().upper()).first()
    if market is None:
        raise ApplicationError(f"No market {value!r} that you can see.", code="unknown_market")
    lead = Lead.objects.get(pk=item.target_id)
    lead_market_set(actor=actor, lead=lead, market=market)


QUARANTINED = ExceptionKind(
    key="quarantined",
    label="Quarantined submission",
    owner_group="Managers {market}",
    recovery=timedelta(hours=8),
    page=identity_page_url,
    resolutions=(
        *IDENTITY_RESOLUTIONS,
        Resolution(
            "fix",
            "Fix and release",
            _fix,
            help="Correct fields; the lead is normalized again and released if it now holds up.",
            ask="Corrections, one per line: field=value (e.g. phone=+49 30 1234567)",
        ),
        Resolution(
            "release",
            "Data is fine: release the lead",
            _release,
            help="The held lead becomes new and is routed.",
        ),
        Resolution("disqualify", "Junk: disqualify the lead", _disqualify),
    ),
)
UNMARKETED = ExceptionKind(
    key="unmarketed",
    label="Lead matched no market",
    owner_group="RevOps",
    recovery=timedelta(hours=8),
    resolutions=(
        Resolution(
            "set_market",
            "Put in market",
            _set_market,
            help="Moves the lead and its rows to the market you name.",
            ask="Market code",
        ),
        Resolution(
            "table_fixed",
            "The market table now covers it",
            help="Add the row, publish, then retag; this records that it was done.",
        ),
    ),
)


def lead_kinds_register() -> None:
    kind_register(QUARANTINED)
    kind_register(DUPLICATE_REVIEW)
    kind_register(UNMARKETED)
