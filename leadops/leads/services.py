"""Changes to leads other than intake: status transitions and the exception kinds of leads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction

from audit.services import audit_record
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.leads.models import Activity, Lead, SourceTouch, Submission
from leadops.leads.status import allowed_next, can_move
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
    return lead


def _held_lead(item: ExceptionItem) -> Lead | None:
    if item.target_type != "leads.lead":
        return None
    return Lead.objects.filter(pk=item.target_id, status=Lead.Status.HELD).first()


def _release(*, item: ExceptionItem, actor: Actor, **_: Any) -> None:
    lead = _held_lead(item)
    if lead is not None:
        lead_status_change(actor=actor, lead=lead, status=Lead.Status.NEW, note="released")


def _disqualify(*, item: ExceptionItem, actor: Actor, **_: Any) -> None:
    lead = _held_lead(item)
    if lead is not None:
        lead_status_change(
            actor=actor, lead=lead, status=Lead.Status.DISQUALIFIED, note="dismissed"
        )


QUARANTINED = ExceptionKind(
    key="quarantined",
    label="Quarantined submission",
    owner_group="Managers {market}",
    recovery=timedelta(hours=8),
    resolutions=(
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
            "table_fixed",
            "The market table now covers it",
            help="Add the row, publish, then retag; this records that it was done.",
        ),
    ),
)


def lead_kinds_register() -> None:
    kind_register(QUARANTINED)
    kind_register(UNMARKETED)


@transaction.atomic
def activity_record(
    *,
    actor: Actor,
    lead: Lead,
    kind: str,
    occurred_at: Any,
    note: str = "",
    external_id: str = "",
) -> tuple[Activity, bool]:
    """Record an activity; with an `external_id` a repeat returns the first one (created=False)."""
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
    )
    activity.full_clean()
    activity.save()
    audit_record(
        actor=actor,
        action="activity.recorded",
        target=activity,
        market_id=lead.market_id,
        data={"lead": lead.pk, "kind": kind, "external_id": external_id},
    )
    return activity, True


PERSONAL_FIELDS = ["email", "email_norm", "phone", "phone_e164", "first_name", "last_name", "title"]


def leads_erase(identity: str, actor: Actor) -> int:
    """Eraser for the audit registry: scrub a subject ("email:…" / "phone:…") from leads, their
    history, submissions and touches. Runs inside `subject_erase`'s system-context transaction."""
    field, _, value = identity.partition(":")
    column = {"email": "email_norm", "phone": "phone_e164"}.get(field)
    if column is None or not value:
        return 0
    lead_ids = list(Lead.objects.filter(**{column: value}).values_list("id", flat=True))
    blank = dict.fromkeys(PERSONAL_FIELDS, "")
    scrubbed = Lead.objects.filter(id__in=lead_ids).update(**blank)
    scrubbed += Lead.history.model.objects.filter(id__in=lead_ids).update(**blank)
    trace_key = "email" if field == "email" else "phone"
    submissions = Submission.objects.filter(lead_id__in=lead_ids) | Submission.objects.filter(
        **{f"trace__{trace_key}__1": value}
    )
    scrubbed += submissions.update(payload={"erased": True}, trace={}, errors={})
    scrubbed += SourceTouch.objects.filter(lead_id__in=lead_ids).update(alternates={})
    return scrubbed
