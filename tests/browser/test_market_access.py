import pytest
from django.contrib.auth.models import Group

from leadops.core.access import market_context
from leadops.markets.models import REVOPS_GROUP
from leadops.markets.services import manager_group_name, market_create, market_note_create
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_markets():
    de = market_create(actor=SYSTEM, code="DE", name="Germany", timezone="Europe/Berlin")
    fr = market_create(actor=SYSTEM, code="FR", name="France", timezone="Europe/Paris")
    with market_context(market_ids=[de.id, fr.id]):
        market_note_create(actor=SYSTEM, market=de, text="Berlin fair leads")
        market_note_create(actor=SYSTEM, market=fr, text="Paris webinar leads")
    return de, fr


def test_manager_sees_only_their_markets_notes(page, two_markets):
    # given a manager of DE
    de, _fr = two_markets
    manager = UserFactory.create(username="max", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(de)))

    # when they open the market notes
    log_in(page, "max")
    page.goto("/admin/markets/marketnote/")
    page.wait_for_selector("#result_list")

    # then only DE's note is listed
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(rows) == 1
    assert "Berlin fair leads" in rows[0]
    assert "Paris" not in page.content()
    screenshot(page, "manager-market-notes")


def test_revops_grants_a_market_and_the_page_shows_it(page, two_markets):
    # given RevOps and a person without markets
    _de, _fr = two_markets
    revops = UserFactory.create(username="rita", is_staff=True)
    revops.groups.add(Group.objects.get(name=REVOPS_GROUP))
    UserFactory.create(username="pat", is_staff=True)

    # when RevOps grants FR to pat on the Market access page
    log_in(page, "rita")
    page.goto("/admin/markets/market/access/")
    page.select_option("#id_market", label="FR")
    page.select_option("#id_user", label="pat")
    page.select_option("#id_action", value="grant")
    page.click("#market-access-form input[type=submit]")

    # then the page confirms it and lists pat under FR
    assert "Access to FR granted to pat." in page.locator(".messagelist").inner_text()
    fr_row = page.locator("tr", has_text="FR — France").inner_text()
    assert "pat" in fr_row
    screenshot(page, "market-access")
