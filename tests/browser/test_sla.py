"""A manager watches a lead's first-response clock go from due to warned to breached (the test
drives the clock and runs the sweep as beat would) and finds the `sla_breach` item in the queue."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group

from leadops.markets.services import manager_group_name
from leadops.sla.sweep import timers_sweep
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.sla.conftest import SYSTEM, new_lead, sla_publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_sees_a_lead_go_due_warned_breached_and_finds_the_breach_item(
    page, table, key_a, market_a, inbound
):
    # given a 60-minute policy (warn at 75 %) that files an item at the breach
    sla_publish(
        market_a,
        minutes=60,
        warn_percent=75,
        ladder=[{"step": "notify_owner", "after": 0}, {"step": "file_breach", "after": 0}],
    )
    manager = UserFactory.create(username="mia", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    start = datetime.now(UTC).replace(microsecond=0)

    with time_machine.travel(start, tick=True) as clock:
        # when a lead arrives and the manager opens it
        lead_id = new_lead(key_a, "clocked")["lead_id"]
        url = f"/admin/leads/lead/{lead_id}/change/"
        log_in(page, "mia")
        page.goto(url)
        assert "due in" in page.locator("#sla-clock").inner_text()
        assert page.locator("#sla-clock .lo-sla-ok").count() == 1
        screenshot(page, "sla-due")

        # 46 minutes later the sweep warns: the clock turns amber
        clock.shift(timedelta(minutes=46))
        timers_sweep(actor=SYSTEM)
        page.goto(url)
        assert page.locator("#sla-clock .lo-sla-warned").count() == 1
        assert "Owner warned" in page.locator("#sla-history").inner_text()
        screenshot(page, "sla-warned")

        # and at 61 minutes it breaches: red, overdue, and the history says so
        clock.shift(timedelta(minutes=15))
        timers_sweep(actor=SYSTEM)
        page.goto(url)
        assert "overdue" in page.locator("#sla-clock").inner_text()
        assert page.locator("#sla-clock .lo-sla-breached").count() == 1
        history = page.locator("#sla-history").inner_text()
        assert "Breached" in history
        assert "file breach" in history
        screenshot(page, "sla-breached")

        # then the lead list shows it overdue and the queue holds its sla_breach item
        page.goto("/admin/leads/lead/?sla=breached")
        assert f">{lead_id}<" in page.content()
        page.goto("/admin/queue/exceptionitem/?kind=sla_breach")
        assert f"Lead #{lead_id}: no first response" in page.content()
        screenshot(page, "sla-queue")
