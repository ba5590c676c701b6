"""SLA policies: drafts, publishing, and which policy a lead gets.

A market has any number of policies, each with versions (draft → published → retired). The
versions in force are the published ones; a lead gets the most specific one that matches it
(sources, score band, a field: one point each), then the lowest priority number, then the
policy key (so the choice never depends on row order). The timer pins the version it started
under and records the choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.config import config_cached
from leadops.core.errors import ApplicationError
from leadops.leads.fields import FACT_COLUMNS
from leadops.leads.hooks import StartingLead
from leadops.leads.models import Activity
from leadops.markets.models import Market
from leadops.sla.models import Policy, PolicyVersion
from leadops.sla.steps import escalation_steps

# What a draft says; export, import and the admin form carry exactly these.
SPEC_FIELDS = (
    "priority",
    "sources",
    "score_min",
    "score_max",
    "field",
    "field_value",
    "starts_on",
    "minutes",
    "hours",
    "warn_percent",
    "ladder",
    "restart_on_reassign",
    "activity_kinds",
    "response_by",
)
RESPONSE_KINDS = [Activity.Kind.CALL, Activity.Kind.EMAIL, Activity.Kind.MEETING]
ANSWERABLE_KINDS = {k.value for k in Activity.Kind if k != Activity.Kind.STATUS}
MAX_MINUTES = 60 * 24 * 30  # a month of business minutes: longer is no first-response promise


@dataclass(frozen=True)
class InForce:
    """A published version as the clock reads it (never changes: published is immutable)."""

    id: int
    market_id: int
    policy_key: str
    policy_name: str
    number: int
    priority: int
    sources: tuple[str, ...]
    score_min: int | None
    score_max: int | None
    field: str
    field_value: str
    starts_on: str
    minutes: int
    hours: str
    warn_percent: int
    ladder: tuple[tuple[str, int], ...]  # (step, business minutes after the breach)
    restart_on_reassign: bool
    activity_kinds: frozenset[str]
    response_by: str

    @property
    def label(self) -> str:
        return f"{self.policy_key} v{self.number}"

    @property
    def specificity(self) -> int:
        band = self.score_min is not None or self.score_max is not None
        return int(bool(self.sources)) + int(band) + int(bool(self.field))

    def matches(self, lead: StartingLead) -> bool:
        if self.sources and lead.source not in self.sources:
            return False
        if self.score_min is not None and lead.score < self.score_min:
            return False
        if self.score_max is not None and lead.score > self.score_max:
            return False
        if self.field:
            return (lead.fields.get(self.field) or "").casefold() == self.field_value.casefold()
        return True


def in_force_of(version: PolicyVersion) -> InForce:
    return InForce(
        id=version.pk,
        market_id=version.market_id,
        policy_key=version.policy.key,
        policy_name=version.policy.name,
        number=version.number,
        priority=version.priority,
        sources=tuple(version.sources),
        score_min=version.score_min,
        score_max=version.score_max,
        field=version.field,
        field_value=version.field_value,
        starts_on=version.starts_on,
        minutes=version.minutes,
        hours=version.hours,
        warn_percent=version.warn_percent,
        ladder=tuple((str(s["step"]), int(s.get("after", 0))) for s in version.ladder),
        restart_on_reassign=version.restart_on_reassign,
        activity_kinds=frozenset(version.activity_kinds),
        response_by=version.response_by,
    )


def policies_in_force() -> dict[int, tuple[InForce, ...]]:
    """Published versions by market, read once per config change."""
    return config_cached("sla_policies", _load)


def _load() -> dict[int, tuple[InForce, ...]]:
    with system_context("config_cache"):
        found: dict[int, list[InForce]] = {}
        published = PolicyVersion.objects.filter(state=PolicyVersion.State.PUBLISHED)
        for version in published.select_related("policy").order_by("id"):
            found.setdefault(version.market_id, []).append(in_force_of(version))
        return {market_id: tuple(versions) for market_id, versions in found.items()}


# Versions never change once published, so a process keeps each it has read (timers of
# retired versions still need theirs).
_versions: dict[int, InForce] = {}


def versions_by_id(ids: set[int]) -> dict[int, InForce]:
    missing = ids - _versions.keys()
    if missing:
        with system_context("sla_versions"):
            for version in PolicyVersion.objects.filter(pk__in=missing).select_related("policy"):
                if version.state != PolicyVersion.State.DRAFT:
                    _versions[version.pk] = in_force_of(version)
    return {i: _versions[i] for i in ids if i in _versions}


def policy_pick(lead: StartingLead) -> tuple[InForce, dict[str, Any]] | None:
    """The version a lead gets, and the record of the choice (every match, and why this one)."""
    matched = [p for p in policies_in_force().get(lead.market_id, ()) if p.matches(lead)]
    if not matched:
        return None
    matched.sort(key=lambda p: (-p.specificity, p.priority, p.policy_key))
    chosen = matched[0]
    why = "the only policy that matches"
    if len(matched) > 1:
        runner = matched[1]
        why = (
            "more specific than the others"
            if chosen.specificity > runner.specificity
            else f"as specific as {runner.label}, with a lower priority number"
            if chosen.priority < runner.priority
            else f"as specific and as high a priority as {runner.label}: first by name"
        )
    choice = {
        "policy": chosen.label,
        "why": why,
        "matched": [
            {"policy": p.label, "specificity": p.specificity, "priority": p.priority}
            for p in matched
        ],
    }
    return chosen, choice


# --- drafts and publishing ------------------------------------------------------------------


def spec_problems(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a draft's content, field by field (empty: it can be published)."""
    problems: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    minutes = spec.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES:
        refuse("minutes", f"A whole number of business minutes from 1 to {MAX_MINUTES:,}.")
    warn = spec.get("warn_percent")
    if not isinstance(warn, int) or isinstance(warn, bool) or not 1 <= warn <= 99:
        refuse("warn_percent", "A percentage from 1 to 99.")
    if spec.get("starts_on") not in PolicyVersion.Start.values:
        refuse("starts_on", f"One of {', '.join(PolicyVersion.Start.values)}.")
    if spec.get("hours") not in PolicyVersion.Hours.values:
        refuse("hours", f"One of {', '.join(PolicyVersion.Hours.values)}.")
    if spec.get("response_by") not in PolicyVersion.ResponseBy.values:
        refuse("response_by", f"One of {', '.join(PolicyVersion.ResponseBy.values)}.")
    kinds = spec.get("activity_kinds") or []
    if not kinds:
        refuse("activity_kinds", "Name at least one kind of activity that counts as a response.")
    for kind in kinds:
        if kind not in ANSWERABLE_KINDS:
            refuse(
                "activity_kinds", f"{kind!r} is not an activity kind: {sorted(ANSWERABLE_KINDS)}."
            )
    low, high = spec.get("score_min"), spec.get("score_max")
    if low is not None and high is not None and low > high:
        refuse("score_max", f"The band is empty: {low} is above {high}.")
    field, value = spec.get("field") or "", spec.get("field_value") or ""
    if field and field not in FACT_COLUMNS:
        refuse("field", f"One of {', '.join(FACT_COLUMNS)}.")
    if bool(field) != bool(value):
        refuse("field_value" if field else "field", "Give a field and its value together.")
    known = set(escalation_steps())
    ladder = spec.get("ladder") or []
    if not isinstance(ladder, list):
        refuse("ladder", "A list of steps.")
        ladder = []
    for index, step in enumerate(ladder):
        if not isinstance(step, dict) or step.get("step") not in known:
            refuse("ladder", f"Step {index + 1}: one of {', '.join(sorted(known))}.")
            continue
        after = step.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            refuse("ladder", f"Step {index + 1}: `after` is business minutes ≥ 0 after the breach.")
    afters = [s.get("after", 0) for s in ladder if isinstance(s, dict)]
    if afters != sorted(afters):
        refuse("ladder", "Steps run in order: each `after` at least the one before.")
    return problems


def spec_of(version: PolicyVersion) -> dict[str, Any]:
    """A version's content in the form export, import and the draft services use."""
    return {name: getattr(version, name) for name in SPEC_FIELDS}


def _audit(actor: Actor, action: str, version: PolicyVersion, **data: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=version,
        market_id=version.market_id,
        data={"policy": version.policy.key, "number": version.number, **data},
    )


DEFAULTS: dict[str, Any] = {
    "priority": 100,
    "sources": [],
    "score_min": None,
    "score_max": None,
    "field": "",
    "field_value": "",
    "starts_on": PolicyVersion.Start.RECEIPT.value,
    "minutes": 60,
    "hours": PolicyVersion.Hours.MARKET.value,
    "warn_percent": 75,
    "ladder": [{"step": "notify_owner", "after": 0}, {"step": "file_breach", "after": 0}],
    "restart_on_reassign": False,
    "activity_kinds": [k.value for k in RESPONSE_KINDS],
    "response_by": PolicyVersion.ResponseBy.ANYONE.value,
}


@transaction.atomic
def policy_draft(
    *, actor: Actor, market: Market, key: str, name: str, change_note: str, **spec: Any
) -> PolicyVersion:
    """A new draft of the policy `key` of `market` (made on first use): `spec` over the
    version in force (or the defaults). One draft at a time per policy."""
    unknown = set(spec) - set(SPEC_FIELDS)
    if unknown:
        raise ApplicationError(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
    if not change_note.strip():
        raise ApplicationError("Say why: a version needs a change note.", code="note_required")
    policy, _ = Policy.objects.get_or_create(market=market, key=key, defaults={"name": name})
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if name and name != policy.name and not policy.versions.exists():
        policy.name = name
        policy.save(update_fields=["name"])
    versions = list(policy.versions.order_by("-number"))
    if any(v.state == PolicyVersion.State.DRAFT for v in versions):
        raise ApplicationError(
            f"{policy.name} already has a draft: edit or delete it first.", code="draft_exists"
        )
    base = next((v for v in versions if v.state == PolicyVersion.State.PUBLISHED), None)
    content = {**(DEFAULTS if base is None else spec_of(base)), **spec}
    version = PolicyVersion.objects.create(
        policy=policy,
        market=market,
        number=(versions[0].number + 1) if versions else 1,
        change_note=change_note.strip(),
        author=actor_ref(actor).label,
        **content,
    )
    _audit(actor, "sla.policy_drafted", version)
    return version


@transaction.atomic
def policy_draft_update(
    *, actor: Actor, version: PolicyVersion, change_note: str | None = None, **spec: Any
) -> PolicyVersion:
    """Change a draft (a published or retired version never changes)."""
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != PolicyVersion.State.DRAFT:
        raise ApplicationError(
            f"{version} is {version.state}: make a new draft instead.", code="not_draft"
        )
    for name, value in spec.items():
        if name not in SPEC_FIELDS:
            raise ApplicationError(f"Unknown policy field {name!r}.")
        setattr(version, name, value)
    if change_note is not None:
        version.change_note = change_note.strip()
    version.save()
    _audit(actor, "sla.policy_edited", version, fields=sorted(spec))
    return version


@transaction.atomic
def policy_publish(
    *, actor: Actor, version: PolicyVersion, now: datetime | None = None
) -> PolicyVersion:
    """Put a draft in force: the version in force before is retired. Timers already running
    keep the version they started under (published versions never change)."""
    now = now or timezone.now()
    version = PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)
    if version.state != PolicyVersion.State.DRAFT:
        raise ApplicationError(f"{version} is already {version.state}.", code="not_draft")
    problems = spec_problems(spec_of(version))
    if problems:
        raise ApplicationError(
            "The draft cannot be published: "
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in problems.items()),
            code="invalid",
            extra={"errors": problems},
        )
    if not version.change_note.strip():
        raise ApplicationError("Say why: a version needs a change note.", code="note_required")
    previous = PolicyVersion.objects.filter(
        policy_id=version.policy_id, state=PolicyVersion.State.PUBLISHED
    ).first()
    if previous is not None:
        previous.state = PolicyVersion.State.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["state", "retired_at"])
    version.state = PolicyVersion.State.PUBLISHED
    version.published_at = now
    version.published_by = actor_ref(actor).label
    version.save(update_fields=["state", "published_at", "published_by"])
    _audit(actor, "sla.policy_published", version, retired=previous.number if previous else None)
    return version


@transaction.atomic
def policy_retire(*, actor: Actor, version: PolicyVersion) -> PolicyVersion:
    """Take a published version out of force without a successor: new leads get another
    policy or none; running timers keep theirs."""
    version = PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)
    if version.state != PolicyVersion.State.PUBLISHED:
        raise ApplicationError(f"{version} is {version.state}, not in force.", code="not_published")
    version.state = PolicyVersion.State.RETIRED
    version.retired_at = timezone.now()
    version.save(update_fields=["state", "retired_at"])
    _audit(actor, "sla.policy_retired", version)
    return version


@transaction.atomic
def policy_draft_delete(*, actor: Actor, version: PolicyVersion) -> None:
    version = PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)
    if version.state != PolicyVersion.State.DRAFT:
        raise ApplicationError(f"{version} is {version.state}: only drafts are deleted.")
    _audit(actor, "sla.policy_draft_deleted", version)
    version.delete()
