import pytest
from django.contrib.auth.models import Group

from leadops.core.access import system_context
from leadops.leads.ingest import leads_ingest
from leadops.leads.prepare import IngestItem
from leadops.leads.sources import source_ensure
from leadops.markets.market_table import (
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
)
from leadops.markets.services import manager_group_name, market_create
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_finds_a_lead_by_email_and_sees_its_touches(page):
    # given a DE manager, a published table and two leads in DE and FR
    de = market_create(actor=SYSTEM, code="DE", name="Germany", timezone="Europe/Berlin")
    fr = market_create(actor=SYSTEM, code="FR", name="France", timezone="Europe/Paris")
    web = source_ensure(actor=SYSTEM, slug="web", name="Website")
    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="t")
        for code, market in (("DE", de), ("FR", fr)):
            market_table_row_add(
                actor=SYSTEM, version=draft, kind="country", key=code, country=code, market=market
            )
        market_table_publish(actor=SYSTEM, version=draft)
    people = [
        {
            "email": "Ada@Engines.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Engines",
            "country": "DE",
            "utm_source": "google",
        },
        {
            "email": "marie@radium.example",
            "first_name": "Marie",
            "last_name": "Curie",
            "country": "FR",
        },
    ]
    leads_ingest(items=[IngestItem(source=web, payload=p, fields=p) for p in people], actor=SYSTEM)
    manager = UserFactory.create(username="max", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(de)))

    # when he searches for Ada by her email, typed differently
    log_in(page, "max")
    page.goto("/admin/leads/lead/")
    page.wait_for_selector("#result_list")
    assert "Curie" not in page.content()
    page.fill("#searchbar", "  ADA@engines.EXAMPLE ")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/admin/leads/lead/?q=*")
    screenshot(page, "leads-search")
    page.click("#result_list tbody tr th a")

    # then her page shows the market decision and the touch from google
    page.wait_for_selector("#sourcetouch_set-group, .inline-group")
    content = page.content()
    assert "Lovelace" in content
    assert "google" in content
    screenshot(page, "lead-detail")


def test_long_values_wrap_inside_the_page_instead_of_widening_it(page):
    # given a lead with a 1,000-character attribute and a rejected submission that kept a
    # 100 KB value, neither with a single space to break at
    de = market_create(actor=SYSTEM, code="DE", name="Germany", timezone="Europe/Berlin")
    web = source_ensure(actor=SYSTEM, slug="web", name="Website")
    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="t")
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="DE", country="DE", market=de
        )
        market_table_publish(actor=SYSTEM, version=draft)
    fields = {"email": "ada@engines.example", "country": "DE", "attributes": {"n": "z" * 1000}}
    [lead] = leads_ingest(
        items=[IngestItem(source=web, payload=fields, fields=fields)], actor=SYSTEM
    )
    from leadops.intake import intake_refuse

    submission = intake_refuse(
        actor=SYSTEM,
        channel="api",
        source_slug="web",
        payload={"company": "y" * 100_000},
        errors={"company": ["long"]},
    )
    UserFactory.create(username="rita", is_staff=True, is_superuser=True)
    log_in(page, "rita")

    for url, name in [
        (f"/admin/leads/lead/{lead.lead_id}/change/", "lead-long-attribute"),
        (f"/admin/leads/submission/{submission}/change/", "submission-long-payload"),
    ]:
        # when the page is opened at laptop width
        page.goto(url)
        page.wait_for_selector("#content-main")
        screenshot(page, name)

        # then nothing sticks out to the right: no element ends past the window's edge
        right = page.evaluate(
            "Math.max(...[...document.querySelectorAll('#content-main *')]"
            ".map(e => e.getBoundingClientRect().right))"
        )
        assert right <= 1280, f"{url}: something ends {right}px from the left"
    assert page.locator("text=Show all of it").count() == 1
