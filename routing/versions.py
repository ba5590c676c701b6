"""Rule sets and the life of their versions: draft → submitted → approved → published → retired.

Every step is a service with an explicit actor, in one transaction, audited there. The rules are
checked twice on save: the shape and the operators (routing/rules.py, no database), then what
only the database knows (a team or person outside the rule set's market is refused: the owner
would not see their own lead). Submitting also runs the version's fixture leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from leadops.core.actors import Actor, SystemActor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.markets.models import Market, Team, TeamMember
from routing.engine import compile_version, fixture_check
from routing.models import RuleSet, RuleVersion
from routing.rules import RuleError, content_hash, validate_content

State = RuleVersion.State
APPROVE_PERM = "routing.approve_ruleversion"
GLOBAL_NAME = "Global fallback"


class RulesInvalid(ApplicationError):
    """The content failed validation; `errors` point at the rule and the field."""

    code = "invalid_rules"

    def __init__(self, errors: list[RuleError]) -> None:
        first = errors[0]
        where = f"rule {first.rule_id or first.rule} " if first.rule is not None else ""
        super().__init__(
            f"{len(errors)} problem(s) in the rules; first: {where}{first.path}: {first.message}",
            extra={"errors": [error_dict(e) for e in errors]},
        )
        self.errors = errors


def error_dict(error: RuleError) -> dict[str, Any]:
    return {
        "rule": error.rule,
        "rule_id": error.rule_id,
        "path": error.path,
        "message": error.message,
    }


def _person(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def _audit(actor: Actor, action: str, version: RuleVersion, **data: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=version,
        market_id=version.market_id,
        data={"rule_set": version.rule_set.name, "number": version.number, **data},
    )


# --- checks ---------------------------------------------------------------------------------


def content_problems(*, rule_set: RuleSet, content: Any) -> list[RuleError]:
    """Everything wrong with `content` for `rule_set`: shape, operators, then teams and people
    that do not exist where the rule set's leads live."""
    errors = validate_content(content)
    if errors:
        return errors
    return _placement_problems(rule_set, content)


def _placement_problems(rule_set: RuleSet, content: dict[str, Any]) -> list[RuleError]:
    teams = (
        Team.objects.all() if rule_set.is_global else Team.objects.filter(market=rule_set.market)
    )
    team_names = set(teams.values_list("name", flat=True))
    members = TeamMember.objects.filter(is_active=True)
    if not rule_set.is_global:
        members = members.filter(market=rule_set.market)
    people = set(members.values_list("user__username", flat=True))
    users = set(User.objects.filter(is_active=True).values_list("username", flat=True))
    where = "any market" if rule_set.is_global else str(rule_set.market)
    errors = []
    for i, rule in enumerate(content.get("rules", [])):
        then, rule_id = rule.get("then", {}), rule.get("id", "")
        team = then.get("team")
        if team is not None and team not in team_names:
            errors.append(
                RuleError(i, rule_id, f"rules[{i}].then.team", f"No team {team!r} in {where}.")
            )
        owner = then.get("owner")
        if owner is not None and owner not in people:
            errors.append(
                RuleError(
                    i,
                    rule_id,
                    f"rules[{i}].then.owner",
                    f"{owner!r} is on no active team of {where}: they would not see the lead.",
                )
            )
        for j, name in enumerate(then.get("notify", [])):
            if name not in users:
                errors.append(
                    RuleError(i, rule_id, f"rules[{i}].then.notify[{j}]", f"No user {name!r}.")
                )
    return errors


def _checked(rule_set: RuleSet, content: Any) -> dict[str, Any]:
    errors = content_problems(rule_set=rule_set, content=content)
    if errors:
        raise RulesInvalid(errors)
    return dict(content)


@dataclass(frozen=True)
class FixtureOutcome:
    name: str
    passed: bool
    expected: dict[str, Any]
    got: dict[str, Any]
    trace: list[dict[str, Any]]


def fixtures_run(*, version: RuleVersion, at: datetime | None = None) -> list[FixtureOutcome]:
    """Run the version's fixture leads (each at its own `at`, else `at`, else now); the market's
    calendar answers `within_business_hours`."""
    from routing.world import market_is_open

    compiled = compile_version(version.content)
    market = version.market
    outcomes = []
    for fixture in version.fixtures:
        # A fixture lead of a market's rule set lives in that market unless it says otherwise.
        lead = {
            "market": market.code if market else None,
            "timezone": market.timezone if market else "UTC",
            **dict(fixture.get("lead", {})),
        }
        code = lead.get("market")

        def is_open(when: datetime, code: str | None = code) -> bool:
            return market_is_open(code, when)

        result = fixture_check(
            compiled,
            {**fixture, "lead": lead},
            default_at=at or timezone.now(),
            is_open=is_open,
        )
        outcomes.append(
            FixtureOutcome(result.name, result.passed, result.expected, result.got, result.trace)
        )
    return outcomes


# --- services -------------------------------------------------------------------------------


@transaction.atomic
def rule_set_ensure(*, actor: Actor, market: Market | None) -> RuleSet:
    """The rule set of `market` (None: the global fallback), made on first use."""
    found = RuleSet.objects.filter(market=market).first()
    if found is not None:
        return found
    rule_set = RuleSet.objects.create(
        market=market, name=f"{market.code} routing" if market else GLOBAL_NAME
    )
    audit_record(
        actor=actor,
        action="rule_set.created",
        target=rule_set,
        market_id=market.id if market else None,
        data={"name": rule_set.name},
    )
    return rule_set


@transaction.atomic
def version_draft_create(
    *, actor: Actor, rule_set: RuleSet, content: Any, change_note: str
) -> RuleVersion:
    """A new draft with `content` (validated), numbered after the rule set's last version."""
    if not change_note.strip():
        raise ApplicationError("Say why this version exists.", code="change_note_required")
    content = _checked(rule_set, content)
    # The rule set row serialises numbering: two drafts made at once get different numbers.
    list(RuleSet.objects.select_for_update().filter(pk=rule_set.pk).values_list("pk"))
    last = rule_set.versions.order_by("-number").values_list("number", flat=True).first()
    version = RuleVersion.objects.create(
        rule_set=rule_set,
        market_id=rule_set.market_id,
        number=(last or 0) + 1,
        content=content,
        content_hash=content_hash(content),
        change_note=change_note.strip()[:500],
        author=_person(actor),
    )
    _audit(actor, "rule_version.drafted", version, note=version.change_note)
    return version


def _locked(version: RuleVersion, *states: str) -> RuleVersion:
    version = (
        RuleVersion.objects.select_for_update(of=("self",))
        .select_related("rule_set", "market")
        .get(pk=version.pk)
    )
    if version.state not in states:
        wanted = " or ".join(states)
        raise ApplicationError(
            f"Version {version.number} is {version.state}; this needs it {wanted}.",
            code="wrong_state",
        )
    return version


@transaction.atomic
def version_draft_update(
    *, actor: Actor, version: RuleVersion, content: Any, change_note: str | None = None
) -> RuleVersion:
    version = _locked(version, State.DRAFT)
    version.content = _checked(version.rule_set, content)
    version.content_hash = content_hash(version.content)
    if change_note is not None and change_note.strip():
        version.change_note = change_note.strip()[:500]
    version.save(update_fields=["content", "content_hash", "change_note"])
    _audit(actor, "rule_version.edited", version, hash=version.content_hash)
    return version


@transaction.atomic
def version_submit(*, actor: Actor, version: RuleVersion) -> RuleVersion:
    """Ask for approval. The rules are checked again (a team may have gone) and every fixture
    lead must pass."""
    version = _locked(version, State.DRAFT)
    _checked(version.rule_set, version.content)
    failed = [f for f in fixtures_run(version=version) if not f.passed]
    if failed:
        raise ApplicationError(
            f"{len(failed)} fixture lead(s) fail: " + ", ".join(f.name for f in failed[:5]),
            code="fixtures_fail",
            extra={"failed": [f.__dict__ for f in failed]},
        )
    version.state = State.SUBMITTED
    version.submitted_at = timezone.now()
    version.save(update_fields=["state", "submitted_at"])
    _audit(actor, "rule_version.submitted", version, fixtures=len(version.fixtures))
    return version


@transaction.atomic
def version_withdraw(*, actor: Actor, version: RuleVersion, note: str) -> RuleVersion:
    """Back to draft (the author changes their mind, or an approver sends it back)."""
    version = _locked(version, State.SUBMITTED, State.APPROVED)
    if not note.strip():
        raise ApplicationError("Say why it goes back to draft.", code="note_required")
    previous = version.state
    version.state, version.submitted_at, version.approver, version.approved_at = (
        State.DRAFT,
        None,
        None,
        None,
    )
    version.save(update_fields=["state", "submitted_at", "approver", "approved_at"])
    _audit(actor, "rule_version.withdrawn", version, was=previous, note=note.strip()[:300])
    return version


def _approver(actor: Actor, version: RuleVersion) -> User:
    person = _person(actor)
    if person is None or not person.has_perm(APPROVE_PERM):
        raise ApplicationError(
            "Approving and publishing routing versions needs the approve permission.",
            code="permission_denied",
        )
    return person


@transaction.atomic
def version_approve(*, actor: Actor, version: RuleVersion, note: str = "") -> RuleVersion:
    """Anyone with the approve permission except the author."""
    version = _locked(version, State.SUBMITTED)
    person = _approver(actor, version)
    if version.author_id == person.pk:
        raise ApplicationError(
            "The author cannot approve their own version: ask another approver.",
            code="author_cannot_approve",
        )
    version.state, version.approver, version.approved_at = State.APPROVED, person, timezone.now()
    version.save(update_fields=["state", "approver", "approved_at"])
    _audit(actor, "rule_version.approved", version, note=note.strip()[:300])
    return version


@transaction.atomic
def version_publish(*, actor: Actor, version: RuleVersion) -> RuleVersion:
    """Put an approved version in force; the version in force until now retires."""
    version = _locked(version, State.APPROVED)
    person = _approver(actor, version)
    version.published_by = person
    return _put_in_force(actor, version, now=timezone.now())


def _put_in_force(actor: Actor, version: RuleVersion, *, now: datetime) -> RuleVersion:
    """Retire the version in force (if any) and publish `version`, audited. The caller holds
    the rule set's lock or the version's."""
    previous = (
        RuleVersion.objects.select_for_update()
        .filter(rule_set_id=version.rule_set_id, state=State.PUBLISHED)
        .first()
    )
    if previous is not None:
        previous.state, previous.retired_at = State.RETIRED, now
        previous.save(update_fields=["state", "retired_at"])
        _audit(actor, "rule_version.retired", previous, replaced_by=version.number)
    version.state, version.published_at = State.PUBLISHED, now
    version.submitted_at = version.submitted_at or now
    version.approved_at = version.approved_at or now
    version.save(
        update_fields=["state", "published_by", "published_at", "submitted_at", "approved_at"]
    )
    _audit(
        actor,
        "rule_version.published",
        version,
        replaces=previous.number if previous else None,
        hash=version.content_hash,
        by=actor_ref(actor).label,
    )
    return version


@transaction.atomic
def version_import_publish(
    *, actor: Actor, rule_set: RuleSet, content: Any, change_note: str
) -> RuleVersion:
    """Publish `content` as a new version of `rule_set` in one step: for commands only.

    People take a version draft → submitted → approved → published, and a second person
    approves. A routing file imported by a command (`manage.py routing import`, the demo seed)
    has no such second person in the database: the file was reviewed and approved where it
    lives (a repository), and running the command deploys what was approved there. So only a
    SystemActor may call this; the checks are the ones people get (the rules, then every
    fixture lead must pass), and the audit log says the version was imported, by which command.
    """
    if not isinstance(actor, SystemActor):
        raise ApplicationError(
            "Only an import command publishes without an approver: draft the version, submit "
            "it and ask an approver.",
            code="permission_denied",
        )
    if not change_note.strip():
        raise ApplicationError("Say why this version exists.", code="change_note_required")
    content = _checked(rule_set, content)
    # The rule set row serialises numbering and publishing, as for drafts.
    list(RuleSet.objects.select_for_update().filter(pk=rule_set.pk).values_list("pk"))
    last = rule_set.versions.order_by("-number").values_list("number", flat=True).first()
    version = RuleVersion(
        rule_set=rule_set,
        market_id=rule_set.market_id,
        number=(last or 0) + 1,
        content=content,
        content_hash=content_hash(content),
        change_note=change_note.strip()[:500],
        author=None,
    )
    failed = [f for f in fixtures_run(version=version) if not f.passed]
    if failed:
        raise ApplicationError(
            f"{len(failed)} fixture lead(s) fail: " + ", ".join(f.name for f in failed[:5]),
            code="fixtures_fail",
            extra={"failed": [f.__dict__ for f in failed]},
        )
    version.save()
    _audit(
        actor,
        "rule_version.imported",
        version,
        note=version.change_note,
        hash=version.content_hash,
        fixtures=len(version.fixtures),
        by=actor_ref(actor).label,
    )
    return _put_in_force(actor, version, now=timezone.now())


@transaction.atomic
def version_rollback(
    *, actor: Actor, version: RuleVersion, change_note: str, publish: bool = True
) -> RuleVersion:
    """Republish an earlier version's rules as a new version (numbers only go up, and the
    history says what happened). The new version is approved by the actor, who must hold the
    approve permission: a rollback restores rules that were approved before."""
    earlier = RuleVersion.objects.select_related("rule_set").get(pk=version.pk)
    if earlier.state not in (State.RETIRED, State.PUBLISHED):
        raise ApplicationError("Only a version that was published can be rolled back to.")
    person = _approver(actor, earlier)
    if not change_note.strip():
        raise ApplicationError("Say why you roll back.", code="change_note_required")
    new = version_draft_create(
        actor=actor,
        rule_set=earlier.rule_set,
        content=earlier.content,
        change_note=change_note,
    )
    now = timezone.now()
    RuleVersion.objects.filter(pk=new.pk).update(
        based_on=earlier,
        state=State.APPROVED,
        submitted_at=now,
        approver=person,
        approved_at=now,
    )
    new.refresh_from_db()
    _audit(actor, "rule_version.rolled_back", new, to=earlier.number, note=change_note[:300])
    return version_publish(actor=actor, version=new) if publish else new


@transaction.atomic
def version_draft_delete(*, actor: Actor, version: RuleVersion) -> None:
    version = _locked(version, State.DRAFT)
    _audit(actor, "rule_version.deleted", version)
    version.delete()
