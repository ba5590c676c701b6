"""A manager opens the SLA board from the index and finds a breached lead of her market, with
its deadline in the market's time and in her own (the browser's zone), and opens the lead."""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group

from leadops.markets.services import manager_group_name
from leadops.sla.sweep import timers_sweep
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.routing.conftest import publish, rule
from tests.sla.conftest import SYSTEM, new_lead, sla_publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def los_angeles_page(browser, live_server):
    """A page whose browser lives in Los Angeles (the reader's zone is not the market's)."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 800},
        timezone_id="America/Los_Angeles",
    )
    yield context.new_page()
    context.close()


def test_a_manager_opens_the_board_and_sees_a_breached_lead(
    los_angeles_page, table, key_a, market_a, inbound, author, approver
):
    page = los_angeles_page
    # given market A's leads routed to team Inbound under a 60-minute policy, and its manager
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    sla_publish(market_a, minutes=60, ladder=[])
    manager = UserFactory.create(username="mia", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    # 09:00 in Berlin today: the breach at 10:01 falls in the market's today
    start = datetime.combine(datetime.now(BERLIN).date(), time(9, 0), tzinfo=BERLIN)

    with time_machine.travel(start, tick=True) as clock:
        # when one lead gets no response for an hour and another arrives half an hour in
        breached = new_lead(key_a, "nobody-called")["lead_id"]
        clock.shift(timedelta(minutes=30))
        waiting = new_lead(key_a, "still-waiting")["lead_id"]
        clock.shift(timedelta(minutes=31))
        timers_sweep(actor=SYSTEM)

        # and the manager opens the board from the index
        log_in(page, "mia")
        page.goto("/admin/")
        page.click("#work-links a:text('SLA board')")
        page.wait_for_selector("#board-breaches")

        # then the breached lead is listed as breached today, with no response yet
        assert page.locator("#board-breached").inner_text() == "1"
        assert page.locator("#board-breached-today").inner_text() == "1"
        row = page.locator(
            f"#board-breaches tr:has(a[href='/admin/leads/lead/{breached}/change/'])"
        )
        assert "none yet" in row.inner_text()
        # breached at 10:01 Berlin, 01:01 in Los Angeles (named in the browser's locale, en-US)
        assert "10:01 CET" in row.inner_text()
        assert "01:01 PST" in row.inner_text()
        assert page.locator("#board-filter .lo-viewer-zone").inner_text() == "America/Los_Angeles"
        # the other is due next: at 10:30 Berlin, in a little under 29 minutes
        due = page.locator("#board-due tbody tr").first
        assert f"Lead #{waiting}" in due.inner_text()
        assert re.search(r"in 2[89] min", due.inner_text())
        owners = page.locator("#board-owners").inner_text()
        assert "AAA" in owners
        screenshot(page, "sla-board-manager")

        # and the lead opens from the board
        row.locator("a").first.click()
        page.wait_for_url(f"**/admin/leads/lead/{breached}/change/")
        assert page.title().startswith(f"Lead #{breached}")
