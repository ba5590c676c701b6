import pytest
from django.contrib.auth.models import Group

from leadops.core.access import system_context
from leadops.leads.models import Lead, LeadMerge
from leadops.markets.models import REVOPS_GROUP
from leadops.markets.services import manager_group_name
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_of_both_markets_merges_a_review_pair_and_revops_unmerges_it(
    page, table, web, market_a, market_b
):
    # given a lead in A and the same email arriving for B: a review item in both markets
    [known] = ingest(
        web,
        {"email": "eva@acme.io", "first_name": "Eva", "last_name": "Roth", "title": "CTO", **DE},
    )
    [new] = ingest(
        web,
        {"email": "eva@acme.io", "first_name": "Eva", "last_name": "Roth-Klein",
         "company": "Acme", **FR},
    )  # fmt: skip
    assert new.outcome == "review"
    manager = UserFactory.create(username="mia", is_staff=True)
    for market in (market_a, market_b):
        manager.groups.add(Group.objects.get(name=manager_group_name(market)))
    revops = UserFactory.create(username="rita", is_staff=True)
    revops.groups.add(Group.objects.get(name=REVOPS_GROUP))

    # when the manager opens the item from the queue and then its side-by-side page
    log_in(page, "mia")
    page.goto("/admin/queue/exceptionitem/")
    page.click("#result_list tbody tr a")
    page.click("#item-page a")
    page.wait_for_selector("#compare")

    # then both leads are side by side with the differing name highlighted and pickable
    name_row = page.locator("#compare tr[data-field=name]")
    assert "differs" in name_row.inner_text()
    assert "Roth-Klein" in name_row.inner_text()
    screenshot(page, "duplicate-review-side-by-side")

    # when she keeps the left name and merges the candidate (right) into the new lead (left)
    page.check("input[name='pick:name'][value=left]")
    page.click("#merge-left")
    page.wait_for_url(f"**/admin/leads/lead/{new.lead_id}/change/")

    # then the new lead holds the right one, with the name she picked and the title filled
    assert "merged into lead" in page.locator(".messagelist").inner_text()
    assert "was merged into this lead" in page.locator("#lead-duplicates").inner_text()
    screenshot(page, "lead-after-merge")
    with system_context("tests"):
        survivor = Lead.objects.get(pk=new.lead_id)
        assert (survivor.last_name, survivor.title) == ("Roth-Klein", "CTO")
        assert Lead.objects.get(pk=known.lead_id).merged_into_id == new.lead_id
        merge = LeadMerge.objects.get()

    # when RevOps opens the survivor and unmerges from its page
    page.context.clear_cookies()
    log_in(page, "rita")
    page.goto(f"/admin/leads/lead/{new.lead_id}/change/")
    page.click(f"#unmerge-{merge.pk}")
    page.wait_for_selector("#unmerge-restores")
    assert "title" in page.locator("#unmerge-restores").inner_text()
    screenshot(page, "unmerge-preview")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#unmerge-button")
    page.wait_for_url(f"**/admin/leads/lead/{known.lead_id}/change/")

    # then both leads are back as they were, and marked as different people
    assert "is back" in page.locator(".messagelist").inner_text()
    assert "Not the same person as" in page.locator("#lead-duplicates").inner_text()
    screenshot(page, "lead-after-unmerge")
    with system_context("tests"):
        survivor.refresh_from_db()
        restored = Lead.objects.get(pk=known.lead_id)
    assert survivor.title == ""
    assert (restored.merged_into_id, restored.title) == (None, "CTO")
