"""RevOps change the rules in the admin: a draft from the version in force, edited in the
JSON view, simulated on a lead, submitted; a second RevOps user reads the differences,
approves and publishes; the next lead posted through the API follows the new rules."""

import pytest

from tests.browser.conftest import log_in, screenshot
from tests.leads.test_api_ingest import post
from tests.routing.conftest import publish, revops, rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def new_rule_first(page):
    """Add a rule with the forms and move it to the top; its card."""
    page.click("#rule-forms .add-rule")
    last = page.locator("#rule-forms .lo-rule").count() - 1
    page.locator("#rule-forms .lo-rule").nth(last).get_by_role("button", name="↑").first.click()
    return page.locator("#rule-forms .lo-rule").nth(0)


def set_row(scope, value, *, field=None, op=None, nth=0):
    """Fill one condition row of the form view (the change is read when the field is left)."""
    if field:
        scope.get_by_label("field").nth(nth).select_option(field)
    if op:
        scope.get_by_label("operator").nth(nth).select_option(op)
    scope.get_by_label("value").nth(nth).fill(value)
    scope.get_by_label("value").nth(nth).press("Tab")


def test_revops_change_the_rules_and_a_second_person_publishes_them(
    page, table, key_a, market_a, inbound
):
    from django.contrib.auth.models import Group

    from leadops.markets.services import manager_group_name
    from tests.factories import UserFactory

    # given rules in force sending every DE lead to the team in turn, and A's manager
    rita, arno = revops("rita"), revops("arno")
    v1 = publish(market_a, [rule("everyone", team="Inbound")], author=rita, approver=arno)
    manager = UserFactory.create(username="max", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(market_a)))

    # when Rita makes a draft from v1 and, with the forms, sends CTOs from DE or from the web
    # form to cat: title matches cto and (country is DE or source is web)
    log_in(page, "rita")
    page.goto(f"/admin/routing/ruleset/{v1.rule_set_id}/change/")
    page.click("#versions a >> text=v1")
    page.fill("#copy-button >> xpath=preceding-sibling::input[@name='note']", "CTOs to cat")
    page.click("#copy-button")
    page.wait_for_selector("#rule-forms .lo-rule")
    first = new_rule_first(page)
    first.locator(".add-condition").click()
    set_row(first, "(?i)\\bcto\\b", field="title", op="regex")
    first.locator('.lo-group[data-depth="0"] > .lo-add .add-group').click()
    nested = first.locator('.lo-group[data-depth="1"]')
    set_row(nested, "DE")
    nested.locator(".add-condition").click()
    set_row(nested, "web", field="source", nth=1)
    first.get_by_label("owner").select_option("cat")
    page.click("#save-button")
    assert "Draft saved" in page.locator(".messagelist").inner_text()
    assert (
        "If title matches (?i)\\bcto\\b and (country is DE or source is web) → owner cat"
        in page.locator("#rule-cards").inner_text()
    )

    # and simulates a CTO, then submits
    page.fill("#simulate input[name=title]", "CTO")
    page.fill("#simulate input[name=country]", "DE")
    page.fill("#simulate input[name=email]", "ada@acme.io")
    page.click("#simulate-button")
    assert "names cat" in page.locator("#draft-side").inner_text()
    assert "round robin among" in page.locator("#published-side").inner_text()
    screenshot(page, "routing-editor-simulate")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#submit-button")
    assert "submitted for approval" in page.locator(".messagelist").inner_text()

    # then Arno reads the differences, approves and publishes
    page.context.clear_cookies()
    log_in(page, "arno")
    page.goto(f"/admin/routing/ruleset/{v1.rule_set_id}/change/")
    page.click("#versions a >> text=v2")
    assert "Added as rule 1: rule-2" in page.locator("#against-published").inner_text()
    screenshot(page, "routing-editor-approve")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#approve-button")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish-button")
    assert "is in force" in page.locator(".messagelist").inner_text()

    # and the next CTO posted through the API goes to cat by the new rule
    body = post(
        key_a, {"source": "web", "email": "cto@acme.io", "country": "DE", "title": "CTO"}
    ).json()
    assert body["owner"] == "cat"
    assert body["routing"]["version"] == 2

    # and the manager reads on the lead page who has it and why
    page.context.clear_cookies()
    log_in(page, "max")
    page.goto(f"/admin/leads/lead/{body['lead_id']}/change/")
    assert "by rule rule-2 (v2)" in page.locator("#lead-routing").inner_text()
    latest = page.locator("#latest-decision").inner_text()
    assert "Assigned to cat" in latest
    assert "rule rule-2 names cat" in latest


def test_the_forms_build_a_nested_rule_that_saves_like_the_json_view(
    page, table, market_a, inbound
):
    from leadops.core.access import system_context
    from routing.models import RuleVersion
    from routing.versions import rule_set_ensure, version_draft_create

    # given a draft with one rule
    rita = revops("rita")
    with system_context("tests"):
        draft = version_draft_create(
            actor=rita,
            rule_set=rule_set_ensure(actor=rita, market=market_a),
            content={"rules": [{"id": "everyone", "then": {"team": "Inbound"}}]},
            change_note="hot DE leads first",
        )
    log_in(page, "rita")
    page.goto(f"/admin/routing/ruleversion/{draft.pk}/change/")
    page.wait_for_selector("#rule-forms .lo-rule")

    # when she adds a rule with the forms, moves it first, and gives it a nested condition:
    # country is DE and (score ≥ 50 or source is web), least loaded
    first = new_rule_first(page)
    first.locator(".add-condition").click()
    set_row(first, "DE")
    first.locator('.lo-group[data-depth="0"] > .lo-add .add-group').click()
    nested = first.locator('.lo-group[data-depth="1"]')
    set_row(nested, "50", field="score", op="gte")
    nested.locator(".add-condition").click()
    set_row(nested, "web", field="source", nth=1)
    nested.get_by_label("group kind").select_option("any")
    first.get_by_label("pick").select_option("least_loaded")
    screenshot(page, "routing-editor-forms")
    page.click("#save-button")
    assert "Draft saved" in page.locator(".messagelist").inner_text()

    # then what was saved is the rule the forms showed, as the JSON view would have saved it
    with system_context("tests"):
        saved = RuleVersion.objects.get(pk=draft.pk).content
    assert saved == {
        "rules": [
            {
                "id": "rule-2",
                "when": {
                    "all": [
                        {"field": "country", "op": "eq", "value": "DE"},
                        {
                            "any": [
                                {"field": "score", "op": "gte", "value": 50},
                                {"field": "source", "op": "eq", "value": "web"},
                            ]
                        },
                    ]
                },
                "then": {"team": "Inbound", "pick": "least_loaded"},
            },
            {"id": "everyone", "then": {"team": "Inbound"}},
        ]
    }
    assert "If country is DE and (score ≥ 50 or source is web) → team Inbound, least loaded" in (
        page.locator("#rule-cards").inner_text()
    )


def test_an_error_shows_on_the_row_it_belongs_to_and_fixtures_are_edited_beside(
    page, table, market_a, inbound
):
    from leadops.core.access import system_context
    from routing.models import RuleVersion
    from routing.versions import rule_set_ensure, version_draft_create

    rita = revops("rita")
    with system_context("tests"):
        draft = version_draft_create(
            actor=rita,
            rule_set=rule_set_ensure(actor=rita, market=market_a),
            content={
                "rules": [
                    {
                        "id": "hot",
                        "when": {"all": [{"field": "score", "op": "gt", "value": 50}]},
                        "then": {"team": "Inbound"},
                    }
                ]
            },
            change_note="hot leads",
        )
    log_in(page, "rita")
    page.goto(f"/admin/routing/ruleversion/{draft.pk}/change/")
    rule_card = page.locator("#rule-forms .lo-rule").nth(0)

    # when she types a word where a number belongs and saves
    rule_card.get_by_label("value").fill("fifty")
    rule_card.get_by_label("value").press("Tab")
    page.click("#save-button")

    # then the error stands on that row, and nothing was saved
    row = page.locator("#rule-forms .lo-rule").nth(0).locator(".lo-leaf")
    assert "number" in row.locator(".lo-error").inner_text()
    with system_context("tests"):
        assert (
            RuleVersion.objects.get(pk=draft.pk).content["rules"][0]["when"]["all"][0]["value"]
            == 50
        )

    # when she fixes it and adds a fixture lead beside the rules, then saves and runs it
    row.get_by_label("value").fill("50")
    row.get_by_label("value").press("Tab")
    page.click("#rule-forms .add-fixture")
    page.get_by_label("fixture lead").fill("country=DE, score=70")
    page.get_by_label("fixture lead").press("Tab")
    page.click("#save-button")
    page.click("#fixtures-button")

    # then the fixture passed against the rule it expects
    assert "pass" in page.locator("#fixture-results").inner_text()
    with system_context("tests"):
        fixtures = RuleVersion.objects.get(pk=draft.pk).content["fixtures"]
    assert fixtures == [
        {"name": "fixture 1", "lead": {"country": "DE", "score": 70}, "expect": {"rule": "hot"}}
    ]
    screenshot(page, "routing-editor-fixtures")


def test_a_draft_of_two_hundred_rules_stays_workable(page, table, market_a, inbound):
    from leadops.core.access import system_context
    from routing.models import RuleVersion
    from routing.versions import rule_set_ensure, version_draft_create

    rita = revops("rita")
    rules = [
        {
            "id": f"r{n}",
            "when": {
                "all": [
                    {"field": "score", "op": "gte", "value": n},
                    {
                        "any": [
                            {"field": "country", "op": "in", "value": ["DE", "AT"]},
                            {"field": "source", "op": "eq", "value": "web"},
                        ]
                    },
                ]
            },
            "then": {"team": "Inbound"},
        }
        for n in range(200)
    ]
    with system_context("tests"):
        draft = version_draft_create(
            actor=rita,
            rule_set=rule_set_ensure(actor=rita, market=market_a),
            content={"rules": rules},
            change_note="a grown rule set",
        )
    log_in(page, "rita")
    page.goto(f"/admin/routing/ruleversion/{draft.pk}/change/")

    # when the forms show all 200 and the last rule is moved up one place and saved
    assert page.locator("#rule-forms .lo-rule").count() == 200
    page.locator("#rule-forms .lo-rule").nth(199).get_by_role("button", name="↑").first.click()
    page.click("#save-button")

    # then it is saved in that order
    with system_context("tests"):
        saved = [r["id"] for r in RuleVersion.objects.get(pk=draft.pk).content["rules"]]
    assert saved[198:] == ["r199", "r198"]
