"""SLA policies as code: every market's policies in force as one JSON document.

Export writes market codes and policy keys, never database ids, and only what is in force (each
policy's published version: its content and change note, not its number), with sorted keys and
the policies of a market sorted by key, so export → import into a database with the same markets
→ export gives the same bytes. A policy with no version in force (retired, or only a draft) is
not exported; a market is exported when it has a policy in force (or when it is asked for).

    {"format": "leadops-sla/1",
     "markets": {"DE": [{"key": "inbound", "name": "Inbound leads",
                         "published": {"change_note": "…", "minutes": 60, … every SPEC_FIELDS}}]}}

A field missing from `published` takes its default (`policies.DEFAULTS`), never the value of the
version in force, so what a file says is the whole policy. Import checks the whole document first
(markets, keys, every field) and either reports every problem and writes nothing, or, in one
transaction, drafts and publishes a new version of each policy whose content differs from its
version in force (which is retired). A policy whose content is unchanged writes nothing (a new
change note alone is no change); a policy of the database that the file does not name is left
alone: an import never retires. Names are set when a policy is created, never imported over.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from leadops.markets.models import Market
from leadops.sla.models import Policy, PolicyVersion
from leadops.sla.policies import (
    DEFAULTS,
    SPEC_FIELDS,
    policy_draft,
    policy_publish,
    spec_of,
    spec_problems,
)

FORMAT = "leadops-sla/1"
State = PolicyVersion.State
KEY = re.compile(r"^[-a-zA-Z0-9_]+$")
KEY_MAX = Policy._meta.get_field("key").max_length or 50
NAME_MAX = Policy._meta.get_field("name").max_length or 100
SMALL_MAX = 32767  # a PositiveSmallIntegerField


class TransferInvalid(ValueError):
    """The document cannot be imported; `problems` lists every problem, one sentence each,
    naming the place in the file, the market, the policy key and the field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s), nothing imported:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
        self.problems = problems


# --- export ---------------------------------------------------------------------------------


def sla_export(*, market: str | None = None) -> str:
    """The policies in force of every market (or of `market` only, listed even without any),
    as JSON. Raises ApplicationError for an unknown market code."""
    with system_context("sla_export"):
        markets = Market.objects.order_by("code")
        if market is not None:
            markets = markets.filter(code=market)
            if not markets.exists():
                raise ApplicationError(f"There is no market {market!r}.", code="unknown_market")
        codes = {m.pk: m.code for m in markets}
        document: dict[str, list[dict[str, Any]]] = {}
        if market is not None:
            document[market] = []
        published = (
            PolicyVersion.objects.filter(state=State.PUBLISHED, market_id__in=codes)
            .select_related("policy")
            .order_by("policy__key")
        )
        for version in published:
            document.setdefault(codes[version.market_id], []).append(
                {
                    "key": version.policy.key,
                    "name": version.policy.name,
                    "published": {"change_note": version.change_note, **spec_of(version)},
                }
            )
    text = json.dumps(
        {"format": FORMAT, "markets": document}, sort_keys=True, indent=2, ensure_ascii=False
    )
    return text + "\n"


# --- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    """One policy of the document, checked: what import will do with it."""

    market: Market
    key: str
    name: str
    spec: dict[str, Any]  # every SPEC_FIELDS
    change_note: str
    existing: Policy | None
    current: PolicyVersion | None  # the version in force
    next_number: int

    @property
    def title(self) -> str:
        return f"{self.market.code} {self.key}"

    @property
    def unchanged(self) -> bool:
        return self.current is not None and spec_of(self.current) == self.spec


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _texts(value: Any, longest: int | None = None) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and v and (longest is None or len(v) <= longest) for v in value
    )


# What spec_problems takes for granted (a wrong type there would be an exception, or a
# database error at publish): checked first, field by field.
def _type_problem(name: str, value: Any) -> str | None:
    if name == "priority" and not (_whole(value) and 0 <= value <= SMALL_MAX):
        return f"A whole number from 0 to {SMALL_MAX} (the lowest wins among equals)."
    if name == "sources" and not _texts(value, 50):
        return "A list of source slugs (empty: any source)."
    if name in ("score_min", "score_max") and not (value is None or _whole(value)):
        return "A whole number, or null for no bound."
    if name == "field" and not (isinstance(value, str) and len(value) <= 40):
        return "A lead field name (text), or empty."
    if name == "field_value" and not (isinstance(value, str) and len(value) <= 200):
        return "Text of at most 200 characters, or empty."
    if name == "restart_on_reassign" and not isinstance(value, bool):
        return "true or false."
    if name == "activity_kinds" and not _texts(value):
        return "A list of activity kinds (call, email, meeting, note)."
    if name == "ladder":
        if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
            return 'A list of steps, each {"step": NAME, "after": MINUTES}.'
        for index, step in enumerate(value):
            if not isinstance(step.get("step"), str):
                return f"Step {index + 1}: `step` is the name of an escalation step."
            if "after" in step and not _whole(step["after"]):
                return f"Step {index + 1}: `after` is a whole number of business minutes."
    if name in ("starts_on", "hours", "response_by") and not isinstance(value, str):
        return "Text (one of the choices)."
    return None


def _spec_problems(where: str, label: str, published: dict[str, Any]) -> list[str]:
    """Every problem of a `published` object, each naming its field."""
    problems = [
        f"{where}.{name}: {label}: not a policy field; the fields are change_note, "
        f"{', '.join(SPEC_FIELDS)}."
        for name in sorted(set(published) - {"change_note", *SPEC_FIELDS})
    ]
    spec = {**copy.deepcopy(DEFAULTS), **{k: v for k, v in published.items() if k in SPEC_FIELDS}}
    badly_typed: dict[str, str] = {}
    for name in SPEC_FIELDS:
        message = _type_problem(name, spec[name])
        if message is not None:
            badly_typed[name] = message
    # The rest is checked with defaults in place of the badly typed fields, whose messages
    # are the type's: every problem is named once, and nothing raises.
    checked = spec_problems({**spec, **{k: DEFAULTS[k] for k in badly_typed}})
    for name in SPEC_FIELDS:
        if name in badly_typed:
            problems.append(f"{where}.{name}: {label}: {badly_typed[name]}")
        else:
            problems += [f"{where}.{name}: {label}: {m}" for m in checked.get(name, [])]
    return problems


def _plan(document: Any, *, source: str) -> list[_Planned]:
    """Check everything import relies on; raise TransferInvalid listing every problem."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TransferInvalid(
            [f"$.format: expected {FORMAT!r} (a file written by `manage.py sla export`)."]
        )
    entries = document.get("markets")
    if not isinstance(entries, dict):
        raise TransferInvalid(['$.markets: expected an object {"MARKET CODE": [policies]}.'])
    markets = {m.code: m for m in Market.objects.all()}
    policies = {(p.market_id, p.key): p for p in Policy.objects.all()}
    versions: dict[int, list[PolicyVersion]] = {}
    for version in PolicyVersion.objects.order_by("-number"):
        versions.setdefault(version.policy_id, []).append(version)
    problems: list[str] = []
    planned: list[_Planned] = []
    for code in sorted(entries):
        path = f"$.markets.{code}"
        market = markets.get(code)
        if market is None:
            problems.append(
                f"{path}: there is no market {code!r} here; create it first "
                "(`manage.py markets import`) or remove it from the file."
            )
            continue
        listed = entries[code]
        if not isinstance(listed, list):
            problems.append(f"{path}: market {code}: expected a list of policies.")
            continue
        seen: dict[str, int] = {}
        for i, entry in enumerate(listed):
            where = f"{path}[{i}]"
            if not isinstance(entry, dict):
                problems.append(
                    f"{where}: market {code}: expected an object with `key`, `name` and "
                    "`published`."
                )
                continue
            key = entry.get("key")
            if not isinstance(key, str) or not KEY.match(key) or len(key) > KEY_MAX:
                problems.append(
                    f"{where}.key: market {code}: a policy key is letters, digits, - and _ "
                    f"(at most {KEY_MAX}), got {key!r}."
                )
                continue
            label = f"market {code}, policy `{key}`"
            if key in seen:
                problems.append(f"{where}.key: {label} is already at {path}[{seen[key]}].")
                continue
            seen[key] = i
            for unknown in sorted(set(entry) - {"key", "name", "published"}):
                problems.append(f"{where}.{unknown}: {label}: not a policy attribute.")
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
                problems.append(f"{where}.name: {label}: a name of 1 to {NAME_MAX} characters.")
            published = entry.get("published")
            if not isinstance(published, dict):
                problems.append(
                    f"{where}.published: {label}: expected an object with the policy's fields "
                    "and its change note."
                )
                continue
            note = published.get("change_note", "")
            if not isinstance(note, str):
                problems.append(f"{where}.published.change_note: {label}: expected text.")
            found = _spec_problems(f"{where}.published", label, published)
            problems += found
            if found or not isinstance(name, str) or not isinstance(note, str):
                continue
            existing = policies.get((market.pk, key))
            history = versions.get(existing.pk, []) if existing else []
            item = _Planned(
                market=market,
                key=key,
                name=name,
                spec={
                    n: published[n] if n in published else copy.deepcopy(DEFAULTS[n])
                    for n in SPEC_FIELDS
                },
                change_note=note.strip() or f"imported from {source}",
                existing=existing,
                current=next((v for v in history if v.state == State.PUBLISHED), None),
                next_number=(history[0].number + 1) if history else 1,
            )
            draft = next((v for v in history if v.state == State.DRAFT), None)
            if draft is not None and not item.unchanged:
                problems.append(
                    f"{where}: {label} has a draft here (v{draft.number} by {draft.author}): "
                    "publish or delete it first; an import does not overwrite work in progress."
                )
                continue
            planned.append(item)
    if problems:
        raise TransferInvalid(problems)
    return sorted(planned, key=lambda item: (item.market.code, item.key))


# --- import -----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do): one line per policy, and counts."""

    lines: list[str] = field(default_factory=list)
    published: int = 0
    unchanged: int = 0
    left_alone: int = 0
    dry_run: bool = False

    @property
    def summary(self) -> str:
        verb = "would publish" if self.dry_run else "published"
        text = (
            f"sla import: {verb} {self.published}, unchanged {self.unchanged}, "
            f"left alone {self.left_alone} (not in the file)"
        )
        return text + (": dry run, nothing written" if self.dry_run else "")


def _apply(actor: SystemActor, item: _Planned, *, dry_run: bool) -> str:
    renamed = (
        f" (named {item.existing.name!r} here: names are not imported)"
        if item.existing is not None and item.existing.name != item.name
        else ""
    )
    if item.unchanged:
        assert item.current is not None  # unchanged means there is one
        return f"{item.title}: unchanged (v{item.current.number} in force){renamed}"
    made = "created; " if item.existing is None else ""
    replaced = f", replacing v{item.current.number}" if item.current is not None else ""
    if dry_run:
        return f"{item.title}: {made}would publish v{item.next_number}{replaced}{renamed}"
    draft = policy_draft(
        actor=actor,
        market=item.market,
        key=item.key,
        name=item.name,
        change_note=item.change_note,
        **item.spec,
    )
    version = policy_publish(actor=actor, version=draft)
    return f"{item.title}: {made}published v{version.number}{replaced}{renamed}"


def sla_import(
    *, actor: SystemActor, document: Any, source: str, dry_run: bool = False
) -> ImportReport:
    """Check the whole document, then, in one transaction, publish each policy whose content
    differs from its version in force. Raises TransferInvalid (nothing written) listing every
    problem. `source` names the file in the change note of versions the file gives none. With
    `dry_run`, says what it would do and writes nothing."""
    report = ImportReport(dry_run=dry_run)
    with system_context("sla_import"):  # opens (or joins) the one transaction
        planned = _plan(document, source=source)
        named = {(item.market.pk, item.key) for item in planned}
        for item in planned:
            report.lines.append(_apply(actor, item, dry_run=dry_run))
            if item.unchanged:
                report.unchanged += 1
            else:
                report.published += 1
        absent = (
            Policy.objects.select_related("market")
            .order_by("market__code", "key")
            .prefetch_related("versions")
        )
        for policy in absent:
            if (policy.market_id, policy.key) in named:
                continue
            current = next((v for v in policy.versions.all() if v.state == State.PUBLISHED), None)
            state = f"v{current.number} in force" if current else "nothing in force"
            report.lines.append(
                f"{policy.market.code} {policy.key}: not in the file, left alone ({state})"
            )
            report.left_alone += 1
    return report
