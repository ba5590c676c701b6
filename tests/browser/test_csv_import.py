import pytest
from django.contrib.auth.models import Group

from leadops.core.access import system_context
from leadops.leads.sources import source_ensure
from leadops.markets.market_table import (
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
)
from leadops.markets.models import REVOPS_GROUP
from leadops.markets.services import market_create
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIST = (
    "E-Mail Adr.;Vorname;Nachname;Firma;Land\n"
    "ada@engines.example;Ada;Lovelace;Analytical Engines;DE\n"
    'max@mueller.example;Max;Müller;=HYPERLINK("http://x");DE\n'
    "nobody;No;Body;;DE\n"
)


@pytest.mark.usefixtures("worker_in_process")
def test_revops_imports_a_list_from_preview_to_results(page, tmp_path):
    # given a market, a published table, a source and a RevOps member with a semicolon list
    de = market_create(actor=SYSTEM, code="DE", name="Germany", timezone="Europe/Berlin")
    source_ensure(actor=SYSTEM, slug="events", name="Trade-fair scanner", kind="csv")
    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="t")
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="DE", country="DE", market=de
        )
        market_table_publish(actor=SYSTEM, version=draft)
    rita = UserFactory.create(username="rita", is_staff=True)
    rita.groups.add(Group.objects.get(name=REVOPS_GROUP))
    listed = tmp_path / "fair.csv"
    listed.write_bytes(LIST.encode("cp1252"))

    # when she uploads it, maps its columns, reads the preview and starts the import
    log_in(page, "rita")
    page.goto("/admin/")
    page.click("text=Imported files")
    page.click("#import-link")
    page.set_input_files("input[name=file]", str(listed))
    page.select_option("select[name=source]", label="Trade-fair scanner (events)")
    page.fill("input[name=campaign]", "DMEXCO 2026")
    page.click("#upload-form input[type=submit]")
    page.wait_for_selector("#import-preview")
    for number, field in enumerate(["email", "first_name", "last_name", "company", "country"]):
        page.select_option(f"select[name=field-{number}]", field)
    page.click("#save-mapping")
    page.wait_for_selector("#import-preview")
    preview = page.inner_text("#import-preview")
    screenshot(page, "csv-import-preview")
    assert "ada@engines.example" in preview
    assert "created" in preview
    assert "rejected" in preview
    page.click("#start-import")

    # then the run finishes, its progress bar full, and its results download
    page.wait_for_selector("tr.run.state-succeeded")
    assert page.get_attribute("tr.run progress", "value") == "100"
    assert "2 created" in page.inner_text("#import-runs")
    screenshot(page, "csv-import-done")
    with page.expect_download() as download:
        page.click("a.results-link")
    text = download.value.path().read_text(encoding="utf-8-sig")
    assert "row,outcome,lead_id,errors" in text
    assert ",rejected," in text
    assert "Re-import the 1 failed rows" in page.inner_text("#import-runs")
