"""Rules in words and the differences between two versions, as the editor shows them."""

from __future__ import annotations

from routing.describe import rule_sentence, versions_diff

DE = {"field": "country", "op": "eq", "value": "DE"}
HOT = {"field": "score", "op": "gte", "value": 50}


def rule(rule_id, when=None, **then):
    found = {"id": rule_id, "then": then}
    if when is not None:
        found["when"] = when
    return found


def test_a_rule_reads_as_a_sentence():
    # given a team rule that waits for the team to open
    waiting = rule("dach", {"all": [DE, HOT]}, team="Inbound DACH", when_closed="wait")

    # then it reads as the example does
    assert rule_sentence(waiting) == (
        "If country is DE and score ≥ 50 → team Inbound DACH, round robin; "
        "if nobody is available, wait until the team opens"
    )


def test_nested_groups_negation_and_every_action_read_plainly():
    when = {
        "any": [
            {"not": {"field": "attributes.segment", "op": "eq", "value": "partner"}},
            {"all": [{"field": "email", "op": "domain_in", "value": ["acme.com"]}, HOT]},
            {"op": "within_business_hours", "value": False},
        ]
    }
    then = {"owner": "cat", "status": "working", "tags": ["vip"], "notify": ["max"]}

    sentence = rule_sentence(rule("vip", when, **then))

    assert sentence == (
        "If not attribute segment is partner or (email is at [acme.com] and score ≥ 50) or "
        "outside business hours → owner cat; status working; tag vip; notify max"
    )
    assert rule_sentence(rule("all", team="T", pick="least_loaded")).startswith(
        "Always → team T, least loaded; if nobody is available, try the next rule"
    )


def test_long_lists_are_shortened():
    many = {"field": "country", "op": "in", "value": [f"C{i}" for i in range(10)]}
    assert "[C0, C1, C2, C3, C4, C5 and 4 more]" in rule_sentence(rule("r", many, team="T"))


def test_the_diff_names_added_removed_changed_and_moved_rules():
    # given v1 with rules a, b, c, d, and v2 that drops b, changes c's action, adds e and
    # moves d to the top
    before = {
        "rules": [
            rule("a", DE, team="T"),
            rule("b", team="T"),
            rule("c", HOT, team="T"),
            rule("d", team="U"),
        ]
    }
    after = {
        "rules": [
            rule("d", team="U"),
            rule("a", DE, team="T"),
            rule("c", HOT, team="V"),
            rule("e", team="T"),
        ],
        "fixtures": [{}],
    }

    diff = versions_diff(before, after)

    assert [r["id"] for r in diff.added] == ["e"]
    assert [r["id"] for r in diff.removed] == ["b"]
    [changed] = diff.changed
    assert changed["id"] == "c"
    assert changed["what"] == ["actions"]
    assert "team V" in changed["after"]
    assert "team T" in changed["before"]
    # only d moved: a and c kept their order
    assert diff.moved == [{"id": "d", "from": 4, "to": 1}]
    assert diff.fixtures == (0, 1)
    assert not diff.empty


def test_the_same_rules_make_an_empty_diff():
    content = {"rules": [rule("a", DE, team="T")]}
    assert versions_diff(content, dict(content)).empty
    assert [r["id"] for r in versions_diff(None, content).added] == ["a"]
