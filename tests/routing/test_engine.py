"""The routing engine: operator semantics, first match, resumption, the trace, local time, the
dispatch index (property-tested against the naive reference) and fixtures. Pure: no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.engine import compile_version, fixture_check, naive_first_match, trace_explain
from routing.rules import validate_content

MONDAY_10_UTC = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def closed(at):
    return False


def open_(at):
    return True


def leaf(field, op, value):
    return {"field": field, "op": op, "value": value}


def one_rule(when):
    return {"rules": [{"id": "r", "when": when, "then": {"team": "T"}}]}


def holds(when, facts, *, at=MONDAY_10_UTC, is_open=closed):
    """Whether one rule with this condition matches, checked against the naive reference."""
    content = one_rule(when)
    assert validate_content(content) == []
    ev = compile_version(content).evaluate(facts, at=at, is_open=is_open)
    assert (ev.rule is not None) == (
        naive_first_match(content, facts, at=at, is_open=is_open) == "r"
    )
    return ev.rule is not None


# --- operators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        # eq: text casefolded on both sides, numbers numerically, true/false strictly
        (leaf("country", "eq", "DE"), {"country": "de"}, True),
        (leaf("country", "eq", "de"), {"country": "DE"}, True),
        (leaf("company", "eq", "STRASSE AG"), {"company": "Straße AG"}, True),
        (leaf("country", "eq", "DE"), {"country": "AT"}, False),
        (leaf("country", "eq", "DE"), {}, False),
        (leaf("country", "eq", "DE"), {"country": None}, False),
        (leaf("score", "eq", 42), {"score": 42.0}, True),
        (leaf("score", "eq", 42), {"score": "42"}, False),
        (leaf("score", "eq", 1), {"score": True}, False),
        (leaf("attributes.vip", "eq", True), {"attributes": {"vip": True}}, True),
        (leaf("attributes.vip", "eq", True), {"attributes": {"vip": 1}}, False),
        (leaf("attributes.vip", "eq", True), {"attributes": {"vip": "true"}}, False),
        (leaf("attributes.count", "eq", "42"), {"attributes": {"count": 42}}, False),
        # in
        (leaf("country", "in", ["DE", "AT"]), {"country": "at"}, True),
        (leaf("country", "in", ["DE", "AT"]), {"country": "CH"}, False),
        (leaf("country", "in", ["DE", "AT"]), {}, False),
        (leaf("score", "in", [10, 20]), {"score": 20}, True),
        (leaf("score", "in", [10, 20]), {"score": "20"}, False),
        (leaf("score", "in", [0, 1]), {"score": True}, False),
        (leaf("attributes.flag", "in", [True]), {"attributes": {"flag": 1}}, False),
        (leaf("attributes.flag", "in", [True, "x"]), {"attributes": {"flag": True}}, True),
        # contains / startswith on str(actual), casefolded
        (leaf("title", "contains", "HEAD"), {"title": "Head of Sales"}, True),
        (leaf("title", "contains", "cto"), {"title": "Head of Sales"}, False),
        (leaf("title", "contains", "cto"), {}, False),
        (leaf("score", "contains", "12"), {"score": 3120}, True),
        (leaf("company", "startswith", "acme"), {"company": "ACME GmbH"}, True),
        (leaf("company", "startswith", "gmbh"), {"company": "ACME GmbH"}, False),
        (leaf("company", "startswith", "acme"), {"company": None}, False),
        # regex: re2, search semantics, case-sensitive unless (?i)
        (leaf("email", "regex", r"^info@"), {"email": "info@acme.com"}, True),
        (leaf("email", "regex", r"^info@"), {"email": "INFO@acme.com"}, False),
        (leaf("email", "regex", r"(?i)^info@"), {"email": "INFO@acme.com"}, True),
        (leaf("email", "regex", r"acme\.com"), {"email": "x@acme.com"}, True),
        (leaf("email", "regex", r"acme\.com"), {}, False),
        (leaf("score", "regex", r"^9\d$"), {"score": 95}, True),
        # comparisons: numbers only, bools are not numbers
        (leaf("score", "gt", 50), {"score": 51}, True),
        (leaf("score", "gt", 50), {"score": 50}, False),
        (leaf("score", "gte", 50), {"score": 50}, True),
        (leaf("score", "gte", 50), {"score": 49.9}, False),
        (leaf("score", "lt", 50), {"score": 49.5}, True),
        (leaf("score", "lt", 50), {"score": 50}, False),
        (leaf("score", "lte", 50), {"score": 50}, True),
        (leaf("score", "lte", 50), {"score": 51}, False),
        (leaf("score", "gte", 0), {"score": "60"}, False),
        (leaf("score", "gte", 0), {"score": True}, False),
        (leaf("score", "lt", 100), {}, False),
        (leaf("score", "lt", 100), {"score": None}, False),
        # exists: present and not None/""; false inverts
        (leaf("phone", "exists", True), {"phone": "+49 30 1234567"}, True),
        (leaf("phone", "exists", True), {"phone": ""}, False),
        (leaf("phone", "exists", True), {"phone": None}, False),
        (leaf("phone", "exists", True), {}, False),
        (leaf("score", "exists", True), {"score": 0}, True),
        (leaf("phone", "exists", False), {}, True),
        (leaf("phone", "exists", False), {"phone": ""}, True),
        (leaf("phone", "exists", False), {"phone": "+1"}, False),
        # domain_in: the domain or a subdomain of it, case-insensitive, never a look-alike
        (leaf("email", "domain_in", ["acme.com"]), {"email": "a@acme.com"}, True),
        (leaf("email", "domain_in", ["acme.com"]), {"email": "a@mail.eu.ACME.com"}, True),
        (leaf("email", "domain_in", ["ACME.com"]), {"email": "a@acme.COM"}, True),
        (leaf("email", "domain_in", ["acme.com"]), {"email": "a@evil-acme.com"}, False),
        (leaf("email", "domain_in", ["acme.com"]), {"email": "a@acme.com.evil.io"}, False),
        (leaf("email", "domain_in", ["acme.com"]), {"email": "acme.com@evil.io"}, False),
        (leaf("email", "domain_in", ["acme.com"]), {"email": "a@com"}, False),
        (leaf("email", "domain_in", ["acme.com"]), {}, False),
        (
            leaf("company_domain", "domain_in", ["acme.com"]),
            {"company_domain": "eu.acme.com"},
            True,
        ),
        (leaf("company_domain", "domain_in", ["acme.com"]), {"company_domain": "acme.co"}, False),
        (leaf("attributes.site", "domain_in", ["acme.com"]), {"attributes": {"site": 5}}, False),
        # attributes: missing dict, not a dict
        (leaf("attributes.segment", "eq", "smb"), {"attributes": {"segment": "SMB"}}, True),
        (leaf("attributes.segment", "eq", "smb"), {"attributes": {}}, False),
        (leaf("attributes.segment", "eq", "smb"), {"attributes": None}, False),
        (leaf("attributes.segment", "eq", "smb"), {"attributes": ["smb"]}, False),
        (leaf("attributes.segment", "exists", False), {}, True),
    ],
)
def test_operator(condition, facts, expected):
    # given one rule with this condition
    # when the facts are evaluated
    matched = holds(condition, facts)

    # then
    assert matched is expected


@pytest.mark.parametrize(
    ("value", "is_open", "expected"),
    [(True, open_, True), (True, closed, False), (False, closed, True), (False, open_, False)],
)
def test_within_business_hours_asks_the_callers_calendar(value, is_open, expected):
    # given
    asked = []

    def calendar(at):
        asked.append(at)
        return is_open(at)

    content = one_rule({"op": "within_business_hours", "value": value})

    # when
    ev = compile_version(content).evaluate({}, at=MONDAY_10_UTC, is_open=calendar)

    # then
    assert (ev.rule is not None) is expected
    assert asked == [MONDAY_10_UTC]
    [condition] = ev.trace[0]["conditions"]
    assert condition == {
        "path": "",
        "op": "within_business_hours",
        "actual": is_open(MONDAY_10_UTC),
        "ok": expected,
    }


def test_the_calendar_is_asked_once_per_evaluation_however_many_rules_ask():
    # given three rules asking for opening hours
    hours = {"op": "within_business_hours", "value": True}
    content = {"rules": [{"id": f"r{i}", "when": hours, "then": {"team": "T"}} for i in range(3)]}
    asked = []

    def calendar(at):
        asked.append(at)
        return False

    # when
    ev = compile_version(content).evaluate({}, at=MONDAY_10_UTC, is_open=calendar)

    # then all three rules asked, and the calendar answered once
    assert [entry["rule"] for entry in ev.trace] == ["r0", "r1", "r2"]
    assert len(asked) == 1


# --- groups ------------------------------------------------------------------------------------

DACH_DEMO = {
    "all": [
        leaf("country", "in", ["DE", "AT", "CH"]),
        leaf("score", "gte", 50),
        {"not": leaf("attributes.segment", "eq", "partner")},
        {"any": [leaf("source", "eq", "web"), {"op": "within_business_hours", "value": True}]},
    ]
}


@pytest.mark.parametrize(
    ("facts", "is_open", "expected"),
    [
        ({"country": "DE", "score": 60, "source": "web"}, closed, True),
        ({"country": "ch", "score": 50, "source": "event"}, open_, True),
        ({"country": "CH", "score": 50, "source": "event"}, closed, False),
        ({"country": "FR", "score": 90, "source": "web"}, open_, False),
        ({"country": "DE", "score": 49, "source": "web"}, open_, False),
        (
            {"country": "AT", "score": 70, "source": "web", "attributes": {"segment": "Partner"}},
            open_,
            False,
        ),
        ({"country": "AT", "score": 70, "source": "web", "attributes": {}}, closed, True),
    ],
)
def test_nested_all_any_not(facts, is_open, expected):
    # when
    matched = holds(DACH_DEMO, facts, is_open=is_open)

    # then
    assert matched is expected


@pytest.mark.parametrize("when", [None, {}], ids=["no-when", "empty-when"])
def test_a_rule_without_conditions_matches_any_lead(when):
    # given a keyed rule that does not match, then an always-rule
    always = {"id": "always", "then": {"team": "Triage"}}
    if when is not None:
        always["when"] = when
    content = {"rules": [{"id": "de", "when": leaf("country", "eq", "DE"), "then": {"team": "D"}}]}
    content["rules"].append(always)

    # when
    ev = compile_version(content).evaluate({"country": "FR"}, at=MONDAY_10_UTC, is_open=closed)

    # then
    assert ev.rule is not None
    assert ev.rule.id == "always"
    assert ev.rule.then == {"team": "Triage"}
    assert ev.trace == [{"rule": "always", "ok": True, "conditions": []}]


# --- first match and resumption ----------------------------------------------------------------


def test_the_first_matching_rule_wins_and_after_resumes_past_it():
    # given four rules, the first three matching a DE lead
    content = {
        "rules": [
            {"id": "a", "when": leaf("country", "eq", "DE"), "then": {"team": "A"}},
            {"id": "b", "when": leaf("score", "gte", 10), "then": {"team": "B"}},
            {"id": "fr", "when": leaf("country", "eq", "FR"), "then": {"team": "F"}},
            {"id": "c", "then": {"team": "C", "when_closed": "fall_through"}},
        ]
    }
    compiled = compile_version(content)
    facts = {"country": "DE", "score": 50}

    # when resuming after each match in turn
    found, after = [], -1
    while (ev := compiled.evaluate(facts, at=MONDAY_10_UTC, is_open=closed, after=after)).rule:
        found.append((ev.rule.id, ev.rule.position, [t["rule"] for t in ev.trace]))
        after = ev.rule.position

    # then each call starts after the previous match, and the FR rule is never even tried
    assert found == [("a", 0, ["a"]), ("b", 1, ["b"]), ("c", 3, ["c"])]
    assert ev.trace == []
    assert ev.skipped_by_index == 0


def test_skipped_by_index_counts_the_rules_in_range_never_looked_at():
    # given 5 FR rules, a DE rule, 3 more FR rules
    def fr(i):
        return {"id": f"fr{i}", "when": leaf("country", "eq", "FR"), "then": {"team": "F"}}

    de = {"id": "de", "when": leaf("country", "in", ["DE"]), "then": {"team": "D"}}
    content = {"rules": [*(fr(i) for i in range(5)), de, *(fr(i) for i in range(5, 8))]}
    compiled = compile_version(content)

    # when a DE lead and a US lead are evaluated
    de_ev = compiled.evaluate({"country": "de"}, at=MONDAY_10_UTC, is_open=closed)
    us_ev = compiled.evaluate({"country": "US"}, at=MONDAY_10_UTC, is_open=closed)
    late = compiled.evaluate({"country": "FR"}, at=MONDAY_10_UTC, is_open=closed, after=5)

    # then
    assert de_ev.rule is not None
    assert (de_ev.rule.id, len(de_ev.trace), de_ev.skipped_by_index) == ("de", 1, 5)
    assert (us_ev.rule, us_ev.trace, us_ev.skipped_by_index) == (None, [], 9)
    assert late.rule is not None
    assert (late.rule.id, late.skipped_by_index) == ("fr5", 0)


def test_a_compiled_version_is_reusable():
    # given
    compiled = compile_version(one_rule(DACH_DEMO))
    facts = {"country": "DE", "score": 60, "source": "web"}

    # when
    first = compiled.evaluate(facts, at=MONDAY_10_UTC, is_open=closed)
    second = compiled.evaluate(facts, at=MONDAY_10_UTC, is_open=closed)

    # then
    assert first == second
    assert first.trace is not second.trace


def test_an_instant_without_a_time_zone_is_refused():
    # given
    compiled = compile_version(one_rule(leaf("hour", "eq", 10)))

    # when / then
    with pytest.raises(ValueError, match="aware"):
        compiled.evaluate({}, at=datetime(2026, 1, 1, 10), is_open=closed)  # noqa: DTZ001


# --- trace -------------------------------------------------------------------------------------


def test_the_trace_lists_only_the_conditions_evaluated_short_circuiting_like_python():
    # given a rule whose all() fails on its second leaf, then one whose any() succeeds on its first
    content = {
        "rules": [
            {
                "id": "dach",
                "when": {
                    "all": [
                        leaf("score", "gte", 10),
                        {"not": leaf("source", "eq", "web")},
                        leaf("title", "contains", "never evaluated"),
                    ]
                },
                "then": {"team": "D"},
            },
            {
                "id": "web",
                "when": {"any": [leaf("source", "eq", "WEB"), leaf("score", "gt", 1000)]},
                "then": {"team": "W"},
            },
        ]
    }
    facts = {"score": 60, "source": "web"}

    # when
    ev = compile_version(content).evaluate(facts, at=MONDAY_10_UTC, is_open=closed)

    # then the stored trace holds what varies per lead, named by path
    assert ev.trace == [
        {
            "rule": "dach",
            "ok": False,
            "conditions": [
                {"path": "all[0]", "field": "score", "actual": 60, "ok": True},
                {"path": "all[1].not", "field": "source", "actual": "web", "ok": True},
            ],
        },
        {
            "rule": "web",
            "ok": True,
            "conditions": [{"path": "any[0]", "field": "source", "actual": "web", "ok": True}],
        },
    ]
    # and explained with the version, each step shows its operator and value again
    assert trace_explain(content, ev.trace) == [
        {
            "rule": "dach",
            "ok": False,
            "conditions": [
                {
                    "path": "all[0]",
                    "field": "score",
                    "op": "gte",
                    "value": 10,
                    "actual": 60,
                    "ok": True,
                },
                {
                    "path": "all[1].not",
                    "field": "source",
                    "op": "eq",
                    "value": "web",
                    "actual": "web",
                    "ok": True,
                },
            ],
        },
        {
            "rule": "web",
            "ok": True,
            "conditions": [
                {
                    "path": "any[0]",
                    "field": "source",
                    "op": "eq",
                    "value": "WEB",
                    "actual": "web",
                    "ok": True,
                }
            ],
        },
    ]


def test_a_top_level_leaf_has_an_empty_path():
    # when
    ev = compile_version(one_rule(leaf("country", "eq", "DE"))).evaluate(
        {"country": "DE"}, at=MONDAY_10_UTC, is_open=closed
    )

    # then
    assert ev.trace[0]["conditions"][0]["path"] == ""


def test_the_trace_cuts_long_lists_and_long_text():
    # given a 25-value `in` list and a 150-character value (an attribute: not a dispatch key)
    values = [f"role {i}" for i in range(25)]
    content = one_rule({"all": [leaf("attributes.role", "in", values)]})
    facts = {"attributes": {"role": "x" * 150}}

    # when
    ev = compile_version(content).evaluate(facts, at=MONDAY_10_UTC, is_open=closed)

    # then the stored step holds the cut text and no value; explained, the value is cut too
    [condition] = ev.trace[0]["conditions"]
    assert "value" not in condition
    assert len(condition["actual"]) == 100
    assert condition["actual"] == "x" * 99 + "…"
    [explained] = trace_explain(content, ev.trace)[0]["conditions"]
    assert explained["value"] == [*values[:10], "…+15"]
    assert explained["actual"] == condition["actual"]


def test_the_trace_is_plain_json_whatever_the_lead_holds():
    # given attribute values JSON cannot encode as they are
    content = {
        "rules": [
            {"id": f"r{i}", "when": leaf(f"attributes.{key}", "eq", "x"), "then": {"team": "T"}}
            for i, key in enumerate(["when", "amount", "nested", "nan"])
        ]
    }
    facts = {
        "attributes": {
            "when": datetime(2026, 1, 1, tzinfo=UTC),
            "amount": Decimal("12.50"),
            "nested": {"a": ["b" * 300]},
            "nan": float("nan"),
        }
    }

    # when
    ev = compile_version(content).evaluate(facts, at=MONDAY_10_UTC, is_open=closed)
    text = json.dumps(ev.trace, allow_nan=False)

    # then
    actuals = [entry["conditions"][0]["actual"] for entry in json.loads(text)]
    assert actuals[:2] == ["2026-01-01 00:00:00+00:00", "12.50"]
    assert len(actuals[2]) == 100
    assert actuals[3] == "nan"


def test_no_trace_when_asked_for_none():
    # when
    ev = compile_version(one_rule(DACH_DEMO)).evaluate(
        {"country": "DE", "score": 60, "source": "web"},
        at=MONDAY_10_UTC,
        is_open=closed,
        trace=False,
    )

    # then
    assert ev.rule is not None
    assert ev.trace == []


# --- explaining a trace ------------------------------------------------------------------------

EXPLAINED_VERSION = {
    "rules": [
        {
            "id": "nested",
            "when": {
                "all": [
                    leaf("country", "in", ["DE", "AT"]),
                    {"any": [leaf("score", "gt", 90), {"not": leaf("source", "eq", "event")}]},
                    {"not": {"op": "within_business_hours", "value": True}},
                ]
            },
            "then": {"team": "N"},
        },
        {"id": "hours", "when": {"op": "within_business_hours", "value": False}, "then": {}},
        {"id": "top", "when": leaf("attributes.tier", "eq", "gold"), "then": {"team": "T"}},
    ]
}


def test_trace_explain_finds_nested_and_negated_conditions_by_path():
    # given a lead that goes through the any() into its not, then the negated hours test
    facts = {"country": "DE", "score": 40, "source": "web"}
    ev = compile_version(EXPLAINED_VERSION).evaluate(facts, at=MONDAY_10_UTC, is_open=closed)

    # when
    explained = trace_explain(EXPLAINED_VERSION, ev.trace)

    # then
    assert ev.rule is not None
    assert ev.rule.id == "nested"
    assert explained == [
        {
            "rule": "nested",
            "ok": True,
            "conditions": [
                {
                    "path": "all[0]",
                    "field": "country",
                    "op": "in",
                    "value": ["DE", "AT"],
                    "actual": "DE",
                    "ok": True,
                },
                {
                    "path": "all[1].any[0]",
                    "field": "score",
                    "op": "gt",
                    "value": 90,
                    "actual": 40,
                    "ok": False,
                },
                {
                    "path": "all[1].any[1].not",
                    "field": "source",
                    "op": "eq",
                    "value": "event",
                    "actual": "web",
                    "ok": False,
                },
                {
                    "path": "all[2].not",
                    "op": "within_business_hours",
                    "value": True,
                    "actual": False,
                    "ok": False,
                },
            ],
        }
    ]


def test_trace_explain_a_top_level_leaf_and_business_hours():
    # given a lead no earlier rule takes (an attribute leaf at the top: path "")
    compiled = compile_version(EXPLAINED_VERSION)
    facts = {"country": "FR", "attributes": {"tier": "Gold"}}

    # when open (the hours rule fails), and when closed (it matches)
    opened = compiled.evaluate(facts, at=MONDAY_10_UTC, is_open=open_)
    closed_ = compiled.evaluate(facts, at=MONDAY_10_UTC, is_open=closed)

    # then
    assert trace_explain(EXPLAINED_VERSION, opened.trace) == [
        {
            "rule": "hours",
            "ok": False,
            "conditions": [
                {
                    "path": "",
                    "op": "within_business_hours",
                    "value": False,
                    "actual": True,
                    "ok": False,
                }
            ],
        },
        {
            "rule": "top",
            "ok": True,
            "conditions": [
                {
                    "path": "",
                    "field": "attributes.tier",
                    "op": "eq",
                    "value": "gold",
                    "actual": "Gold",
                    "ok": True,
                }
            ],
        },
    ]
    assert [e["rule"] for e in trace_explain(EXPLAINED_VERSION, closed_.trace)] == ["hours"]


def test_trace_explain_cuts_long_values_like_the_trace_did_and_copies():
    # given a 12-value list, evaluated and explained
    values = [f"c{i}" for i in range(12)]
    content = one_rule({"all": [leaf("attributes.code", "in", values)]})
    ev = compile_version(content).evaluate(
        {"attributes": {"code": "c11"}}, at=MONDAY_10_UTC, is_open=closed
    )
    before = json.dumps(ev.trace)

    # when
    explained = trace_explain(content, ev.trace)
    short = trace_explain(one_rule({"all": [leaf("attributes.code", "in", ["a"])]}), ev.trace)

    # then the value is cut; the trace and the content are left as they were, and a value that
    # is a list is the explanation's own
    assert explained[0]["conditions"][0]["value"] == [*values[:10], "…+2"]
    assert explained[0]["conditions"][0]["actual"] == "c11"
    assert json.dumps(ev.trace) == before
    short[0]["conditions"][0]["value"].append("mutated")
    assert short[0]["conditions"][0]["value"] == ["a", "mutated"]
    assert values == [f"c{i}" for i in range(12)]
    assert explained[0] is not ev.trace[0]
    assert explained[0]["conditions"][0] is not ev.trace[0]["conditions"][0]


@pytest.mark.parametrize(
    ("rules", "why"),
    [
        ([], "the rule is gone"),
        ([{"id": "r", "then": {"team": "T"}}], "the rule has no condition now"),
        ([{"id": "r", "when": leaf("country", "eq", "DE"), "then": {}}], "no all[1] here"),
        (
            [{"id": "r", "when": {"all": [leaf("x", "eq", 1), leaf("y", "eq", 2)]}, "then": {}}],
            "all[1] tests another field",
        ),
        (
            [{"id": "r", "when": {"any": [leaf("x", "eq", 1), leaf("score", "eq", 2)]}}],
            "any, not all",
        ),
        (
            [{"id": "r", "when": {"all": [leaf("x", "eq", 1), {"not": leaf("score", "eq", 2)}]}}],
            "all[1] is a group",
        ),
    ],
)
def test_trace_explain_leaves_steps_it_cannot_place_as_they_are(rules, why):
    # given a compact step of rule r at all[1] on score, and a version that does not have it
    trace = [
        {
            "rule": "r",
            "ok": False,
            "conditions": [{"path": "all[1]", "field": "score", "actual": 5, "ok": False}],
        }
    ]

    # when
    explained = trace_explain({"rules": rules}, trace)

    # then
    assert explained == trace, why


@pytest.mark.parametrize(
    "step",
    [
        {"path": "all[0]", "op": "within_business_hours", "actual": True, "ok": True},
        {"path": "all[0", "field": "score", "actual": 5, "ok": False},
        {"path": "all[0].all[0]", "field": "score", "actual": 5, "ok": False},
        {"path": "none[0]", "field": "score", "actual": 5, "ok": False},
        {"path": None, "field": "score", "actual": 5, "ok": False},
        # a step stored before traces were compact keeps the value it showed then
        {"path": "all[0]", "field": "score", "op": "gte", "value": 1, "actual": 5, "ok": True},
    ],
)
def test_trace_explain_leaves_odd_and_old_steps_as_they_are(step):
    # given a version whose rule r tests score >= 10 at all[0]
    content = one_rule({"all": [leaf("score", "gte", 10)]})
    trace = [{"rule": "r", "ok": False, "conditions": [step]}]

    # when / then
    assert trace_explain(content, trace) == trace


# --- local time --------------------------------------------------------------------------------


def local_hour_and_day(at, timezone="Europe/Berlin"):
    """(hour, weekday) the engine sees, read from the trace of a rule testing both."""
    content = one_rule({"all": [leaf("hour", "gte", 0), leaf("weekday", "in", ["mon"])]})
    facts = {"timezone": timezone} if timezone else {}
    ev = compile_version(content).evaluate(facts, at=at, is_open=closed)
    return tuple(c["actual"] for c in ev.trace[0]["conditions"])


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # 2026-03-29, a Sunday: Berlin jumps from 02:00 CET to 03:00 CEST (01:00 UTC)
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), (0, "sun")),
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), (1, "sun")),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), (3, "sun")),
        (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), (23, "sun")),
        (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), (0, "mon")),
        # 2026-10-25, a Sunday: Berlin goes back from 03:00 CEST to 02:00 CET (01:00 UTC)
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), (2, "sun")),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), (2, "sun")),
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), (3, "sun")),
        (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), (23, "sun")),
        (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), (0, "mon")),
    ],
)
def test_hour_and_weekday_are_local_across_dst_changes_in_berlin(utc, expected):
    # when
    seen = local_hour_and_day(utc)

    # then
    assert seen == expected


def test_an_hour_rule_matches_the_wall_clock_in_the_leads_zone():
    # given a night rule for 02:00-02:59 local
    content = one_rule(leaf("hour", "eq", 2))
    compiled = compile_version(content)

    # when 02:00 UTC on each change day (03:00 CEST in March, 03:00 CET in October) and the
    # hour before
    def ok(at):
        return compiled.evaluate({"timezone": "Europe/Berlin"}, at=at, is_open=closed).rule

    # then 02:xx never happens in Berlin on 2026-03-29, and happens twice on 2026-10-25
    spring = [datetime(2026, 3, 29, h, 30, tzinfo=UTC) for h in range(24)]
    autumn = [datetime(2026, 10, 25, h, 30, tzinfo=UTC) for h in range(24)]
    assert sum(ok(at) is not None for at in spring) == 0
    assert sum(ok(at) is not None for at in autumn) == 2


def test_the_zone_defaults_to_utc_and_the_instant_may_come_in_any_offset():
    # given the same instant in two offsets
    utc = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    tokyo = utc.astimezone(ZoneInfo("Asia/Tokyo"))

    # when
    seen = [local_hour_and_day(at, timezone=None) for at in (utc, tokyo)]
    in_tokyo = local_hour_and_day(utc, timezone="Asia/Tokyo")

    # then
    assert seen == [(23, "mon"), (23, "mon")]
    assert in_tokyo == (8, "tue")


# --- dispatch equals the naive reference -------------------------------------------------------

TEXTS = ["DE", "de", "AT", "FR", "web", "WEB", "event", "partner", "acme.com", "", "50"]
FACT_VALUES = {
    "country": st.sampled_from(["DE", "de", "At", "FR", "", "50", 50, None]),
    "source": st.sampled_from(["web", "Web", "event", "partner", None, True]),
    "market": st.sampled_from(["DACH", "dach", "FR", None]),
    "status": st.sampled_from(["new", "working", "NEW", None]),
    "score": st.sampled_from([0, 49, 50, 50.0, 51, 100, "50", True, None]),
    "email": st.sampled_from(
        ["a@acme.com", "b@eu.acme.com", "c@evil-acme.com", "info@ACME.COM", "x@web.de", "", None]
    ),
    "company_domain": st.sampled_from(["acme.com", "eu.acme.com", "acme.co", None]),
    "title": st.sampled_from(["Head of Sales", "CTO", "intern", None]),
}
TEXT_FIELDS = ["country", "source", "market", "status", "email", "company_domain", "title"]
ATTRIBUTE = "attributes.segment"
scalars = st.sampled_from(TEXTS) | st.sampled_from([0, 50, 50.0, 100, True, False])
numbers = st.sampled_from([0, 49, 50, 50.5, 100])


def leaves():
    text_field = st.sampled_from([*TEXT_FIELDS, ATTRIBUTE])
    any_field = st.sampled_from([*TEXT_FIELDS, ATTRIBUTE, "score"])
    return st.one_of(
        st.builds(leaf, text_field, st.just("eq"), scalars),
        st.builds(leaf, text_field, st.just("in"), st.lists(scalars, min_size=1, max_size=4)),
        st.builds(leaf, st.just("score"), st.sampled_from(["eq", "in"]), numbers).map(
            lambda x: {**x, "value": [x["value"]]} if x["op"] == "in" else x
        ),
        st.builds(
            leaf,
            any_field,
            st.sampled_from(["contains", "startswith"]),
            st.sampled_from(TEXTS[:-2]),
        ),
        st.builds(
            leaf, any_field, st.just("regex"), st.sampled_from([r"^a", r"(?i)^A", r"acme\.", r"5"])
        ),
        st.builds(leaf, any_field, st.sampled_from(["gt", "gte", "lt", "lte"]), numbers),
        st.builds(leaf, any_field, st.just("exists"), st.booleans()),
        st.builds(
            leaf,
            st.sampled_from(["email", "company_domain"]),
            st.just("domain_in"),
            st.lists(st.sampled_from(["acme.com", "ACME.com", "web.de", "co"]), min_size=1),
        ),
        st.builds(leaf, st.just("hour"), st.just("in"), st.lists(st.integers(0, 23), min_size=1)),
        st.builds(leaf, st.just("weekday"), st.just("eq"), st.sampled_from(["mon", "SUN", "wed"])),
        st.builds(lambda v: {"op": "within_business_hours", "value": v}, st.booleans()),
    )


conditions = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=6,
)
# Mostly rules that start with a dispatchable test, as real versions do.
keyed = st.builds(
    lambda first, rest: {"all": [first, *rest]},
    st.builds(
        leaf,
        st.sampled_from(["country", "source", "market", "status", "company_domain"]),
        st.sampled_from(["eq", "in"]),
        st.sampled_from(TEXTS),
    ).map(lambda x: {**x, "value": [x["value"], "AT"]} if x["op"] == "in" else x),
    st.lists(conditions, max_size=2),
)
# Always-rules are rare and free-form conditions come in pairs, so that matches spread over
# the version instead of the first rule or two taking every lead.
pairs = st.builds(lambda a, b: {"all": [a, b]}, conditions, conditions)


@st.composite
def whens(draw):
    roll = draw(st.integers(0, 99))
    if roll < 2:
        return draw(st.sampled_from([None, {}]))
    if roll < 30:
        return draw(pairs | conditions)
    return draw(keyed)


@st.composite
def versions(draw):
    count = draw(st.integers(1, 60))
    rules = []
    for i in range(count):
        when = draw(whens())
        rule = {"id": f"r{i}", "then": {"team": f"T{i % 3}"}}
        if when is not None:
            rule["when"] = when
        rules.append(rule)
    return {"rules": rules}


@st.composite
def leads(draw):
    facts = {name: draw(values) for name, values in FACT_VALUES.items() if draw(st.booleans())}
    if draw(st.booleans()):
        facts["attributes"] = {"segment": draw(st.sampled_from(["partner", "SMB", 5, None]))}
    if draw(st.booleans()):
        facts["timezone"] = draw(st.sampled_from(["Europe/Berlin", "America/New_York", "UTC"]))
    return facts


instants = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))  # noqa: DTZ001


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(versions(), st.lists(leads(), min_size=1, max_size=5), instants, st.booleans(), st.data())
def test_dispatch_finds_the_rule_trying_every_rule_in_order_finds(
    content, facts_list, at, opening, data
):
    # given a valid random version, compiled, and a calendar
    assert validate_content(content) == []
    compiled = compile_version(content)

    def is_open(when):
        return opening

    for facts in facts_list:
        # when
        ev = compiled.evaluate(facts, at=at, is_open=is_open)
        naive_trace: list[dict] = []
        expected = naive_first_match(content, facts, at=at, is_open=is_open, trace=naive_trace)

        # then the same rule, and each traced rule's entry is the naive one for that rule
        assert (ev.rule.id if ev.rule else None) == expected
        naive_by_id = {entry["rule"]: entry for entry in naive_trace}
        assert all(entry == naive_by_id[entry["rule"]] for entry in ev.trace)
        # and every step of it finds its condition in the version again
        explained = trace_explain(content, ev.trace)
        assert all(
            "op" in step and "value" in step for entry in explained for step in entry["conditions"]
        )
        # rules the index skipped would not have matched, and the counts add up
        tried = {entry["rule"] for entry in ev.trace}
        assert not any(e["ok"] for e in naive_trace if e["rule"] not in tried)
        assert len(ev.trace) + ev.skipped_by_index == len(naive_trace)

        # and resuming after any position equals the reference on the rules after it
        after = data.draw(st.integers(-1, len(content["rules"]) - 1))
        resumed = compiled.evaluate(facts, at=at, is_open=is_open, after=after)
        rest = {"rules": content["rules"][after + 1 :]}
        assert (resumed.rule.id if resumed.rule else None) == naive_first_match(
            rest, facts, at=at, is_open=is_open
        )


# --- fixtures ----------------------------------------------------------------------------------

FIXTURE_VERSION = {
    "rules": [
        {"id": "night", "when": leaf("hour", "in", [22, 23, 0, 1]), "then": {"owner": "nightowl"}},
        {"id": "dach-demo", "when": DACH_DEMO, "then": {"team": "Inbound DACH"}},
    ]
}


def fixture(**overrides):
    return {
        "name": "DACH demo request",
        "lead": {"country": "DE", "score": 60, "source": "web", "timezone": "Europe/Berlin"},
        "at": "2026-03-30T10:00:00+02:00",
        "expect": {"rule": "dach-demo", "team": "Inbound DACH"},
        **overrides,
    }


@pytest.mark.parametrize(
    ("changes", "passed", "got"),
    [
        ({}, True, {"rule": "dach-demo", "team": "Inbound DACH"}),
        ({"expect": {"team": "Inbound DACH"}}, True, {"rule": "dach-demo", "team": "Inbound DACH"}),
        ({"at": "2026-03-30T23:15:00+02:00"}, False, {"rule": "night", "team": None}),
        (
            {"at": "2026-03-30T23:15:00+02:00", "expect": {"rule": "night", "team": None}},
            True,
            {"rule": "night", "team": None},
        ),
        ({"lead": {"country": "FR"}, "expect": {"rule": None}}, True, {"rule": None, "team": None}),
        ({"lead": {"country": "FR"}}, False, {"rule": None, "team": None}),
    ],
)
def test_fixture_check(changes, passed, got):
    # given
    case = fixture(**changes)
    assert validate_content({**FIXTURE_VERSION, "fixtures": [case]}) == []
    compiled = compile_version(FIXTURE_VERSION)

    # when
    result = fixture_check(compiled, case, is_open=closed)

    # then
    assert (result.name, result.passed, result.got) == ("DACH demo request", passed, got)
    assert result.expected == case["expect"]
    assert [entry["rule"] for entry in result.trace if entry["ok"]] == [got["rule"]] * bool(
        got["rule"]
    )


def test_a_fixture_without_at_runs_at_the_default_moment():
    # given a lead that only the night rule places at 23:00 Berlin time
    case = fixture(expect={"rule": "night"})
    del case["at"]
    night = datetime(2026, 3, 30, 23, 0, tzinfo=BERLIN)

    # when
    at_night = fixture_check(
        compile_version(FIXTURE_VERSION), case, is_open=closed, default_at=night
    )
    by_day = fixture_check(
        compile_version(FIXTURE_VERSION),
        case,
        is_open=closed,
        default_at=night - timedelta(hours=12),
    )

    # then
    assert (at_night.passed, by_day.passed) == (True, False)
