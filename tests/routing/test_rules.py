"""The rule-version format: what validates, and where each problem is reported (rule, path,
a sentence). Pure: no database."""

from __future__ import annotations

import ast
import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import routing.rules
from routing.rules import (
    FIELDS,
    OPERATORS,
    RULES_SCHEMA,
    RuleError,
    content_canonical,
    content_hash,
    validate_content,
)

EXAMPLE: dict[str, Any] = {
    "rules": [
        {
            "id": "dach-demo",
            "name": "DACH demo requests",
            "when": {
                "all": [
                    {"field": "country", "op": "in", "value": ["DE", "AT", "CH"]},
                    {"field": "score", "op": "gte", "value": 50},
                    {"not": {"field": "attributes.segment", "op": "eq", "value": "partner"}},
                    {
                        "any": [
                            {"field": "source", "op": "eq", "value": "web"},
                            {"op": "within_business_hours", "value": True},
                        ]
                    },
                ]
            },
            "then": {"team": "Inbound DACH", "pick": "round_robin", "when_closed": "wait"},
        }
    ]
}


def version(*rules, **top):
    return {"rules": list(rules), **top}


def rule(rule_id="r1", when=None, then=None):
    out = {"id": rule_id, "then": then if then is not None else {"team": "Inbound"}}
    if when is not None:
        out["when"] = when
    return out


def leaf(field, op, value):
    return {"field": field, "op": op, "value": value}


def where(errors):
    return [(e.rule, e.path) for e in errors]


# --- valid content -----------------------------------------------------------------------------


def test_the_documented_example_is_valid():
    # given the example of the format's description
    content = copy.deepcopy(EXAMPLE)

    # when
    errors = validate_content(content)

    # then
    assert errors == []


def test_the_schema_is_a_valid_draft_2020_12_schema_that_accepts_the_example():
    # given
    Draft202012Validator.check_schema(RULES_SCHEMA)

    # when
    problems = list(Draft202012Validator(RULES_SCHEMA).iter_errors(EXAMPLE))

    # then
    assert problems == []


@pytest.mark.parametrize("when", [None, {}], ids=["omitted", "empty"])
def test_a_rule_without_conditions_is_valid(when):
    # given
    content = version(rule("always", when=when, then={"exception": "Look at this one."}))

    # when
    errors = validate_content(content)

    # then
    assert errors == []


@pytest.mark.parametrize(
    "condition",
    [
        leaf("email", "regex", r"(?i)^(info|sales)@"),
        leaf("email", "domain_in", ["acme.com", "sub.example.org"]),
        leaf("hour", "in", [0, 23]),
        leaf("hour", "gte", 9),
        leaf("weekday", "in", ["mon", "SAT"]),
        leaf("score", "in", [10, 20.5]),
        leaf("title", "contains", "head"),
        leaf("company", "startswith", "acme"),
        leaf("attributes.employees", "gt", 100),
        leaf("attributes." + "k" * 100, "exists", False),
        leaf("country", "eq", 42),
        leaf("status", "eq", True),
        {"op": "within_business_hours", "value": False},
    ],
    ids=lambda c: f"{c.get('field', '-')}-{c['op']}",
)
def test_each_operator_with_a_fitting_value_is_valid(condition):
    # given
    content = version(rule(when=condition))

    # when
    errors = validate_content(content)

    # then
    assert errors == []


def test_every_action_together_is_valid():
    # given
    then = {
        "team": "Inbound",
        "pick": "least_loaded",
        "owner": "maria",
        "when_closed": "fall_through",
        "status": "working",
        "tags": ["dach", "demo_request"],
        "notify": ["lead.manager"],
        "exception": "Check the partner contract first.",
    }

    # when
    errors = validate_content(version(rule(then=then)))

    # then
    assert errors == []


# --- where problems are reported ---------------------------------------------------------------


def test_a_bad_leaf_deep_in_a_nested_group_points_at_that_leaf():
    # given a valid first rule, and a second whose fourth-level leaf has an unknown operator
    deep = {
        "all": [
            leaf("country", "eq", "DE"),
            {"any": [leaf("source", "eq", "web"), {"not": leaf("title", "like", "x")}]},
        ]
    }
    content = version(rule("fine"), rule("broken", when=deep))

    # when
    errors = validate_content(content)

    # then exactly one error, at the leaf's op, naming rule 1
    assert where(errors) == [(1, "rules[1].when.all[1].any[1].not.op")]
    assert errors[0].rule_id == "broken"
    assert "`like`" in errors[0].message
    assert "`regex`" in errors[0].message  # it lists what would work


def test_a_bad_value_deep_in_a_nested_group_points_at_that_value():
    # given `in` with a string instead of a list, two groups down
    deep = {"all": [leaf("country", "eq", "DE"), {"any": [leaf("source", "in", "web")]}]}

    # when
    errors = validate_content(version(rule("dach", when=deep)))

    # then
    assert errors == [
        RuleError(
            0, "dach", "rules[0].when.all[1].any[0].value", "`in` needs a non-empty list of values."
        )
    ]


def test_duplicate_ids_are_reported_on_the_second_rule():
    # given
    content = version(rule("same"), rule("other"), rule("same"))

    # when
    errors = validate_content(content)

    # then
    assert where(errors) == [(2, "rules[2].id")]
    assert "rules[0]" in errors[0].message


@pytest.mark.parametrize(
    "pattern",
    [r"^(?!test)", r"(?<=@)acme", r"(a)\1", r"(?=x)y"],
    ids=["negative-lookahead", "lookbehind", "backreference", "lookahead"],
)
def test_a_pattern_re2_refuses_is_reported_with_rule_and_path(pattern):
    # given
    content = version(rule("ok"), rule("rx", when={"all": [leaf("email", "regex", pattern)]}))

    # when
    errors = validate_content(content)

    # then
    assert where(errors) == [(1, "rules[1].when.all[0].value")]
    assert errors[0].rule_id == "rx"
    assert "lookahead" in errors[0].message


def test_a_pattern_longer_than_200_characters_is_refused():
    # when
    errors = validate_content(version(rule(when=leaf("title", "regex", "a" * 201))))

    # then
    assert where(errors) == [(0, "rules[0].when.value")]
    assert "200" in errors[0].message


@pytest.mark.parametrize("key", ["pick", "when_closed"])
def test_team_options_without_a_team_are_refused(key):
    # given
    then = {"owner": "maria", key: "wait" if key == "when_closed" else "weighted"}

    # when
    errors = validate_content(version(rule(then=then)))

    # then
    assert where(errors) == [(0, f"rules[0].then.{key}")]
    assert "`team`" in errors[0].message


@pytest.mark.parametrize("field", ["colour", "attributes.", "attributes." + "k" * 101, "Country"])
def test_an_unknown_field_is_named(field):
    # when
    errors = validate_content(version(rule(when={"all": [leaf(field, "eq", "x")]})))

    # then
    assert where(errors) == [(0, "rules[0].when.all[0].field")]
    assert "attributes.<key>" in errors[0].message


@pytest.mark.parametrize(
    ("content", "path"),
    [
        (version(rule(), owner="maria"), "owner"),
        (version({**rule(), "priority": 1}), "rules[0].priority"),
        (version(rule(then={"team": "A", "queue": "x"})), "rules[0].then.queue"),
        (
            version(rule(when={**leaf("country", "eq", "DE"), "negate": True})),
            "rules[0].when.negate",
        ),
        (
            version(rule(when={"all": [leaf("country", "eq", "DE")], "any": []})),
            "rules[0].when.any",
        ),
    ],
    ids=["top", "rule", "then", "leaf", "group"],
)
def test_an_unknown_key_is_refused_where_it_is(content, path):
    # when
    errors = validate_content(content)

    # then
    assert [e.path for e in errors] == [path]


def test_top_level_problems_have_no_rule():
    # when
    errors = validate_content({"rules": "all of them"})

    # then
    assert errors == [RuleError(None, "", "rules", "`rules` must be a list.")]


@pytest.mark.parametrize(
    ("condition", "path", "says"),
    [
        (leaf("country", "in", []), "value", "non-empty list"),
        (leaf("country", "in", "DE"), "value", "non-empty list"),
        (leaf("country", "in", [["DE"]]), "value", "nothing nested"),
        (leaf("country", "in", ["x"] * 1001), "value", "at most 1,000"),
        (leaf("country", "eq", ["DE"]), "value", "one value"),
        (leaf("country", "eq", None), "value", "one value"),
        (leaf("title", "contains", 3), "value", "some text"),
        (leaf("title", "startswith", ""), "value", "some text"),
        (leaf("score", "gt", "50"), "value", "a number"),
        (leaf("score", "lte", True), "value", "a number"),
        (leaf("score", "eq", "50"), "value", "`score` is a number"),
        (leaf("email", "exists", "yes"), "value", "true or false"),
        (leaf("email", "domain_in", "acme.com"), "value", "list of 1 to"),
        (leaf("email", "domain_in", ["@acme.com"]), "value", "not a domain"),
        (leaf("email", "regex", 5), "value", "pattern as text"),
        ({"op": "within_business_hours", "value": "yes"}, "value", "true or false"),
        ({"op": "within_business_hours", "value": True, "field": "hour"}, "field", "no `field`"),
        ({"op": "eq", "value": "DE"}, "field", "needs a `field`"),
        (leaf("hour", "eq", 24), "value", "0 to 23"),
        (leaf("hour", "in", [9, -1]), "value", "0 to 23"),
        (leaf("hour", "gte", 9.5), "value", "0 to 23"),
        (leaf("weekday", "eq", "monday"), "value", "mon, tue"),
        (leaf("weekday", "in", ["sat", 7]), "value", "mon, tue"),
        (leaf("weekday", "gt", 3), "value", "use `in`"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_value_that_does_not_fit_the_operator_is_explained(condition, path, says):
    # when
    errors = validate_content(version(rule("r", when={"all": [condition]})))

    # then
    assert where(errors) == [(0, f"rules[0].when.all[0].{path}")]
    assert says in errors[0].message


@pytest.mark.parametrize(
    ("then", "path", "says"),
    [
        ({}, "rules[0].then", "at least one action"),
        ({"team": "A", "pick": "random"}, "rules[0].then.pick", "`round_robin`"),
        ({"status": "won"}, "rules[0].then.status", "`qualified`"),
        ({"tags": ["Hot Lead"]}, "rules[0].then.tags[0]", "A tag is"),
        ({"tags": [f"t{i}" for i in range(21)]}, "rules[0].then.tags", "at most 20"),
        ({"tags": ["a", "a"]}, "rules[0].then.tags", "more than once"),
        ({"team": "x" * 101}, "rules[0].then.team", "at most 100"),
        ({"exception": ""}, "rules[0].then.exception", "cannot be empty"),
        ({"notify": "maria"}, "rules[0].then.notify", "must be a list"),
    ],
)
def test_bad_actions_are_explained(then, path, says):
    # when
    errors = validate_content(version(rule(then=then)))

    # then
    assert [e.path for e in errors] == [path]
    assert says in errors[0].message


def test_missing_keys_are_reported_at_the_missing_key():
    # given a rule without then, and a leaf without op
    content = version({"id": "r", "when": {"field": "country", "value": "DE"}})

    # when
    errors = validate_content(content)

    # then
    assert sorted(where(errors)) == [(0, "rules[0].then"), (0, "rules[0].when.op")]


def test_a_bad_rule_id_is_explained():
    # when
    errors = validate_content(version(rule("Inbound DACH")))

    # then
    assert where(errors) == [(0, "rules[0].id")]
    assert errors[0].rule_id == "Inbound DACH"
    assert "lowercase" in errors[0].message


def test_eight_levels_of_groups_are_allowed_and_nine_are_not():
    # given
    def nest(levels):
        node = leaf("country", "eq", "DE")
        for i in range(levels):
            node = {"not": node} if i % 2 else {"all": [node]}
        return node

    # when
    eight = validate_content(version(rule(when=nest(8))))
    nine = validate_content(version(rule(when=nest(9))))

    # then
    assert eight == []
    assert len(nine) == 1
    assert "nested too deeply" in nine[0].message


def test_absurdly_deep_input_is_an_error_not_a_crash():
    # given 5,000 nested `not`s (the schema would recurse once per level)
    node = leaf("country", "eq", "DE")
    for _ in range(5000):
        node = {"not": node}

    # when
    errors = validate_content(version(rule("deep", when=node), rule("deep")))

    # then the depth is reported, and the other rule is still checked
    assert where(errors) == [(0, "rules[0].when"), (1, "rules[1].id")]


def test_more_than_2000_rules_are_refused_at_the_list():
    # given
    content = version(*(rule(f"r{i}") for i in range(2001)))

    # when
    errors = validate_content(content)

    # then
    assert where(errors) == [(None, "rules")]
    assert "2,000" in errors[0].message


# --- fixtures ----------------------------------------------------------------------------------


def fixture(**overrides):
    return {
        "name": "a DACH demo request",
        "lead": {"country": "DE", "score": 60, "source": "web", "attributes": {"segment": "smb"}},
        "at": "2026-03-30T10:00:00+02:00",
        "expect": {"rule": "dach-demo", "team": "Inbound DACH"},
        **overrides,
    }


def test_a_well_formed_fixture_is_valid():
    # when
    errors = validate_content({**EXAMPLE, "fixtures": [fixture(), fixture(expect={"rule": None})]})

    # then
    assert errors == []


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"at": "2026-03-30T10:00:00"}, "fixtures[0].at"),
        ({"at": "next tuesday"}, "fixtures[0].at"),
        ({"expect": {"rule": "nobody-has-this"}}, "fixtures[0].expect.rule"),
        ({"expect": {}}, "fixtures[0].expect"),
        ({"lead": {"colour": "red"}}, "fixtures[0].lead.colour"),
        ({"lead": {"hour": 9}}, "fixtures[0].lead.hour"),
        ({"lead": {"timezone": "Mars/Olympus"}}, "fixtures[0].lead.timezone"),
        ({"lead": {"country": ["DE"]}}, "fixtures[0].lead.country"),
        ({"lead": {"attributes": {"": 1}}}, "fixtures[0].lead.attributes"),
        ({"name": "x" * 101}, "fixtures[0].name"),
    ],
)
def test_fixture_problems_point_at_the_fixture(changes, path):
    # when
    errors = validate_content({**EXAMPLE, "fixtures": [fixture(**changes)]})

    # then
    assert where(errors) == [(None, path)]


# --- never raises ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
# Keys the format uses, so the fuzzing reaches past the first check.
known_keys = st.sampled_from(
    [
        "rules",
        "fixtures",
        "id",
        "when",
        "then",
        "all",
        "any",
        "not",
        "field",
        "op",
        "value",
        "team",
        "pick",
        "tags",
        "name",
        "lead",
        "expect",
        "at",
        "attributes",
        "timezone",
    ]
)
shaped_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 30)
    | st.sampled_from(list(FIELDS) + list(OPERATORS) + ["r1", "(?=x)", "acme.com", ""])
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(known_keys | st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | shaped_values)
def test_validation_never_raises_on_any_json(content):
    # when
    errors = validate_content(content)

    # then
    assert isinstance(errors, list)
    assert all(isinstance(e, RuleError) and e.message for e in errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shaped_values, shaped_values)
def test_validation_never_raises_on_any_rule_or_condition(some_rule, some_condition):
    # given arbitrary JSON as a rule, and as the condition of an otherwise valid rule
    content = {"rules": [some_rule, rule("fine", when=some_condition)], "fixtures": [some_rule]}

    # when
    errors = validate_content(content)

    # then every error names a path inside the content
    assert all(e.path.startswith(("rules[", "fixtures[")) for e in errors)


# --- canonical form and hash -------------------------------------------------------------------


def test_the_hash_ignores_key_order_and_sees_any_change():
    # given the same content with keys in another order, and one changed value
    reordered = {"rules": [dict(reversed(list(r.items()))) for r in EXAMPLE["rules"]]}
    changed = copy.deepcopy(EXAMPLE)
    changed["rules"][0]["when"]["all"][1]["value"] = 51

    # when
    hashes = [content_hash(c) for c in (EXAMPLE, reordered, changed)]

    # then
    assert hashes[0] == hashes[1] != hashes[2]
    assert len(hashes[0]) == 64


def test_the_canonical_form_is_compact_sorted_and_keeps_unicode():
    # when
    text = content_canonical({"b": 1, "a": ["Zürich", {"y": None, "x": True}]})

    # then
    assert text == '{"a":["Zürich",{"x":true,"y":null}],"b":1}'


# --- purity ------------------------------------------------------------------------------------


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("name", ["rules.py", "engine.py"])
def test_the_rule_modules_import_no_django_and_nothing_of_leadops(name):
    # given
    path = Path(routing.rules.__file__).parent / name
    allowed = set(sys.stdlib_module_names) | {"re2", "jsonschema", "routing"}

    # when
    modules = {m.split(".")[0] for m in imported_modules(path)}

    # then
    assert modules <= allowed, modules - allowed
    assert not any(m.startswith(("routing.models", "routing.apps")) for m in modules)
