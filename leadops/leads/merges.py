"""Decisions people make about duplicates: merge, unmerge, detach, "not duplicates".

Every function is a service: keyword-only, an explicit actor, one transaction, its audit event in
that transaction. They run in the caller's access context, so RLS decides what a person may
touch: merging two leads needs both markets.

A merge never deletes: the absorbed lead's row stays, pointing at the survivor (`merged_into`),
and a `LeadMerge` keeps both leads' fields as they were, which values were picked and which rows
moved. Owner, market and status of the survivor never change through a merge (DESIGN.md).

Concurrency: each service locks the leads it changes (`SELECT … FOR UPDATE`, in id order, so
two merges of the same pair cannot deadlock) and re-checks their state under the lock; a second
person merging the same pair a moment later gets a clear refusal, not a second merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.leads.fields import LEAD_COLUMNS
from leadops.leads.hooks import lead_change_announce
from leadops.leads.models import (
    Activity,
    DuplicateMark,
    Lead,
    LeadExternalId,
    LeadMerge,
    SourceTouch,
    Submission,
)
from leadops.leads.rollups import hours_mark_dirty

# The contact fields a person picks between when the two leads differ (label → columns that
# travel together). Everything else fills only where the survivor is empty.
PICKABLE: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name", "name_key"),
    "company": ("company",),
    "title": ("title",),
    "phone": ("phone", "phone_e164", "phone_flag"),
    "website": ("company_domain",),
}
# Never copied to the survivor: the email stays with its lead (it finds the survivor through
# `merged_into`; two leads of one market may not share it).
KEPT = ("email", "email_norm")
PLACE = ("country", "region", "postal_code")
SNAPSHOT_COLUMNS = [*LEAD_COLUMNS, "status", "owner_id", "market_id", "attributes"]


def _label(actor: Actor) -> str:
    return actor_ref(actor).label[:150]


def _locked(*ids: int) -> dict[int, Lead]:
    leads = {
        lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    missing = [i for i in ids if i not in leads]
    if missing:
        raise ApplicationError(
            f"Lead #{missing[0]} is not there (erased, or outside your markets).", code="not_found"
        )
    return leads


def _snapshot(lead: Lead) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in SNAPSHOT_COLUMNS}


def differing(left: Lead, right: Lead) -> list[str]:
    """The pickable fields on which two leads hold two different non-empty values."""
    out = []
    for label, columns in PICKABLE.items():
        a = [getattr(left, c) for c in columns]
        b = [getattr(right, c) for c in columns]
        if any(a) and any(b) and a != b:
            out.append(label)
    return out


# --- merge ---------------------------------------------------------------------------------


@transaction.atomic
def leads_merge(
    *,
    actor: Actor,
    survivor: Lead,
    absorbed: Lead,
    picks: Mapping[str, str] | None = None,
    note: str = "",
) -> LeadMerge:
    """Merge `absorbed` into `survivor`. `picks` says, per differing contact field ("name",
    "company", "title", "phone", "website"), whose value survives: "survivor" (the default) or
    "absorbed". Empty fields of the survivor are filled from the absorbed lead; its touches,
    external ids and activities move to the survivor and are listed on the merge record."""
    picks = dict(picks or {})
    unknown = sorted(set(picks) - set(PICKABLE))
    bad = sorted(k for k, v in picks.items() if v not in ("survivor", "absorbed"))
    if unknown or bad:
        raise ApplicationError(
            f"Unknown choice for {', '.join(unknown or bad)}: pick survivor or absorbed.",
            code="bad_pick",
        )
    if survivor.pk == absorbed.pk:
        raise ApplicationError("A lead cannot be merged into itself.", code="same_lead")
    leads = _locked(survivor.pk, absorbed.pk)
    survivor, absorbed = leads[survivor.pk], leads[absorbed.pk]
    for lead in (survivor, absorbed):
        if lead.merged_into_id:
            raise ApplicationError(
                f"Lead #{lead.pk} was already merged into lead #{lead.merged_into_id}.",
                code="already_merged",
            )
    before = _snapshot(survivor)
    changed: dict[str, Any] = {}
    for label, columns in PICKABLE.items():
        mine = [getattr(survivor, c) for c in columns]
        theirs = [getattr(absorbed, c) for c in columns]
        take = picks.get(label) == "absorbed" or not any(mine)
        if take and any(theirs) and theirs != mine:
            for column, value in zip(columns, theirs, strict=True):
                changed[column] = value
    # The place travels whole: a postal code of one country never lands beside another's.
    if not any(getattr(survivor, c) for c in PLACE):
        changed.update({c: getattr(absorbed, c) for c in PLACE if getattr(absorbed, c)})
    for column in LEAD_COLUMNS:
        if column in (*KEPT, *PLACE) or any(column in cols for cols in PICKABLE.values()):
            continue
        if not getattr(survivor, column) and getattr(absorbed, column):
            changed[column] = getattr(absorbed, column)
    added_attributes = {
        k: v for k, v in (absorbed.attributes or {}).items() if k not in (survivor.attributes or {})
    }
    for column, value in changed.items():
        setattr(survivor, column, value)
    survivor.attributes = {**(survivor.attributes or {}), **added_attributes}
    survivor.updated_at = timezone.now()
    survivor._change_reason = f"merged lead #{absorbed.pk}"  # type: ignore[attr-defined]
    survivor.save()

    moved = _move_rows(absorbed, survivor)
    # Leads merged into the absorbed one earlier follow it (one hop for intake to follow).
    repointed = list(Lead.objects.filter(merged_into=absorbed).values_list("pk", flat=True))
    for lead in Lead.objects.filter(pk__in=repointed):
        lead.merged_into = survivor
        lead._change_reason = f"its survivor #{absorbed.pk} merged into #{survivor.pk}"
        lead.save(update_fields=["merged_into", "updated_at"])
    moved["repointed"] = repointed
    absorbed.merged_into = survivor
    absorbed.updated_at = timezone.now()
    absorbed._change_reason = f"merged into lead #{survivor.pk}"  # type: ignore[attr-defined]
    absorbed.save(update_fields=["merged_into", "updated_at"])

    hours_mark_dirty(lead_ids=[absorbed.pk])  # a merged-away lead stops counting as created
    lead_change_announce("merged", actor=actor, lead_ids=[absorbed.pk], now=absorbed.updated_at)
    merge = LeadMerge.objects.create(
        market_id=survivor.market_id,
        second_market_id=absorbed.market_id if absorbed.market_id != survivor.market_id else None,
        survivor=survivor,
        absorbed=absorbed,
        snapshot={
            "absorbed": _snapshot(absorbed) | {"merged_into_id": None},
            "survivor_before": before,
            "set": changed,
            "attributes_added": sorted(added_attributes),
            "picks": picks,
        },
        moved=moved,
        note=note[:300],
        merged_by=_label(actor),
    )
    audit_record(
        actor=actor,
        action="lead.merged",
        target=survivor,
        market_id=survivor.market_id,
        second_market_id=merge.second_market_id,
        data={
            "merge": merge.pk,
            "survivor": survivor.pk,
            "absorbed": absorbed.pk,
            "picks": picks,
            "fields_set": sorted(changed),
            "moved": {k: len(v) for k, v in moved.items()},
        },
    )
    return merge


def _move_rows(source: Lead, target: Lead) -> dict[str, list[int]]:
    """Touches, external ids and activities of `source` move to `target` (and its market);
    the ids moved, for an unmerge. An activity whose external id the target already has stays
    (the unique key forbids two), and is listed as kept."""
    taken = set(
        Activity.objects.filter(lead=target)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )
    activities = Activity.objects.filter(lead=source)
    kept = list(activities.filter(external_id__in=taken).values_list("pk", flat=True))
    moved = {
        "touches": list(SourceTouch.objects.filter(lead=source).values_list("pk", flat=True)),
        "external_ids": list(
            LeadExternalId.objects.filter(lead=source).values_list("pk", flat=True)
        ),
        "activities": list(activities.exclude(pk__in=kept).values_list("pk", flat=True)),
        "activities_kept": kept,
    }
    _reassign(moved, target)
    return moved


def _reassign(ids: Mapping[str, Iterable[int]], lead: Lead) -> None:
    where = {"lead_id": lead.pk, "market_id": lead.market_id}
    SourceTouch.objects.filter(pk__in=list(ids.get("touches", ()))).update(**where)
    LeadExternalId.objects.filter(pk__in=list(ids.get("external_ids", ()))).update(**where)
    Activity.objects.filter(pk__in=list(ids.get("activities", ()))).update(**where)


# --- unmerge -------------------------------------------------------------------------------


@dataclass
class UnmergePreview:
    """What an unmerge would do: the survivor's fields that go back, the ones changed since the
    merge (kept as they are now), and what arrived on the survivor since, for the person to
    place (touches and activities can go to the restored lead; status changes stay)."""

    merge: LeadMerge
    revert: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field → (now, back to)
    changed_since: dict[str, tuple[Any, Any]] = field(
        default_factory=dict
    )  # field → (merge set, now)
    touches_since: list[SourceTouch] = field(default_factory=list)
    activities_since: list[Activity] = field(default_factory=list)
    status_since: list[tuple[Any, str]] = field(default_factory=list)  # (when, status)
    returning: dict[str, int] = field(default_factory=dict)


def lead_unmerge_preview(*, merge: LeadMerge) -> UnmergePreview:
    """Read-only: see `UnmergePreview`."""
    survivor = merge.survivor
    preview = UnmergePreview(merge=merge)
    before, set_ = merge.snapshot.get("survivor_before", {}), merge.snapshot.get("set", {})
    for column, value in set_.items():
        now = getattr(survivor, column)
        if now == value:
            preview.revert[column] = (now, before.get(column, ""))
        else:
            preview.changed_since[column] = (value, now)
    moved = set(merge.moved.get("touches", ()))
    preview.touches_since = list(
        SourceTouch.objects.filter(lead=survivor, submission__received_at__gt=merge.merged_at)
        .exclude(pk__in=moved)
        .select_related("source", "submission")
    )
    preview.activities_since = list(
        Activity.objects.filter(lead=survivor, created_at__gt=merge.merged_at).exclude(
            pk__in=merge.moved.get("activities", ())
        )
    )
    history = survivor.history.filter(history_date__gt=merge.merged_at).order_by("history_date")
    last = merge.snapshot.get("survivor_before", {}).get("status")
    for row in history.only("history_date", "status"):
        if row.status != last:
            preview.status_since.append((row.history_date, row.status))
            last = row.status
    preview.returning = {
        k: len(merge.moved.get(k, ())) for k in ("touches", "external_ids", "activities")
    }
    return preview


@transaction.atomic
def lead_unmerge(
    *,
    actor: Actor,
    merge: LeadMerge,
    touches: Iterable[int] = (),
    activities: Iterable[int] = (),
    note: str = "",
) -> LeadMerge:
    """Undo a merge: the absorbed lead comes back from its snapshot, its touches (by the
    submission they came from), external ids and activities return to it, and the survivor's
    fields the merge set go back unless someone changed them since. `touches` and
    `activities`: ids of rows that arrived on the survivor after the merge and that the person
    places on the restored lead. The pair is then marked "not duplicates"."""
    merge = LeadMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.state != LeadMerge.State.MERGED:
        raise ApplicationError("This merge was already undone.", code="already_unmerged")
    if merge.snapshot.get("erased"):
        raise ApplicationError(
            "The subject of this merge was erased: there is nothing to restore.", code="erased"
        )
    leads = _locked(merge.survivor_id, merge.absorbed_id)
    survivor, absorbed = leads[merge.survivor_id], leads[merge.absorbed_id]
    preview = lead_unmerge_preview(merge=merge)
    for column, (_now, back) in preview.revert.items():
        setattr(survivor, column, back)
    added = merge.snapshot.get("attributes_added", [])
    absorbed_attributes = merge.snapshot.get("absorbed", {}).get("attributes", {})
    survivor.attributes = {
        k: v
        for k, v in (survivor.attributes or {}).items()
        if not (k in added and absorbed_attributes.get(k) == v)
    }
    survivor.updated_at = timezone.now()
    survivor._change_reason = f"unmerged lead #{absorbed.pk}"  # type: ignore[attr-defined]
    survivor.save()

    restored = merge.snapshot["absorbed"]
    for column in LEAD_COLUMNS:
        setattr(absorbed, column, restored.get(column, ""))
    absorbed.attributes = restored.get("attributes", {})
    absorbed.merged_into = None
    absorbed.updated_at = timezone.now()
    absorbed._change_reason = f"unmerged from lead #{survivor.pk}"  # type: ignore[attr-defined]
    absorbed.save()

    placed_touches = _since(touches, preview.touches_since, "touch")
    placed_activities = _since(activities, preview.activities_since, "activity")
    back = {
        "touches": [*merge.moved.get("touches", ()), *placed_touches],
        "external_ids": merge.moved.get("external_ids", []),
        "activities": [*merge.moved.get("activities", ()), *placed_activities],
    }
    _reassign(back, absorbed)
    # Touches returned, their submissions say again which lead they reached.
    Submission.objects.filter(touch__pk__in=placed_touches).update(lead=absorbed)
    for lead in Lead.objects.filter(pk__in=merge.moved.get("repointed", []), merged_into=survivor):
        lead.merged_into = absorbed
        lead._change_reason = f"back with #{absorbed.pk}"
        lead.save(update_fields=["merged_into", "updated_at"])

    hours_mark_dirty(lead_ids=[absorbed.pk])
    merge.state = LeadMerge.State.UNMERGED
    merge.unmerged_by = _label(actor)
    merge.unmerged_at = timezone.now()
    merge.save(update_fields=["state", "unmerged_by", "unmerged_at"])
    _mark(actor=actor, a=survivor, b=absorbed, note=f"unmerged (merge #{merge.pk})")
    audit_record(
        actor=actor,
        action="lead.unmerged",
        target=absorbed,
        market_id=survivor.market_id,
        second_market_id=merge.second_market_id,
        data={
            "merge": merge.pk,
            "survivor": survivor.pk,
            "absorbed": absorbed.pk,
            "fields_reverted": sorted(preview.revert),
            "fields_kept": sorted(preview.changed_since),
            "placed": {"touches": placed_touches, "activities": placed_activities},
            "note": note[:300],
        },
    )
    return merge


def _since(chosen: Iterable[int], arrived: list[Any], what: str) -> list[int]:
    ids = {int(i) for i in chosen}
    allowed = {row.pk for row in arrived}
    if ids - allowed:
        raise ApplicationError(
            f"Only a {what} that arrived after the merge can be placed: "
            f"#{sorted(ids - allowed)[0]} did not.",
            code="not_placeable",
        )
    return sorted(ids)


# --- detach --------------------------------------------------------------------------------


@transaction.atomic
def submission_detach(*, actor: Actor, submission: Submission, note: str = "") -> Lead:
    """Take a submission that was merged into the wrong lead (and its touch) off that lead into
    a new lead of the same market, made from the submission's own fields. The two leads are
    then marked "not duplicates". Refused when the submission is all its lead has, or when its
    email is the lead's (it merged by the exact tier: two leads of a market cannot share it)."""
    from leadops.leads.prepare import IngestItem, normalize_item

    submission = (
        Submission.objects.select_for_update(of=("self",))
        .select_related("source")
        .get(pk=submission.pk)
    )
    if (
        submission.lead_id is None
        or submission.source is None
        or not SourceTouch.objects.filter(submission=submission).exists()
    ):
        raise ApplicationError(
            "This submission reached no lead: nothing to detach.", code="no_lead"
        )
    lead = _locked(submission.lead_id)[submission.lead_id]
    if SourceTouch.objects.filter(lead=lead).count() < 2:
        raise ApplicationError(
            "This is the lead's only submission: detaching it would leave an empty lead.",
            code="only_submission",
        )
    fields = submission_fields(submission)
    norm = normalize_item(
        IngestItem(source=submission.source, payload=submission.payload, fields=fields)
    )
    if norm.lead["email_norm"] and norm.lead["email_norm"] == lead.email_norm:
        raise ApplicationError(
            "This submission has the lead's own email: it is the same person in this market.",
            code="same_email",
        )
    now = timezone.now()
    new = Lead(
        market_id=lead.market_id,
        status=Lead.Status.NEW,
        first_source=submission.source,
        created_at=now,
        updated_at=now,
        attributes=fields.get("attributes") if isinstance(fields.get("attributes"), dict) else {},
        **{name: norm.lead[name] for name in LEAD_COLUMNS},
    )
    new._change_reason = f"detached submission #{submission.pk} from lead #{lead.pk}"  # type: ignore[attr-defined]
    new.save()
    SourceTouch.objects.filter(submission=submission).update(lead=new, alternates={})
    Submission.objects.filter(pk=submission.pk).update(lead=new)
    if submission.external_id:
        LeadExternalId.objects.filter(
            source=submission.source, external_id=submission.external_id, lead=lead
        ).update(lead=new)
    _mark(actor=actor, a=lead, b=new, note=f"detached submission #{submission.pk}")
    audit_record(
        actor=actor,
        action="submission.detached",
        target=new,
        market_id=new.market_id,
        data={
            "submission": submission.pk,
            "from_lead": lead.pk,
            "lead": new.pk,
            "note": note[:300],
        },
        personal={k: v for k, v in (("email", new.email_norm), ("phone", new.phone_e164)) if v},
    )
    return new


def submission_fields(submission: Submission) -> dict[str, Any]:
    """The canonical input a submission carried: its source's mapping (the version it came in
    with) applied to the payload, or the payload's own canonical keys."""
    from leadops.leads.fields import LEAD_INPUTS
    from leadops.leads.mapping import mapping_apply
    from leadops.leads.models import SourceMapping

    payload = submission.payload if isinstance(submission.payload, dict) else {}
    if submission.mapping_version is not None:
        mapping = SourceMapping.objects.filter(
            source=submission.source, version=submission.mapping_version
        ).first()
        if mapping is not None:
            return mapping_apply(mapping.rules, payload)
    return {k: payload[k] for k in (*LEAD_INPUTS, "attributes") if k in payload}


# --- "not duplicates" ----------------------------------------------------------------------


def _pair(a: Lead, b: Lead) -> tuple[Lead, Lead]:
    return (a, b) if a.pk < b.pk else (b, a)


def _mark(*, actor: Actor, a: Lead, b: Lead, note: str) -> DuplicateMark | None:
    low, high = _pair(a, b)
    mark, made = DuplicateMark.objects.get_or_create(
        lead_low=low,
        lead_high=high,
        defaults={
            "market_id": low.market_id,
            "second_market_id": high.market_id if high.market_id != low.market_id else None,
            "note": note[:300],
            "marked_by": _label(actor),
        },
    )
    if not made:
        return None
    audit_record(
        actor=actor,
        action="duplicates.marked_distinct",
        target=low,
        market_id=low.market_id,
        second_market_id=mark.second_market_id,
        data={"mark": mark.pk, "leads": [low.pk, high.pk], "note": note[:300]},
    )
    return mark


@transaction.atomic
def leads_mark_distinct(*, actor: Actor, lead: Lead, other: Lead, note: str = "") -> DuplicateMark:
    """A person's word that `lead` and `other` are different people: the pair is never offered
    for review again (until the mark is removed)."""
    if lead.pk == other.pk:
        raise ApplicationError("A lead is not distinct from itself.", code="same_lead")
    _locked(lead.pk, other.pk)
    _mark(actor=actor, a=lead, b=other, note=note)
    low, high = _pair(lead, other)
    return DuplicateMark.objects.get(lead_low=low, lead_high=high)


@transaction.atomic
def duplicate_mark_remove(*, actor: Actor, mark: DuplicateMark, note: str = "") -> None:
    """Undo "not duplicates": the pair may be offered for review again."""
    mark = DuplicateMark.objects.select_for_update().get(pk=mark.pk)
    leads = [mark.lead_low_id, mark.lead_high_id]
    mark.delete()
    audit_record(
        actor=actor,
        action="duplicates.mark_removed",
        target=("leads.lead", str(leads[0])),
        market_id=mark.market_id,
        second_market_id=mark.second_market_id,
        data={"leads": leads, "note": note[:300]},
    )


def distinct_from(lead_id: int) -> set[int]:
    """The leads a person said `lead_id` is not."""
    rows = DuplicateMark.objects.filter(Q(lead_low_id=lead_id) | Q(lead_high_id=lead_id))
    return {
        low if low != lead_id else high
        for low, high in rows.values_list("lead_low_id", "lead_high_id")
    }


# --- erasure -------------------------------------------------------------------------------


def lead_merges_erase(*, identity: str, actor: Actor) -> int:
    """Eraser: a merge snapshot holding the subject's email or phone (as either lead's value,
    or as a value the merge replaced) is scrubbed. Such a merge can no longer be undone."""
    field_, _, value = identity.partition(":")
    column = {"email": "email_norm", "phone": "phone_e164"}.get(field_)
    if column is None or not value:
        return 0
    lead_ids = list(Lead.objects.filter(**{column: value}).values_list("pk", flat=True))
    where = Q(survivor_id__in=lead_ids) | Q(absorbed_id__in=lead_ids)
    for part in ("absorbed", "survivor_before", "set"):
        where |= Q(**{f"snapshot__{part}__{column}": value})
    return LeadMerge.objects.filter(where).update(snapshot={"erased": True})
