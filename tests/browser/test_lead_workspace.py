import csv
import io

import pytest
from django.contrib.auth.models import Group

from leadops.core.access import system_context
from leadops.leads.models import Activity, Lead
from leadops.markets.models import REVOPS_GROUP
from leadops.markets.services import manager_group_name
from leadops.markets.teams import team_ensure, team_member_set
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_works_a_lead_and_revops_exports_a_filtered_list(
    page, table, web, market_a, market_b
):
    # given leads in A and B, a team in A with a rep, a manager of A and RevOps
    made = ingest(
        web,
        {"email": "nina@acme.io", "first_name": "Nina", "last_name": "Ek", "company": "Acme", **DE},
        {"email": "otto@acme.io", "first_name": "Otto", **DE},
        {"email": "paul@beta.io", "first_name": "Paul", **FR},
    )
    nina = made[0].lead_id
    rep = UserFactory.create(username="rex", is_staff=True)
    with system_context("tests"):
        team_member_set(
            actor=SYSTEM, team=team_ensure(actor=SYSTEM, market=market_a, name="Inbound"), user=rep
        )
    manager = UserFactory.create(username="max", is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    revops = UserFactory.create(username="rita", is_staff=True)
    revops.groups.add(Group.objects.get(name=REVOPS_GROUP))

    # when the manager opens Nina's lead from the list
    log_in(page, "max")
    page.goto("/admin/leads/lead/")
    page.click(f"#result_list a[href$='/{nina}/change/']")
    page.wait_for_selector("#lead-header")
    assert "Nina Ek · Acme" in page.locator("#lead-header h2").inner_text()

    # and assigns the rep, logs a call and moves the status on
    page.select_option("#id_owner", str(rep.pk))
    page.fill("#id_reason", "speaks Swedish")
    page.click("#assign-button")
    assert "Owner: rex." in page.locator(".messagelist").inner_text()
    page.select_option("#id_kind", "call")
    page.fill("#id_activity_note", "booked a demo")
    page.click("#activity-button")
    page.select_option("#id_status", "working")
    page.click("#status-button")

    # then the header and the timeline say so, newest first
    assert page.locator("#lead-status").inner_text() == "Working"
    assert page.locator("#lead-owner").inner_text() == "rex"
    timeline = page.locator("#lead-timeline tbody tr").all_inner_texts()
    assert "Status assigned → working" in timeline[0]
    assert "Call: booked a demo" in timeline[1]
    assert "Owner nobody → rex: speaks Swedish" in timeline[2]
    screenshot(page, "lead-workspace")
    with system_context("tests"):
        lead = Lead.objects.get(pk=nina)
        assert (lead.owner_id, lead.status) == (rep.pk, "working")
        assert Activity.objects.filter(lead=lead, kind="call").count() == 1

    # when RevOps filters the list to new leads and exports every one of them
    page.context.clear_cookies()
    log_in(page, "rita")
    page.goto("/admin/leads/lead/?status__exact=new")
    screenshot(page, "lead-list-filtered")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "export_selected")
    with page.expect_download() as download:
        page.click("button[name=index]")
    body = download.value.path().read_text(encoding="utf-8-sig")

    # then the file holds exactly the filtered leads of every market
    emails = sorted(row["email"] for row in csv.DictReader(io.StringIO(body)))
    assert emails == ["otto@acme.io", "paul@beta.io"]

    # and the attribution page shows both markets' sources, with its chart
    page.goto("/admin/leads/lead/")
    page.click("#attribution-link")
    page.wait_for_selector("#attribution-table")
    assert page.locator("#attribution-chart").count() == 1
    assert "BBB" in page.locator("#attribution-table").inner_text()
    screenshot(page, "attribution")
