"""A lead posted through the API is routed by the published rules; its market's manager opens
it and reads the decision, then RevOps reads the dashboard's routing section."""

import pytest
from django.contrib.auth.models import Group

from leadops.markets.services import manager_group_name
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.leads.test_api_ingest import post
from tests.routing.conftest import publish, revops, rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_reads_why_a_lead_went_to_its_owner(page, table, key_a, market_a, inbound):
    # given rules for market A: CTOs to cat by name, everyone else to the team in turn
    cto = {"field": "title", "op": "regex", "value": "(?i)\\bcto\\b"}
    publish(
        market_a,
        [rule("cto", cto, owner="cat"), rule("everyone", team="Inbound")],
        author=revops("rita"),
        approver=revops("arno"),
    )
    manager = UserFactory.create(username="max", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(market_a)))

    # when a CTO's lead arrives through the API
    body = post(
        key_a,
        {
            "source": "web",
            "email": "ada@acme.io",
            "country": "DE",
            "title": "CTO",
            "company": "Acme",
        },
    ).json()
    assert body["owner"] == "cat"

    # then the manager sees on the lead page who has it, by which rule, and who else was there
    log_in(page, "max")
    page.goto(f"/admin/leads/lead/{body['lead_id']}/change/")
    page.wait_for_selector("#lead-routing-panel")
    assert page.locator("#lead-owner").inner_text() == "cat"
    assert "by rule cto" in page.locator("#lead-routing").inner_text()
    latest = page.locator("#latest-decision").inner_text()
    assert "Assigned to cat in Inbound" in latest
    assert "title regex" in latest
    assert "CTO" in latest
    screenshot(page, "routing-lead-panel")

    # and RevOps find it counted on the dashboard
    page.context.clear_cookies()
    log_in(page, "rita")
    page.goto("/admin/dashboard/")
    assert page.locator("#routing-assigned").inner_text() == "1"
    assert "cat" in page.locator("#routing-owners").inner_text()
    screenshot(page, "routing-dashboard")
