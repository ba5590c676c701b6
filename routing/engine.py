"""The routing engine: compile a rule version once, then find a lead's first matching rule.

Compiling turns each rule's condition into a tree of small closures (casefolded constants,
`in` lists as frozensets, regexes compiled once with re2) and builds a dispatch index: most
rules begin with "country in [...]" or "source = ...", so a rule whose top-level condition
requires `field ∈ values` is filed under those values, and a lead only visits the rules filed
under its own values plus the rules with no such key. The outcome is, by construction and by a
property test, the one `naive_first_match` finds by trying every rule in order.

Every evaluation leaves a trace (the rules tried, and the conditions actually evaluated, with
the lead's values) so a person can see why a lead went where it went. The trace is stored with
every decision, so it keeps only what varies per lead: a step names its condition by `path`
(and `field`, which redaction reads), not by its operator and value, which are constants of the
version; `trace_explain` puts those back from the version's content for a reader.

Pure: no Django, no database; the caller supplies the facts, the moment and the opening hours.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import re2

from routing.rules import ATTRIBUTE_PREFIX, DERIVED_FIELDS, RE2_OPTIONS, WEEKDAYS, parse_at

Facts = Mapping[str, Any]
Trace = list[dict[str, Any]]
IsOpen = Callable[[datetime], bool]

# Fields preferred as a rule's dispatch key, most selective in practice first.
DISPATCH_PREFERENCE: Final = ("market", "source", "country", "region", "status", "company_domain")
TRACE_VALUES: Final = 10  # an `in` list shows its first 10 values in a trace
TRACE_TEXT: Final = 100  # a lead's value shows at most 100 characters


class _Env:
    """What one evaluation may need besides the facts, computed only if a rule asks for it."""

    __slots__ = ("_at", "_facts", "_is_open", "_local", "_open")

    def __init__(self, facts: Facts, at: datetime, is_open: IsOpen) -> None:
        self._facts = facts
        self._at = at
        self._is_open = is_open
        self._local: datetime | None = None
        self._open: bool | None = None

    def open(self) -> bool:
        if self._open is None:
            self._open = bool(self._is_open(self._at))
        return self._open

    def local(self) -> datetime:
        if self._local is None:
            self._local = self._at.astimezone(ZoneInfo(self._facts.get("timezone") or "UTC"))
        return self._local


_Node = Callable[[Facts, _Env, Trace | None], bool]


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """One rule ready to run. `then` is the rule's actions as written (do not mutate)."""

    position: int
    id: str
    name: str
    then: dict[str, Any]
    test: _Node = field(repr=False)


@dataclass(frozen=True)
class Evaluation:
    """The first matching rule (or None), the rules tried on the way, and how many rules in
    range the index let us skip (positions up to the match, or to the end when none)."""

    rule: CompiledRule | None
    trace: Trace
    skipped_by_index: int


@dataclass(frozen=True, eq=False)
class Compiled:
    """A compiled version: immutable, so one instance serves every thread."""

    rules: tuple[CompiledRule, ...]
    # field -> casefolded value -> sorted positions of the rules keyed on it
    index: Mapping[str, Mapping[str, tuple[int, ...]]] = field(repr=False)
    always: tuple[int, ...] = field(repr=False)  # positions of rules without a dispatch key
    # The same lists as bit sets (bit n: position n): OR-ing them and taking the lowest bit
    # first merges the lists in rule order without sorting, and only as far as needed.
    index_bits: Mapping[str, Mapping[str, int]] = field(repr=False)
    always_bits: int = field(repr=False)

    def candidate_bits(self, facts: Facts) -> int:
        """The rules worth trying for these facts, as a bit set."""
        bits = self.always_bits
        for name, table in self.index_bits.items():
            actual = facts.get(name)
            if isinstance(actual, str):
                found = table.get(actual.casefold())
                if found:
                    bits |= found
        return bits

    def candidates(self, facts: Facts) -> list[int]:
        """Positions worth trying for these facts, in rule order."""
        bits = self.candidate_bits(facts)
        out = []
        while bits:
            low = bits & -bits
            out.append(low.bit_length() - 1)
            bits ^= low
        return out

    def evaluate(
        self,
        facts: Facts,
        *,
        at: datetime,
        is_open: IsOpen,
        after: int = -1,
        trace: bool = True,
    ) -> Evaluation:
        """The first rule after position `after` whose condition holds. `after` resumes past a
        rule that matched but could not place the lead (`when_closed: fall_through`);
        `trace=False` skips the trace for bulk runs that do not keep it. `at` must be aware;
        `hour`/`weekday` read it in `facts["timezone"]` (UTC when absent; an unknown zone
        raises ZoneInfoNotFoundError, but only when a rule tried needs local time)."""
        if at.tzinfo is None:
            raise ValueError("`at` must be an aware datetime")
        bits = self.candidate_bits(facts)
        if after >= 0:
            bits = bits >> (after + 1) << (after + 1)
        env = _Env(facts, at, is_open)
        rules = self.rules
        steps: Trace = []
        matched: CompiledRule | None = None
        tried = 0
        while bits:
            low = bits & -bits
            bits ^= low
            rule = rules[low.bit_length() - 1]
            tried += 1
            if trace:
                conditions: Trace = []
                ok = rule.test(facts, env, conditions)
                steps.append({"rule": rule.id, "ok": ok, "conditions": conditions})
            else:
                ok = rule.test(facts, env, None)
            if ok:
                matched = rule
                break
        end = matched.position if matched is not None else len(rules) - 1
        return Evaluation(matched, steps, max(0, end - after) - tried)


def compile_version(content: Mapping[str, Any]) -> Compiled:
    """Compile validated content (see `routing.rules.validate_content`) for repeated use."""
    rules: list[CompiledRule] = []
    index: dict[str, dict[str, list[int]]] = {}
    always: list[int] = []
    for position, rule in enumerate(content.get("rules", [])):
        when = rule.get("when") or {}
        rules.append(
            CompiledRule(
                position=position,
                id=rule["id"],
                name=rule.get("name", ""),
                then=_copy(rule["then"]),
                test=_node(when, "") if when else _always,
            )
        )
        key = _dispatch_key(when)
        if key is None:
            always.append(position)
        else:
            name, values = key
            table = index.setdefault(name, {})
            for value in values:
                table.setdefault(value, []).append(position)
    frozen = {
        name: {value: tuple(positions) for value, positions in table.items()}
        for name, table in sorted(index.items(), key=lambda item: _preference(item[0]))
    }
    return Compiled(
        rules=tuple(rules),
        index=frozen,
        always=tuple(always),
        index_bits={
            name: {value: _bits(positions) for value, positions in table.items()}
            for name, table in frozen.items()
        },
        always_bits=_bits(always),
    )


def _bits(positions: Iterable[int]) -> int:
    bits = 0
    for position in positions:
        bits |= 1 << position
    return bits


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _always(facts: Facts, env: _Env, out: Trace | None) -> bool:
    return True


# --- dispatch ----------------------------------------------------------------------------------


def _preference(name: str) -> int:
    return DISPATCH_PREFERENCE.index(name) if name in DISPATCH_PREFERENCE else 99


def _indexable(leaf: Mapping[str, Any]) -> tuple[str, frozenset[str]] | None:
    """(field, casefolded values) when this leaf holds only if the lead's field is one of those
    strings. Only text values qualify: a text `eq`/`in` never matches a non-text actual."""
    name = leaf.get("field")
    if not isinstance(name, str) or name in DERIVED_FIELDS or name.startswith(ATTRIBUTE_PREFIX):
        return None
    op, value = leaf.get("op"), leaf.get("value")
    values = [value] if op == "eq" else value if op == "in" else None
    if not values or not all(isinstance(v, str) for v in values):
        return None
    return name, frozenset(str(v).casefold() for v in values)


def _dispatch_key(when: Mapping[str, Any]) -> tuple[str, frozenset[str]] | None:
    """The top-level condition's most useful required `eq`/`in` test, if it has one."""
    if "all" in when:
        options = [k for k in map(_indexable, when["all"]) if k is not None]
    elif "any" in when or "not" in when:
        return None
    else:
        key = _indexable(when)
        options = [key] if key is not None else []
    if not options:
        return None
    # The preferred field first; among equals, the smallest value set (fewest visits).
    return min(options, key=lambda k: (_preference(k[0]), len(k[1])))


# --- compiling conditions ----------------------------------------------------------------------


def _node(node: Mapping[str, Any], path: str) -> _Node:
    prefix = f"{path}." if path else ""
    if "all" in node or "any" in node:
        group = "all" if "all" in node else "any"
        children = tuple(
            _node(child, f"{prefix}{group}[{i}]") for i, child in enumerate(node[group])
        )
        return _all(children) if group == "all" else _any(children)
    if "not" in node:
        return _not(_node(node["not"], f"{prefix}not"))
    return _leaf(node, path)


# Plain loops, not all()/any() over a generator: no generator object per group on the hot path.
def _all(children: tuple[_Node, ...]) -> _Node:
    def test(facts: Facts, env: _Env, out: Trace | None) -> bool:
        for child in children:  # noqa: SIM110
            if not child(facts, env, out):
                return False
        return True

    return test


def _any(children: tuple[_Node, ...]) -> _Node:
    def test(facts: Facts, env: _Env, out: Trace | None) -> bool:
        for child in children:  # noqa: SIM110
            if child(facts, env, out):
                return True
        return False

    return test


def _not(child: _Node) -> _Node:
    def test(facts: Facts, env: _Env, out: Trace | None) -> bool:
        return not child(facts, env, out)

    return test


# A trace step is a four-key literal: what varies per lead, and the path (and field) that find
# the condition's operator and value in the version again (see `trace_explain`).
def _leaf(leaf: Mapping[str, Any], path: str) -> _Node:
    op: str = leaf["op"]
    value = leaf["value"]
    if op == "within_business_hours":
        wanted = bool(value)

        def hours(facts: Facts, env: _Env, out: Trace | None) -> bool:
            actual = env.open()
            ok = actual is wanted
            if out is not None:
                out.append({"path": path, "op": op, "actual": actual, "ok": ok})
            return ok

        return hours

    name: str = leaf["field"]
    check = _check(op, value)
    plain = name not in DERIVED_FIELDS and not name.startswith(ATTRIBUTE_PREFIX)
    if plain and op in ("eq", "in"):
        values = value if op == "in" else [value]
        if all(isinstance(v, str) for v in values):
            return _plain_texts(name, frozenset(v.casefold() for v in values), path)
    if plain and op in _COMPARE:
        return _plain_compare(name, _COMPARE[op], value, check, path)
    get = (lambda facts, env: facts.get(name)) if plain else _getter(name)

    def generic(facts: Facts, env: _Env, out: Trace | None) -> bool:
        actual = get(facts, env)
        ok = check(actual)
        if out is not None:
            cls = actual.__class__
            out.append(
                {
                    "path": path,
                    "field": name,
                    "actual": actual
                    if actual is None or cls is int or (cls is str and len(actual) <= TRACE_TEXT)
                    else trace_actual(actual),
                    "ok": ok,
                }
            )
        return ok

    return generic


# The two commonest leaves get closures of their own (one call per leaf, not three): a text
# `eq`/`in` on a plain field, and a number comparison on one.
def _plain_texts(name: str, texts: frozenset[str], path: str) -> _Node:
    def leaf(facts: Facts, env: _Env, out: Trace | None) -> bool:
        actual = facts.get(name)
        ok = isinstance(actual, str) and actual.casefold() in texts
        if out is not None:
            out.append(
                {
                    "path": path,
                    "field": name,
                    "actual": actual
                    if actual is None or (actual.__class__ is str and len(actual) <= TRACE_TEXT)
                    else trace_actual(actual),
                    "ok": ok,
                }
            )
        return ok

    return leaf


_COMPARE: Final = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _plain_compare(
    name: str,
    compare: Callable[[Any, Any], bool],
    bound: float,
    check: Callable[[Any], bool],
    path: str,
) -> _Node:
    def leaf(facts: Facts, env: _Env, out: Trace | None) -> bool:
        actual = facts.get(name)
        cls = actual.__class__
        ok = compare(actual, bound) if cls is int or cls is float else check(actual)
        if out is not None:
            out.append(
                {
                    "path": path,
                    "field": name,
                    "actual": actual if cls is int or actual is None else trace_actual(actual),
                    "ok": ok,
                }
            )
        return ok

    return leaf


def _getter(name: str) -> Callable[[Facts, _Env], Any]:
    if name == "hour":
        return lambda facts, env: env.local().hour
    if name == "weekday":
        return lambda facts, env: WEEKDAYS[env.local().weekday()]
    key = name[len(ATTRIBUTE_PREFIX) :]

    def attribute(facts: Facts, env: _Env) -> Any:
        attributes = facts.get("attributes")
        return attributes.get(key) if isinstance(attributes, Mapping) else None

    return attribute


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(op: str, value: Any) -> Callable[[Any], bool]:
    """The operator with its value baked in: a function of the lead's value only."""
    if op == "eq":
        if isinstance(value, str):
            text = value.casefold()
            return lambda a: isinstance(a, str) and a.casefold() == text
        if isinstance(value, bool):
            return lambda a: a is value
        return lambda a: _is_number(a) and a == value
    if op == "in":
        texts = frozenset(v.casefold() for v in value if isinstance(v, str))
        numbers = frozenset(v for v in value if _is_number(v))
        flags = frozenset(v for v in value if isinstance(v, bool))

        def among(a: Any) -> bool:
            if isinstance(a, str):
                return a.casefold() in texts
            if isinstance(a, bool):
                return a in flags
            return _is_number(a) and a in numbers

        return among
    if op == "contains":
        text = value.casefold()
        return lambda a: a is not None and text in str(a).casefold()
    if op == "startswith":
        text = value.casefold()
        return lambda a: a is not None and str(a).casefold().startswith(text)
    if op == "regex":
        search = re2.compile(value, options=RE2_OPTIONS).search

        def matches(a: Any) -> bool:
            if a is None:
                return False
            try:
                return search(a if isinstance(a, str) else str(a)) is not None
            except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8 for re2
                return False

        return matches
    if op == "gt":
        return lambda a: _is_number(a) and a > value
    if op == "gte":
        return lambda a: _is_number(a) and a >= value
    if op == "lt":
        return lambda a: _is_number(a) and a < value
    if op == "lte":
        return lambda a: _is_number(a) and a <= value
    if op == "exists":
        wanted = bool(value)
        return lambda a: (a is not None and a != "") is wanted
    if op == "domain_in":
        domains = frozenset(str(d).casefold() for d in value)
        return lambda a: _in_domains(a, domains)
    raise ValueError(f"unknown operator {op!r}")


def _in_domains(actual: Any, domains: frozenset[str]) -> bool:
    """`actual` (an address or a domain) is one of `domains` or a subdomain of one."""
    if not isinstance(actual, str):
        return False
    domain = actual.rpartition("@")[2].strip().casefold()
    while domain:
        if domain in domains:
            return True
        domain = domain.partition(".")[2]
    return False


# --- trace -------------------------------------------------------------------------------------


def trace_value(value: Any) -> Any:
    """A condition's value as a trace shows it: long lists cut to their first values."""
    if isinstance(value, list) and len(value) > TRACE_VALUES:
        return [*value[:TRACE_VALUES], f"…+{len(value) - TRACE_VALUES}"]
    return value


def trace_actual(actual: Any) -> Any:
    """A lead's value as a trace shows it: JSON-safe, text cut to 100 characters."""
    if isinstance(actual, str):
        return actual if len(actual) <= TRACE_TEXT else actual[: TRACE_TEXT - 1] + "…"
    if actual is None or isinstance(actual, bool | int):
        return actual
    if isinstance(actual, float) and math.isfinite(actual):
        return actual
    return trace_actual(str(actual))


_STEP: Final = re.compile(r"(all|any)\[([0-9]+)\]")


def trace_explain(
    content: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per-rule trace entries (as `Evaluation.trace` gives them) with each condition step's
    operator and value put back from the version's `content`, found by rule id and path:
    `{"path", "field", "op", "value", "actual", "ok"}` (no `field` for business hours), the
    value cut as `trace_value` cuts it. A step whose rule or path the content does not have,
    or whose path leads elsewhere than a leaf on the step's field (a trace of another version),
    or that already shows a value (a trace stored before steps were compact), stays as it is.
    Returns copies; neither argument is changed."""
    whens: dict[Any, Any] = {}
    for rule in content.get("rules") or []:
        if isinstance(rule, Mapping):
            whens.setdefault(rule.get("id"), rule.get("when"))
    explained = []
    for entry in rules:
        when = whens.get(entry.get("rule"))
        conditions = entry.get("conditions")
        if not isinstance(conditions, list):
            explained.append(dict(entry))
            continue
        steps = []
        for step in conditions:
            found = _at_path(when, step.get("path")) if "value" not in step else None
            if (
                found is None
                or found.get("field") != step.get("field")
                or ("op" in step and found["op"] != step["op"])
            ):
                steps.append(dict(step))
                continue
            shown: dict[str, Any] = {"path": step["path"]}
            if "field" in step:
                shown["field"] = step["field"]
            shown["op"] = found["op"]
            shown["value"] = _copy(trace_value(found["value"]))
            shown.update((key, item) for key, item in step.items() if key not in shown)
            steps.append(shown)
        explained.append({**entry, "conditions": steps})
    return explained


def _at_path(when: Any, path: Any) -> Mapping[str, Any] | None:
    """The leaf at `path` (`all[1].any[0]`, `all[2].not`, `""` for the condition itself) of a
    rule's condition, or None when there is no leaf there."""
    if not isinstance(when, Mapping) or not isinstance(path, str):
        return None
    node: Any = when
    for part in path.split(".") if path else ():
        if part == "not":
            node = node.get("not") if isinstance(node, Mapping) else None
        elif (match := _STEP.fullmatch(part)) is not None:
            children = node.get(match.group(1)) if isinstance(node, Mapping) else None
            i = int(match.group(2))
            node = children[i] if isinstance(children, list) and i < len(children) else None
        else:
            return None
        if node is None:
            return None
    if not isinstance(node, Mapping) or "op" not in node or "value" not in node:
        return None
    return node


# --- the reference -----------------------------------------------------------------------------


def naive_first_match(
    content: Mapping[str, Any],
    facts: Facts,
    *,
    at: datetime,
    is_open: IsOpen,
    trace: Trace | None = None,
) -> str | None:
    """The obviously correct answer: every rule in order, interpreted from the JSON, nothing
    compiled or indexed. The property tests and the benchmark measure the engine against it.
    Pass a list as `trace` to have it filled like `Compiled.evaluate`'s."""
    for rule in content.get("rules", []):
        conditions: Trace | None = [] if trace is not None else None
        when = rule.get("when") or {}
        ok = _naive(when, "", facts, at, is_open, conditions) if when else True
        if trace is not None:
            trace.append({"rule": rule["id"], "ok": ok, "conditions": conditions})
        if ok:
            return str(rule["id"])
    return None


def _naive(
    node: Mapping[str, Any],
    path: str,
    facts: Facts,
    at: datetime,
    is_open: IsOpen,
    out: Trace | None,
) -> bool:
    prefix = f"{path}." if path else ""
    if "all" in node:
        return all(
            _naive(c, f"{prefix}all[{i}]", facts, at, is_open, out)
            for i, c in enumerate(node["all"])
        )
    if "any" in node:
        return any(
            _naive(c, f"{prefix}any[{i}]", facts, at, is_open, out)
            for i, c in enumerate(node["any"])
        )
    if "not" in node:
        return not _naive(node["not"], f"{prefix}not", facts, at, is_open, out)
    op, value = node["op"], node["value"]
    if op == "within_business_hours":
        actual: Any = bool(is_open(at))
        ok = actual == value
        if out is not None:
            out.append({"path": path, "op": op, "actual": actual, "ok": ok})
        return ok
    name = node["field"]
    if name in ("hour", "weekday"):
        local = at.astimezone(ZoneInfo(facts.get("timezone") or "UTC"))
        actual = local.hour if name == "hour" else WEEKDAYS[local.weekday()]
    elif name.startswith("attributes."):
        attributes = facts.get("attributes")
        actual = attributes.get(name[11:]) if isinstance(attributes, Mapping) else None
    else:
        actual = facts.get(name)
    ok = _naive_op(op, value, actual)
    if out is not None:
        out.append(
            {
                "path": path,
                "field": name,
                "actual": trace_actual(actual),
                "ok": ok,
            }
        )
    return ok


def _naive_same(value: Any, actual: Any) -> bool:
    """`eq` as the spec says it: text casefolded, numbers numerically, true/false as such."""
    if isinstance(value, str):
        return isinstance(actual, str) and actual.casefold() == value.casefold()
    if isinstance(value, bool) or isinstance(actual, bool):
        return isinstance(value, bool) and isinstance(actual, bool) and value == actual
    return isinstance(actual, int | float) and actual == value


def _naive_op(op: str, value: Any, actual: Any) -> bool:
    if op == "exists":
        return (actual is not None and actual != "") == value
    if actual is None:
        return False
    if op == "eq":
        return _naive_same(value, actual)
    if op == "in":
        return any(_naive_same(v, actual) for v in value)
    if op == "contains":
        return str(value).casefold() in str(actual).casefold()
    if op == "startswith":
        return str(actual).casefold().startswith(str(value).casefold())
    if op == "regex":
        try:
            return re2.compile(value, options=RE2_OPTIONS).search(str(actual)) is not None
        except UnicodeEncodeError:
            return False
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        return {
            "gt": actual > value,
            "gte": actual >= value,
            "lt": actual < value,
            "lte": actual <= value,
        }[op]
    if op == "domain_in":
        if not isinstance(actual, str):
            return False
        domain = actual.split("@")[-1].strip().casefold()
        return any(domain == d.casefold() or domain.endswith("." + d.casefold()) for d in value)
    raise ValueError(f"unknown operator {op!r}")


# --- fixtures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixtureResult:
    """A fixture lead run through a version: did it get the rule and team it expects?"""

    name: str
    passed: bool
    expected: dict[str, Any]
    got: dict[str, Any]
    trace: Trace


def fixture_check(
    compiled: Compiled,
    fixture: Mapping[str, Any],
    *,
    is_open: IsOpen,
    default_at: datetime | None = None,
) -> FixtureResult:
    """Evaluate a fixture's lead (first match, at its `at`, else `default_at`, else now) and
    compare the rule and team it got with the ones it expects."""
    at = parse_at(fixture["at"]) if isinstance(fixture.get("at"), str) else None
    if at is None:
        at = default_at if default_at is not None else datetime.now(UTC)
    ev = compiled.evaluate(dict(fixture.get("lead") or {}), at=at, is_open=is_open)
    got = {
        "rule": ev.rule.id if ev.rule else None,
        "team": ev.rule.then.get("team") if ev.rule else None,
    }
    expected = dict(fixture.get("expect") or {})
    passed = all(got.get(key) == want for key, want in expected.items())
    return FixtureResult(str(fixture.get("name", "")), passed, expected, got, ev.trace)


def trace_rows(
    blocks: Sequence[Mapping[str, Any]], contents: Mapping[Any, Mapping[str, Any] | None]
) -> list[dict[str, Any]]:
    """A routing trace (one block per version tried: `version`, `version_id`, `rules`) as one
    list of rule entries, each explained (`trace_explain`) by the content of the version that
    evaluated it (`contents` by version id; a missing one leaves its steps as stored) and
    labelled with that version's number."""
    rows: list[dict[str, Any]] = []
    for block in blocks:
        content = contents.get(block.get("version_id"))
        entries = block.get("rules", [])
        explained = trace_explain(content, entries) if content else [dict(e) for e in entries]
        rows.extend({**entry, "version": block.get("version")} for entry in explained)
    return rows
