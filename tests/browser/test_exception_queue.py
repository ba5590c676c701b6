import pytest
from django.contrib.auth.models import Group

from leadops.core.access import market_context, system_context
from leadops.kinds import note_flag
from leadops.markets.services import manager_group_name, market_create, market_note_create
from leadops.queue.models import ExceptionItem
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_claims_and_resolves_an_item(page):
    # given a DE manager and two flagged notes: one in DE, one in FR
    de = market_create(actor=SYSTEM, code="DE", name="Germany", timezone="Europe/Berlin")
    fr = market_create(actor=SYSTEM, code="FR", name="France", timezone="Europe/Paris")
    with market_context(market_ids=[de.id, fr.id]):
        berlin = market_note_create(actor=SYSTEM, market=de, text="Berlin fair leads")
        paris = market_note_create(actor=SYSTEM, market=fr, text="Paris webinar leads")
    item = note_flag(actor=SYSTEM, note=berlin, reason="fair was cancelled").item
    note_flag(actor=SYSTEM, note=paris, reason="webinar moved")
    manager = UserFactory.create(username="max", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(de)))

    # when he logs in and opens the queue from the header
    log_in(page, "max")
    page.click("#nav-queue")
    page.wait_for_url("**/admin/queue/exceptionitem/")

    # then he sees DE's item only
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(rows) == 1
    assert "fair was cancelled" in rows[0]
    assert "webinar" not in page.content()
    screenshot(page, "exception-queue")

    # when he opens it, claims it and resolves it with a note
    page.click("#result_list tbody tr a")
    page.click("#claim-button")
    assert "it is yours for the next 30 minutes" in page.locator(".messagelist").inner_text()
    screenshot(page, "exception-item-claimed")
    page.fill("#id_note", "Fair cancelled; note is still useful history.")
    page.click("button[data-resolution=keep]")
    page.wait_for_url("**/admin/queue/exceptionitem/")

    # then the queue is empty for him and the item is resolved with his note
    assert "Resolved." in page.locator(".messagelist").inner_text()
    assert page.locator("#result_list tbody tr").count() == 0
    with system_context("tests"):
        item.refresh_from_db()
    assert (item.status, item.resolution, item.resolved_by_id) == (
        ExceptionItem.Status.RESOLVED,
        "keep",
        manager.pk,
    )
