"""The routing pages: a rule set with its versions and differences, a version with its rules in
words, the draft's JSON editor, fixtures, simulation and the governance steps as buttons;
managers read only."""

from __future__ import annotations

import json

import pytest

from leadops.core.access import system_context
from routing.models import RuleVersion
from routing.versions import rule_set_ensure, version_draft_create
from tests.routing.conftest import publish, rule

pytestmark = pytest.mark.django_db

DE = {"field": "country", "op": "eq", "value": "DE"}


def draft_of(market, author, rules, fixtures=None):
    content = {"rules": rules, **({"fixtures": fixtures} if fixtures else {})}
    with system_context("tests"):
        return version_draft_create(
            actor=author,
            rule_set=rule_set_ensure(actor=author, market=market),
            content=content,
            change_note="try hot leads first",
        )


def act(client, version, **data):
    return client.post(f"/admin/routing/ruleversion/{version.pk}/act/", data)


def state(version):
    with system_context("tests"):
        return RuleVersion.objects.get(pk=version.pk).state


def test_the_rule_set_page_reads_the_rules_and_the_differences(
    client, market_a, inbound, author, approver
):
    # given v1 published and v2 that adds a rule and changes one
    v1 = publish(market_a, [rule("de", DE, team="Inbound")], author=author, approver=approver)
    draft_of(
        market_a,
        author,
        [
            rule(
                "hot",
                {"field": "score", "op": "gte", "value": 50},
                team="Inbound",
                when_closed="wait",
            ),
            rule("de", DE, team="Inbound", pick="weighted"),
        ],
    )
    client.force_login(author)

    # when RevOps open the rule set and compare v1 with v2
    html = client.get(f"/admin/routing/ruleset/{v1.rule_set_id}/change/?a=1&b=2").content.decode()

    # then the rules in force read as sentences and the differences are named
    assert "If country is DE → team Inbound, round robin" in html
    assert (
        "Added as rule 1: <code>hot</code> — If score ≥ 50 → team Inbound, round robin; "
        "if nobody is available, wait until the team opens" in html
    )
    assert "Changed <code>de</code> (actions)" in html
    assert "try hot leads first" in html


def test_a_draft_saved_from_the_json_view_is_checked_and_errors_point_at_the_rule(
    client, market_a, inbound, author
):
    version = draft_of(market_a, author, [rule("de", DE, team="Inbound")])
    client.force_login(author)

    # when the JSON names a team of no market and a bad operator value
    bad = {
        "rules": [
            rule("de", DE, team="Inbound"),
            rule("x", {"all": [DE, {"field": "score", "op": "gt", "value": "hi"}]}, team="Inbound"),
        ]
    }
    page = act(client, version, action="save", content=json.dumps(bad)).content.decode()

    # then the page lists the error at that rule and path, keeps the text, and nothing is saved
    assert "Rule 2 <code>x</code>, at <code>rules[1].when.all[1]" in page
    assert "&quot;hi&quot;" in page
    with system_context("tests"):
        assert RuleVersion.objects.get(pk=version.pk).content["rules"][-1]["id"] == "de"

    # when it is fixed, it is saved
    good = {"rules": [rule("de", DE, team="Inbound"), rule("all", team="Inbound")]}
    assert act(client, version, action="save", content=json.dumps(good)).status_code == 302
    with system_context("tests"):
        assert [r["id"] for r in RuleVersion.objects.get(pk=version.pk).content["rules"]] == [
            "de",
            "all",
        ]


def test_submit_approve_and_publish_from_the_page_by_two_people(
    client, market_a, inbound, author, approver
):
    version = draft_of(market_a, author, [rule("de", DE, team="Inbound")])

    # the author submits; the approve button is not theirs to press
    client.force_login(author)
    act(client, version, action="submit")
    assert state(version) == "submitted"
    page = client.get(f"/admin/routing/ruleversion/{version.pk}/change/").content.decode()
    assert 'id="approve-button"' not in page
    act(client, version, action="approve")
    assert state(version) == "submitted"

    # another approver approves and publishes
    client.force_login(approver)
    assert (
        'id="approve-button"'
        in client.get(f"/admin/routing/ruleversion/{version.pk}/change/").content.decode()
    )
    act(client, version, action="approve")
    act(client, version, action="publish")
    assert state(version) == "published"


def test_managers_read_the_rules_but_cannot_act(client, market_a, inbound, author, manager_a):
    version = draft_of(market_a, author, [rule("de", DE, team="Inbound")])
    client.force_login(manager_a)

    page = client.get(f"/admin/routing/ruleversion/{version.pk}/change/")
    refused = act(client, version, action="submit")

    assert page.status_code == 200
    assert "If country is DE → team Inbound" in page.content.decode()
    assert 'id="governance"' not in page.content.decode()
    assert 'id="json-editor"' not in page.content.decode()
    assert refused.status_code == 403
    assert state(version) == "draft"


def test_fixtures_run_and_a_simulation_shows_both_sides(
    client, market_a, inbound, author, approver
):
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    fixtures = [
        {"name": "DE lead", "lead": {"country": "DE"}, "expect": {"rule": "de"}},
        {"name": "FR lead", "lead": {"country": "FR"}, "expect": {"rule": "de"}},
    ]
    version = draft_of(market_a, author, [rule("de", DE, owner="cat")], fixtures)
    client.force_login(author)

    ran = act(client, version, action="fixtures").content.decode()
    simulated = act(
        client, version, action="simulate", country="de", email="a@acme.io", at="2026-12-07T10:00"
    ).content.decode()

    assert ran.count(">pass<") == 1
    assert ran.count(">FAIL<") == 1
    assert 'id="draft-side"' in simulated
    assert 'id="published-side"' in simulated
    assert "rule de names cat" in simulated
    assert True  # sentences are on the cards
    assert "country eq DE → DE ✓" in simulated


def test_revops_make_a_markets_rule_set_and_start_its_first_draft(
    client, market_a, market_b, author, manager_a
):
    from routing.models import RuleSet

    # a manager may not
    client.force_login(manager_a)
    assert client.get("/admin/routing/ruleset/add/").status_code == 403

    # RevOps choose market B, then start an empty draft
    client.force_login(author)
    page = client.get("/admin/routing/ruleset/add/").content.decode()
    assert "BBB — Market B" in page
    made = client.post("/admin/routing/ruleset/add/", {"market": str(market_b.pk)})
    with system_context("tests"):
        rule_set = RuleSet.objects.get(market=market_b)
    assert made["Location"] == f"/admin/routing/ruleset/{rule_set.pk}/change/"
    draft = client.post(
        f"/admin/routing/ruleset/{rule_set.pk}/draft/", {"from": "empty", "note": "first rules"}
    )
    with system_context("tests"):
        version = RuleVersion.objects.get(rule_set=rule_set)
    assert draft["Location"] == f"/admin/routing/ruleversion/{version.pk}/change/"
    assert (version.state, version.content, version.change_note) == (
        "draft",
        {"rules": []},
        "first rules",
    )
