"""RevOps backtest a draft from its page: the run appears with its progress, then the result
page with the matrix, and one changed lead with both traces."""

import pytest

from leadops.core.access import system_context
from leadops.markets.teams import team_ensure, team_member_set
from routing.versions import rule_set_ensure, version_draft_create
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.leads.test_api_ingest import post
from tests.routing.conftest import SYSTEM, publish, revops, rule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_revops_backtest_a_draft_and_open_a_changed_lead(
    page, table, key_a, market_a, inbound, worker_in_process
):
    # given leads routed to Inbound and a draft sending scores ≥ 0 to Night
    rita, arno = revops("rita"), revops("arno")
    publish(market_a, [rule("everyone", team="Inbound")], author=rita, approver=arno)
    with system_context("tests"):
        night = team_ensure(actor=SYSTEM, market=market_a, name="Night")
        team_member_set(actor=SYSTEM, team=night, user=UserFactory.create(username="owl"))
    for n in range(3):
        post(key_a, {"source": "web", "email": f"past{n}@acme.io", "country": "DE"})
    with system_context("tests"):
        draft = version_draft_create(
            actor=rita,
            rule_set=rule_set_ensure(actor=rita, market=market_a),
            content={"rules": [rule("night", team="Night")]},
            change_note="nights",
        )

    # when Rita runs a backtest from the draft's page
    log_in(page, "rita")
    page.goto(f"/admin/routing/ruleversion/{draft.pk}/change/")
    page.click("#backtest-button")
    run_line = page.locator("#backtest .lo-run").first
    assert "finished" in run_line.inner_text()

    # then the result page shows the leads moved from Inbound to Night
    run_line.locator("a").first.click()
    assert page.locator("#bt-moved").inner_text() == "3"
    assert "Inbound" in page.locator("#backtest-matrix").inner_text()
    assert "Night" in page.locator("#backtest-matrix").inner_text()
    screenshot(page, "routing-backtest-result")

    # and a changed lead opens with both sides' traces
    page.locator("#backtest-changed tbody a").first.click()
    assert "published then" in page.locator("#content-main").inner_text()
    assert "v1 night" in page.locator("#content-main").inner_text() or "night" in (
        page.locator("#content-main").inner_text()
    )
    screenshot(page, "routing-backtest-lead")
