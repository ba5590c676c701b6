"""RevOps change the rules in the admin: a draft from the version in force, edited in the
JSON view, simulated on a lead, submitted; a second RevOps user reads the differences,
approves and publishes; the next lead posted through the API follows the new rules."""

import json

import pytest

from tests.browser.conftest import log_in, screenshot
from tests.leads.test_api_ingest import post
from tests.routing.conftest import publish, revops, rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_revops_change_the_rules_and_a_second_person_publishes_them(
    page, table, key_a, market_a, inbound
):
    # given rules in force sending every DE lead to the team in turn
    rita, arno = revops("rita"), revops("arno")
    v1 = publish(
        market_a,
        [rule("everyone", team="Inbound")],
        author=rita,
        approver=arno,
    )

    # when Rita opens the rule set, makes a draft from v1 and sends CTOs to cat
    log_in(page, "rita")
    page.goto(f"/admin/routing/ruleset/{v1.rule_set_id}/change/")
    page.wait_for_selector("#rules-in-force")
    page.goto(f"/admin/routing/ruleversion/{v1.pk}/change/")
    page.fill("#copy-button >> xpath=preceding-sibling::input[@name='note']", "CTOs to cat")
    page.click("#copy-button")
    page.wait_for_selector("#json-editor")
    content = {
        "rules": [
            {
                "id": "cto",
                "when": {
                    "all": [
                        {"field": "title", "op": "regex", "value": "(?i)\\bcto\\b"},
                        {"not": {"field": "country", "op": "eq", "value": "FR"}},
                    ]
                },
                "then": {"owner": "cat"},
            },
            {"id": "everyone", "then": {"team": "Inbound"}},
        ]
    }
    page.fill("#id_content", json.dumps(content, indent=2))
    page.click("#save-button")
    assert "Draft saved" in page.locator(".messagelist").inner_text()
    assert (
        "If title matches (?i)\\bcto\\b and not country is FR → owner cat"
        in page.locator("#rule-cards").inner_text()
    )

    # and simulates a CTO, then submits
    page.fill("#simulate input[name=title]", "CTO")
    page.fill("#simulate input[name=country]", "DE")
    page.fill("#simulate input[name=email]", "ada@acme.io")
    page.click("#simulate-button")
    assert "rule cto names cat" in page.locator("#draft-side").inner_text()
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
    assert "Added as rule 1: cto" in page.locator("#against-published").inner_text()
    screenshot(page, "routing-editor-approve")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#approve-button")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#publish-button")
    assert "is in force" in page.locator(".messagelist").inner_text()

    # and the next CTO posted through the API goes to cat by the new rule
    body = post(key_a, {"source": "web", "email": "cto@acme.io", "country": "DE", "title": "CTO"})
    assert body.json()["owner"] == "cat"
    assert body.json()["routing"]["version"] == 2
