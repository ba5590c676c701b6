"""The content format of a routing rule version, and its validation.

A version's `content` is JSON: an ordered list of rules (`when` a condition holds, `then` do
something) and optional fixtures (example leads with the outcome they should get). The JSON
Schema below checks the structure; `validate_content` adds the checks a schema cannot express
well (operator value types, regexes re2 refuses, duplicate ids, fields that do not exist) and
turns everything into sentences a RevOps person can act on, each with the rule and the path.

Pure: no Django, no database. The engine (`routing.engine`) compiles validated content.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import re2
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

# Plain fields a condition can test; `attributes.<key>` reads the lead's free-form attributes.
# `hour` and `weekday` are not stored on the lead: they are the evaluated moment in the
# facts' time zone.
FIELDS: Final = (
    "email",
    "email_domain",
    "phone",
    "first_name",
    "last_name",
    "company",
    "company_domain",
    "title",
    "country",
    "region",
    "postal_code",
    "market",
    "source",
    "score",
    "status",
    "hour",
    "weekday",
)
DERIVED_FIELDS: Final = ("hour", "weekday")
ATTRIBUTE_PREFIX: Final = "attributes."
OPERATORS: Final = (
    "eq",
    "in",
    "contains",
    "startswith",
    "regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "domain_in",
    "within_business_hours",
)
COMPARISONS: Final = ("gt", "gte", "lt", "lte")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PICKS: Final = ("round_robin", "weighted", "least_loaded")
WHEN_CLOSED: Final = ("wait", "fall_through")
STATUSES: Final = ("working", "qualified", "disqualified", "recycled")
ACTIONS: Final = ("team", "owner", "status", "tags", "notify", "exception")

MAX_RULES: Final = 2000
MAX_DEPTH: Final = 8  # levels of all/any/not groups in one condition
MAX_IN_VALUES: Final = 1000
MAX_PATTERN: Final = 200
MAX_FIXTURES: Final = 500
# Containers (objects and lists) a valid condition can nest is about 2 x MAX_DEPTH + 2; far
# deeper input is refused before the schema walks it (which would recurse once per level).
_MAX_JSON_DEPTH: Final = 40

ID_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TAG_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,39}$"
# Lead keys a fixture may set: the stored fields (hour and weekday come from `at`), the time
# zone the lead's market works in, and its attributes.
FIXTURE_LEAD_KEYS: Final = (*(f for f in FIELDS if f not in DERIVED_FIELDS), "timezone")

_SCALAR_OR_NULL = {"type": ["string", "number", "boolean", "null"]}
_USERNAME = {"type": "string", "minLength": 1, "maxLength": 150}

_DEFS: dict[str, Any] = {
    "rule": {
        "type": "object",
        "required": ["id", "then"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "name": {"type": "string", "maxLength": 200},
            # {} (or no `when`) means "always"
            "when": {
                "type": "object",
                "if": {"maxProperties": 0},
                "else": {"$ref": "#/$defs/node"},
            },
            "then": {"$ref": "#/$defs/actions"},
        },
    },
    # A node is told apart by its key (all, any, not, else a leaf) rather than by oneOf, so an
    # error inside a nested group is reported where it is, not as "matches none of four".
    "node": {
        "type": "object",
        "if": {"required": ["all"]},
        "then": {"$ref": "#/$defs/all"},
        "else": {
            "if": {"required": ["any"]},
            "then": {"$ref": "#/$defs/any"},
            "else": {
                "if": {"required": ["not"]},
                "then": {"$ref": "#/$defs/not"},
                "else": {"$ref": "#/$defs/leaf"},
            },
        },
    },
    "all": {
        "type": "object",
        "required": ["all"],
        "additionalProperties": False,
        "properties": {"all": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/node"}}},
    },
    "any": {
        "type": "object",
        "required": ["any"],
        "additionalProperties": False,
        "properties": {"any": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/node"}}},
    },
    "not": {
        "type": "object",
        "required": ["not"],
        "additionalProperties": False,
        "properties": {"not": {"$ref": "#/$defs/node"}},
    },
    "leaf": {
        "type": "object",
        "required": ["op", "value"],
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string", "minLength": 1},
            "op": {"enum": list(OPERATORS)},
            "value": {},  # its type depends on the operator: checked in Python
        },
    },
    "actions": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "team": {"type": "string", "minLength": 1, "maxLength": 100},
            "pick": {"enum": list(PICKS)},
            "owner": _USERNAME,
            "when_closed": {"enum": list(WHEN_CLOSED)},
            "status": {"enum": list(STATUSES)},
            "tags": {
                "type": "array",
                "maxItems": 20,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": TAG_PATTERN},
            },
            "notify": {"type": "array", "maxItems": 20, "uniqueItems": True, "items": _USERNAME},
            "exception": {"type": "string", "minLength": 1, "maxLength": 300},
        },
    },
    "fixture": {
        "type": "object",
        "required": ["name", "lead", "expect"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "lead": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **{key: _SCALAR_OR_NULL for key in FIXTURE_LEAD_KEYS},
                    "attributes": {
                        "type": "object",
                        "propertyNames": {"minLength": 1, "maxLength": 100},
                    },
                },
            },
            "at": {"type": "string"},  # ISO 8601 with an offset: checked in Python
            "expect": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "rule": {"type": ["string", "null"]},
                    "team": {"type": ["string", "null"]},
                },
            },
        },
    },
}

RULES_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "LeadOps routing rule version",
    "type": "object",
    "required": ["rules"],
    "additionalProperties": False,
    "properties": {
        "rules": {"type": "array", "maxItems": MAX_RULES, "items": {"$ref": "#/$defs/rule"}},
        "fixtures": {
            "type": "array",
            "maxItems": MAX_FIXTURES,
            "items": {"$ref": "#/$defs/fixture"},
        },
    },
    "$defs": _DEFS,
}

# The document is checked in pieces (top level, then each rule and fixture on its own) so each
# error knows its rule, and one deep or huge rule cannot hide the others.
_TOP = Draft202012Validator(
    {
        **RULES_SCHEMA,
        "properties": {
            "rules": {"type": "array", "maxItems": MAX_RULES},
            "fixtures": {"type": "array", "maxItems": MAX_FIXTURES},
        },
    }
)
_RULE = Draft202012Validator({"$ref": "#/$defs/rule", "$defs": _DEFS})
_FIXTURE = Draft202012Validator({"$ref": "#/$defs/fixture", "$defs": _DEFS})

RE2_OPTIONS: Final = re2.Options()
RE2_OPTIONS.log_errors = False  # a refused pattern is a validation error, not a log line


@dataclass(frozen=True)
class RuleError:
    """One problem in a version: which rule (index in `rules`, None for the top level and for
    fixtures), where (`rules[3].when.all[1].value`) and what to do about it."""

    rule: int | None
    rule_id: str
    path: str
    message: str


def content_canonical(content: Any) -> str:
    """One spelling per content, so equal versions hash equal whatever their key order."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(content: Any) -> str:
    """sha256 of the canonical content: a backtest run on an older hash is stale."""
    return hashlib.sha256(content_canonical(content).encode("utf-8", "surrogatepass")).hexdigest()


def validate_content(content: Any) -> list[RuleError]:
    """Every problem in a version's content, [] when it can be published. Never raises."""
    if not isinstance(content, dict):
        return [RuleError(None, "", "", "The content must be an object with a `rules` list.")]
    errors: list[RuleError] = []
    seen: set[tuple[str, str]] = set()

    def add(rule: int | None, rule_id: str, found: Iterable[tuple[str, str]]) -> None:
        for path, message in found:
            if (path, message) not in seen:
                seen.add((path, message))
                errors.append(RuleError(rule, rule_id, path, message))

    add(None, "", _schema_errors(_TOP, content, ""))
    rules = content.get("rules")
    ids: dict[str, int] = {}
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            prefix = f"rules[{index}]"
            rule_id = rule.get("id") if isinstance(rule, dict) else None
            shown_id = rule_id if isinstance(rule_id, str) else ""
            when = rule.get("when") if isinstance(rule, dict) else None
            if _json_depth(when) > _MAX_JSON_DEPTH:
                add(index, shown_id, [(f"{prefix}.when", _TOO_DEEP)])
            else:
                add(index, shown_id, _schema_errors(_RULE, rule, prefix))
                add(index, shown_id, _rule_semantics(rule, prefix))
            if isinstance(rule_id, str):
                if rule_id in ids:
                    message = (
                        f"The id `{_short(rule_id)}` is already used by rules[{ids[rule_id]}]: "
                        "each rule needs its own id."
                    )
                    add(index, shown_id, [(f"{prefix}.id", message)])
                else:
                    ids[rule_id] = index
    fixtures = content.get("fixtures")
    if isinstance(fixtures, list):
        known = set(ids) if isinstance(rules, list) else None
        for index, fixture in enumerate(fixtures):
            prefix = f"fixtures[{index}]"
            add(None, "", _schema_errors(_FIXTURE, fixture, prefix))
            add(None, "", _fixture_semantics(fixture, prefix, known))
    return errors


# --- schema errors -----------------------------------------------------------------------------

_TOO_DEEP = f"This condition is nested too deeply: at most {MAX_DEPTH} levels of all/any/not."
_NODE_SCHEMAS = tuple(id(_DEFS[k]) for k in ("all", "any", "not", "leaf"))
_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "null",
}
_REQUIRED = {
    "rules": "The content needs a `rules` list (it may be empty).",
    "id": "A rule needs an `id`, e.g. `dach-demo`.",
    "then": "A rule needs `then`: what to do with a lead it matches.",
    "op": "A condition needs an `op`, e.g. `eq` or `in`.",
    "value": "A condition needs a `value` to compare with.",
    "name": "A fixture needs a `name`.",
    "lead": "A fixture needs a `lead`: the fields of the example lead.",
    "expect": "A fixture needs `expect`: the rule and/or team the lead should get.",
}
_PATTERNS = {
    ID_PATTERN: "A rule id is 1 to 64 lowercase letters, digits, `-` or `_`, starting with a "
    "letter or digit.",
    TAG_PATTERN: "A tag is 1 to 40 lowercase letters, digits, `-` or `_`, starting with a "
    "letter or digit.",
}


def _json_depth(value: Any) -> int:
    """How many objects and lists nest in `value`, without recursing (input can be hostile)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > _MAX_JSON_DEPTH:
                return depth
            stack.extend((child, depth + 1) for child in _children(item))
    return deepest


def _children(item: dict[Any, Any] | list[Any]) -> Iterable[Any]:
    return item.values() if isinstance(item, dict) else item


def _path(prefix: str, parts: Iterable[Any]) -> str:
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:limit]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(error: ValidationError) -> str:
    for part in reversed(error.absolute_path):
        if isinstance(part, str):
            return part
    return "This"


def _whole(prefix: str) -> str:
    if prefix.startswith("rules["):
        return "A rule"
    if prefix.startswith("fixtures["):
        return "A fixture"
    return "The content"


def _schema_errors(
    validator: Draft202012Validator, instance: Any, prefix: str
) -> Iterator[tuple[str, str]]:
    for error in validator.iter_errors(instance):
        if error.context:
            error = best_match(error.context) or error
        yield from _explain(error, prefix)


def _explain(error: ValidationError, prefix: str) -> Iterator[tuple[str, str]]:
    """Turn one jsonschema error into (path, sentence) pairs."""
    path = _path(prefix, error.absolute_path)
    kind = error.validator
    limit: Any = error.validator_value
    instance: Any = error.instance
    label = f"`{_label(error)}`" if error.absolute_path else _whole(prefix)
    if "propertyNames" in error.absolute_schema_path:
        yield path, "Attribute names are 1 to 100 characters."
        return
    if kind == "required" and isinstance(instance, dict):
        for key in limit:
            if key not in instance:
                yield _path(path, [key]), _REQUIRED.get(key, f"`{key}` is required here.")
    elif kind == "additionalProperties" and isinstance(instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for key in instance:
            if key in allowed:
                continue
            if id(error.schema) in _NODE_SCHEMAS:
                message = (
                    f"`{_short(key)}` does not belong here: a condition is exactly one of "
                    "`all`, `any`, `not`, or a test with `field`, `op` and `value`."
                )
            else:
                known = ", ".join(f"`{k}`" for k in allowed)
                message = f"`{_short(key)}` is not a known key here; use {known}."
            yield _path(path, [key]), message
    elif kind == "type":
        names = [limit] if isinstance(limit, str) else list(limit)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        yield path, f"{label} must be {wanted}."
    elif kind == "enum":
        options = ", ".join(f"`{o}`" for o in limit)
        yield path, f"`{_short(instance)}` is not allowed for {label}; use one of {options}."
    elif kind == "pattern" and limit in _PATTERNS:
        yield path, f"`{_short(instance)}` is not allowed. {_PATTERNS[limit]}"
    elif kind == "minItems":
        yield path, f"{label} needs at least {limit} item{'s' if limit != 1 else ''}."
    elif kind == "maxItems":
        yield path, f"{label} has {len(instance)} items; at most {limit:,} are allowed."
    elif kind == "minLength":
        yield path, f"{label} cannot be empty."
    elif kind == "maxLength":
        yield path, f"{label} is too long: at most {limit} characters."
    elif kind == "minProperties" and _label(error) == "then":
        actions = ", ".join(f"`{a}`" for a in ACTIONS)
        yield path, f"`then` needs at least one action: {actions}."
    elif kind == "minProperties":
        yield path, f"{label} cannot be empty."
    elif kind == "uniqueItems":
        yield path, f"{label} lists the same item more than once."
    else:
        yield path, _short(error.message, 200)


# --- semantic checks ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def is_known_field(field: str) -> bool:
    """A plain field, or `attributes.<key>` with a key of 1 to 100 characters."""
    if field in FIELDS:
        return True
    return field.startswith(ATTRIBUTE_PREFIX) and 1 <= len(field) - len(ATTRIBUTE_PREFIX) <= 100


def _rule_semantics(rule: Any, prefix: str) -> Iterator[tuple[str, str]]:
    if not isinstance(rule, dict):
        return
    when = rule.get("when")
    if isinstance(when, dict) and when:
        yield from _node_semantics(when, f"{prefix}.when", 0)
    then = rule.get("then")
    if isinstance(then, dict) and "team" not in then:
        for key in ("pick", "when_closed"):
            if key in then:
                yield (
                    f"{prefix}.then.{key}",
                    f"`{key}` only applies to a `team`: add the team, or remove `{key}`.",
                )


def _node_semantics(node: Any, path: str, depth: int) -> Iterator[tuple[str, str]]:
    """Checks the schema cannot express; tolerates any shape (the schema reports those)."""
    if not isinstance(node, dict):
        return
    for group in ("all", "any", "not"):
        if group in node:
            if depth >= MAX_DEPTH:
                yield path, _TOO_DEEP
                return
            children = node[group]
            if group == "not":
                yield from _node_semantics(children, f"{path}.not", depth + 1)
            elif isinstance(children, list):
                for i, child in enumerate(children):
                    yield from _node_semantics(child, f"{path}.{group}[{i}]", depth + 1)
            return
    yield from _leaf_semantics(node, path)


def _leaf_semantics(leaf: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    op = leaf.get("op")
    if not isinstance(op, str) or op not in OPERATORS:
        return  # the schema names the operator problem
    field = leaf.get("field")
    if op == "within_business_hours":
        if "field" in leaf:
            yield (
                f"{path}.field",
                "`within_business_hours` checks the team's opening hours and takes no `field`.",
            )
        field = None
    elif "field" not in leaf:
        yield f"{path}.field", f"`{op}` needs a `field` to test, e.g. `country`."
    elif isinstance(field, str) and field and not is_known_field(field):
        yield (
            f"{path}.field",
            f"There is no field `{_short(field)}`; use one of {', '.join(FIELDS)}, "
            "or `attributes.<key>` for a lead attribute.",
        )
    if "value" in leaf:
        problem = _value_problem(op, field if isinstance(field, str) else None, leaf["value"])
        if problem:
            yield f"{path}.value", problem


def _value_problem(op: str, field: str | None, value: Any) -> str | None:
    """What is wrong with `value` for this operator and field, or None."""
    if op == "eq":
        if not _is_scalar(value):
            return "`eq` needs one value: text, a number, or true/false."
        return _field_value_problem(field, [value])
    if op == "in":
        if not isinstance(value, list) or not value:
            return "`in` needs a non-empty list of values."
        if len(value) > MAX_IN_VALUES:
            return f"`in` takes at most {MAX_IN_VALUES:,} values; this list has {len(value):,}."
        if not all(_is_scalar(v) for v in value):
            return "`in` takes a list of text, numbers or true/false, nothing nested."
        return _field_value_problem(field, value)
    if op in ("contains", "startswith"):
        if not isinstance(value, str) or not value:
            return f"`{op}` needs some text to look for."
        return None
    if op == "regex":
        return _pattern_problem(value)
    if op in COMPARISONS:
        if not _is_number(value):
            return f"`{op}` needs a number."
        if field == "weekday":
            return f"`weekday` cannot be compared with `{op}`; use `in` with day names."
        return _field_value_problem(field, [value])
    if op == "domain_in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            return f"`domain_in` needs a list of 1 to {MAX_IN_VALUES:,} domains, like `acme.com`."
        for domain in value:
            if not _is_domain(domain):
                return f"`{_short(domain)}` is not a domain; write domains like `acme.com`."
        return None
    # exists, within_business_hours
    if not isinstance(value, bool):
        return f"`{op}` needs true or false."
    return None


def _field_value_problem(field: str | None, values: list[Any]) -> str | None:
    if field == "hour":
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 23 for v in values):
            return "`hour` is a whole number from 0 to 23 (local time in the lead's time zone)."
    elif field == "weekday":
        if not all(isinstance(v, str) and v.casefold() in WEEKDAYS for v in values):
            return f"`weekday` is one of {', '.join(WEEKDAYS)}."
    elif field == "score" and not all(_is_number(v) for v in values):
        return "`score` is a number: compare it with numbers, not text or true/false."
    return None


def _is_domain(value: Any) -> bool:
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    if value.startswith(".") or value.endswith(".") or ".." in value:
        return False
    return not any(ch.isspace() or ch in "@/:" for ch in value)


def pattern_error(pattern: str) -> str | None:
    """Why re2 refuses `pattern`, or None when it compiles."""
    try:
        re2.compile(pattern, options=RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    except (UnicodeError, ValueError, TypeError) as exc:
        return str(exc)
    return None


def _pattern_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "`regex` needs a pattern as text."
    if len(value) > MAX_PATTERN:
        return f"A pattern is at most {MAX_PATTERN} characters; this one has {len(value)}."
    reason = pattern_error(value)
    if reason is not None:
        return (
            f"This pattern cannot be used ({_short(reason, 120)}). Patterns cannot use "
            "lookahead, lookbehind or backreferences; add `(?i)` to ignore case."
        )
    return None


def _fixture_semantics(
    fixture: Any, prefix: str, known: set[str] | None
) -> Iterator[tuple[str, str]]:
    if not isinstance(fixture, dict):
        return
    at = fixture.get("at")
    if isinstance(at, str) and parse_at(at) is None:
        yield (
            f"{prefix}.at",
            "`at` needs a date and time with an offset, e.g. `2026-03-29T10:00:00+02:00`.",
        )
    lead = fixture.get("lead")
    zone = lead.get("timezone") if isinstance(lead, dict) else None
    if isinstance(zone, str) and not _is_zone(zone):
        yield f"{prefix}.lead.timezone", f"`{_short(zone)}` is not a time zone like Europe/Berlin."
    expect = fixture.get("expect")
    rule = expect.get("rule") if isinstance(expect, dict) else None
    if isinstance(rule, str) and known is not None and rule not in known:
        yield f"{prefix}.expect.rule", f"No rule has the id `{_short(rule)}`."


def parse_at(text: str) -> datetime | None:
    """An ISO 8601 date and time with an offset, or None."""
    try:
        at = datetime.fromisoformat(text)
    except (ValueError, TypeError):
        return None
    return at if at.tzinfo is not None and at.utcoffset() is not None else None


def _is_zone(name: str) -> bool:
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # not found, a path, a null byte, not UTF-8
        return False
    return True
