"""Routing as code: every rule set and its published rules as one JSON document.

Export writes market codes, never database ids, and only what is in force (the published
version's rules, fixtures and change note), with sorted keys, so export → import into a
database with the same markets, teams and people → export gives the same bytes. Import checks
the whole document first (markets, the rules, the fixture leads) and either reports every
problem and writes nothing, or publishes, in one transaction, a new version for each rule set
whose rules differ from the ones in force; the others are left alone, so importing the same
file twice writes nothing the second time.

    {"format": "leadops-routing/1",
     "rule_sets": [{"market": "DE" | null (the global fallback), "name",
                    "published": {"change_note", "content": {"rules", "fixtures"}} | null}]}

Publishing an imported file goes through `version_import_publish`: the file's review is the
approval, so the import runs as a system actor (see that service).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.markets.models import Market
from routing.engine import compile_version, fixture_check, trace_explain
from routing.models import RuleSet, RuleVersion
from routing.rules import RuleError, content_hash, validate_content
from routing.versions import (
    GLOBAL_NAME,
    content_problems,
    fixtures_run,
    rule_set_ensure,
    version_import_publish,
)

FORMAT = "leadops-routing/1"
State = RuleVersion.State


class TransferInvalid(ValueError):
    """The document cannot be imported; `problems` lists every problem, one sentence each,
    naming the rule set, the rule and the path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s), nothing imported:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
        self.problems = problems


# --- export ---------------------------------------------------------------------------------


def _order(rule_set: RuleSet) -> tuple[bool, str]:
    """The global fallback first, then by market code."""
    return (rule_set.market_id is not None, rule_set.market.code if rule_set.market else "")


def routing_export() -> str:
    """Every rule set with the rules in force (None when nothing is published), as JSON."""
    with system_context("routing_export"):
        published = {v.rule_set_id: v for v in RuleVersion.objects.filter(state=State.PUBLISHED)}
        rule_sets = []
        for rule_set in sorted(RuleSet.objects.select_related("market"), key=_order):
            version = published.get(rule_set.pk)
            rule_sets.append(
                {
                    "market": rule_set.market.code if rule_set.market else None,
                    "name": rule_set.name,
                    "published": None
                    if version is None
                    else {"change_note": version.change_note, "content": version.content},
                }
            )
    document = {"format": FORMAT, "rule_sets": rule_sets}
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    """One rule set of the document, checked: what import will do with it."""

    label: str  # how messages name the rule set
    market: Market | None
    name: str
    existing: RuleSet | None
    content: dict[str, Any] | None  # None: the file publishes nothing for it
    change_note: str


def _label(code: str | None) -> str:
    return "the global fallback rule set" if code is None else f"the rule set of market {code}"


def _rule_problem(label: str, error: RuleError) -> str:
    if error.rule is not None:
        rule = f"rule {error.rule}" + (f" `{error.rule_id}`" if error.rule_id else "")
        where = f"{rule}, at {error.path}" if error.path else rule
    else:
        where = f"at {error.path}" if error.path else "the content"
    return f"{label}: {where}: {error.message}"


def _fixture_problems(label: str, market: Market | None, content: dict[str, Any]) -> list[str]:
    """Every fixture lead the rules do not route where the file says they should."""
    outcomes = fixtures_run(version=RuleVersion(market=market, content=content))
    return [
        f"{label}: fixture {index} `{outcome.name}`, at fixtures[{index}].expect: expected "
        f"{json.dumps(outcome.expected, sort_keys=True)}, the rules give "
        f"{json.dumps({k: outcome.got.get(k) for k in outcome.expected}, sort_keys=True)}."
        for index, outcome in enumerate(outcomes)
        if not outcome.passed
    ]


def _plan(document: Any, *, source: str) -> list[_Planned]:
    """Check everything import relies on; raise TransferInvalid listing every problem."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TransferInvalid(
            [f"$.format: expected {FORMAT!r} (a file written by `manage.py routing export`)."]
        )
    entries = document.get("rule_sets")
    if not isinstance(entries, list):
        raise TransferInvalid(["$.rule_sets: expected a list of rule sets."])
    markets = {m.code: m for m in Market.objects.all()}
    existing = {rs.market_id: rs for rs in RuleSet.objects.all()}
    problems: list[str] = []
    planned: list[_Planned] = []
    seen: dict[str | None, int] = {}
    for i, entry in enumerate(entries):
        path = f"$.rule_sets[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{path}: expected an object with `market`, `name` and `published`.")
            continue
        code = entry.get("market")
        if "market" not in entry or not (code is None or isinstance(code, str)):
            problems.append(f"{path}.market: a market code, or null for the global fallback.")
            continue
        label = _label(code)
        if code in seen:
            problems.append(
                f"{path}.market: {label} is already at $.rule_sets[{seen[code]}]; "
                "each rule set appears once."
            )
            continue
        seen[code] = i
        market = None if code is None else markets.get(code)
        if code is not None and market is None:
            problems.append(
                f"{path}.market: there is no market {code!r} here; create it first "
                "(`manage.py markets import`) or remove this rule set from the file."
            )
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{path}.name: {label} needs a name.")
            continue
        published = entry.get("published")
        if published is not None and not isinstance(published, dict):
            problems.append(
                f"{path}.published: expected an object with `content` and `change_note`, "
                "or null when nothing is published."
            )
            continue
        content, note = None, ""
        if published is not None:
            content = published.get("content")
            note = published.get("change_note", "")
            if not isinstance(note, str):
                problems.append(f"{path}.published.change_note: {label}: expected text.")
                continue
            rule_set = existing.get(market.pk if market else None) or RuleSet(
                market=market, name=name
            )
            found = content_problems(rule_set=rule_set, content=content)
            problems += [_rule_problem(label, error) for error in found]
            if found:
                continue
            assert isinstance(content, dict)  # content_problems refuses anything else
            problems += _fixture_problems(label, market, content)
        planned.append(
            _Planned(
                label=label,
                market=market,
                name=name,
                existing=existing.get(market.pk if market else None),
                content=content,
                change_note=note.strip() or f"imported from {source}",
            )
        )
    if problems:
        raise TransferInvalid(problems)
    return planned


# --- import -------------------------------------------------------------------------------------


def _apply(actor: SystemActor, item: _Planned) -> str:
    rule_set = item.existing
    made = ""
    if rule_set is None:
        rule_set = rule_set_ensure(actor=actor, market=item.market)
        made = "created; "
    renamed = (
        f" (named {rule_set.name!r} here: names are not imported)"
        if rule_set.name != item.name
        else ""
    )
    title = f"{rule_set.market.code if rule_set.market else GLOBAL_NAME}"
    current = rule_set.versions.filter(state=State.PUBLISHED).first()
    if item.content is None:
        if current is None:
            return f"{title}: {made}nothing published, as in the file{renamed}"
        return (
            f"{title}: {made}kept v{current.number} in force: the file publishes nothing, and "
            f"an import never unpublishes{renamed}"
        )
    if current is not None and current.content_hash == content_hash(item.content):
        return f"{title}: {made}unchanged (v{current.number} in force){renamed}"
    version = version_import_publish(
        actor=actor, rule_set=rule_set, content=item.content, change_note=item.change_note
    )
    replaced = f", replacing v{current.number}" if current is not None else ""
    return f"{title}: {made}published v{version.number}{replaced}{renamed}"


def routing_import(*, actor: SystemActor, document: Any, source: str) -> list[str]:
    """Check the whole document, then, in one transaction, publish each rule set whose rules
    differ from the ones in force. One line per rule set of the document saying what happened.
    Raises TransferInvalid (nothing written) listing every problem. `source` names the file for
    the change note of versions the file gives none."""
    with system_context("routing_import"):  # opens (or joins) the one transaction
        planned = _plan(document, source=source)
        return [_apply(actor, item) for item in planned]


@dataclass(frozen=True)
class FixtureLine:
    label: str  # the rule set (or the file)
    name: str
    passed: bool
    detail: str  # what was expected and got, and the rules tried, when it failed


def routing_test(*, document: Any, version: RuleVersion | None = None) -> list[FixtureLine]:
    """Run fixture leads from a file: each rule set of a `routing export` file against its own
    rules, or one version's content (`{"rules", "fixtures"}`) against its rules — or, with
    `version`, the file's fixtures against that version's rules. Business hours are the
    market's calendar when the market exists here, else always open. Writes nothing."""
    if not isinstance(document, dict):
        raise TransferInvalid(["the file is not a JSON object"])
    if "rule_sets" in document:
        sets = [
            (_label(rs.get("market")), rs.get("market"), (rs.get("published") or {}).get("content"))
            for rs in document.get("rule_sets") or []
            if isinstance(rs, dict)
        ]
    else:
        sets = [("the file", None, document)]
    lines: list[FixtureLine] = []
    for label, code, content in sets:
        if not isinstance(content, dict):
            continue
        rules = version.content if version is not None else content
        problems = validate_content({**rules, "fixtures": content.get("fixtures", [])})
        if problems:
            lines.extend(
                FixtureLine(label, "(the rules)", False, _rule_problem(label, p)) for p in problems
            )
            continue
        compiled = compile_version(rules)
        market_code = code or (version.market.code if version and version.market else None)
        for fixture in content.get("fixtures", []):
            lead = {"market": market_code, **dict(fixture.get("lead", {}))}
            where = lead.get("market")

            def is_open(at: datetime, where: Any = where) -> bool:
                return _open_or_always(where, at)

            result = fixture_check(compiled, {**fixture, "lead": lead}, is_open=is_open)
            detail = ""
            if not result.passed:
                tried = "; ".join(
                    f"{step['rule']} {'matched' if step['ok'] else 'no'}"
                    + "".join(
                        f" [{c.get('field', 'business hours')} {c.get('op')} {c.get('value')} "
                        f"saw {c.get('actual')!r}]"
                        for c in step.get("conditions", [])
                        if not c.get("ok")
                    )
                    for step in trace_explain(rules, result.trace)
                )
                detail = (
                    f"expected {result.expected}, got {result.got}; tried: {tried or 'nothing'}"
                )
            lines.append(FixtureLine(label, result.name, result.passed, detail))
    return lines


def _open_or_always(code: Any, at: datetime) -> bool:
    from routing.world import market_is_open

    if code and Market.objects.filter(code=code).exists():
        return market_is_open(str(code), at)
    return True
