import pytest
from django.core.management import call_command

from leadops.demo import DEMO_PASSWORD
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("username", "lands_on"), [("revops", "dashboard"), ("manager", "home")])
def test_each_role_lands_where_it_works_and_sees_real_figures(page, username, lands_on):
    # given the demo data
    call_command("seed_demo", "--quiet-logins", verbosity=0)

    # when the person logs in
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**/admin/{lands_on}/")
    screenshot(page, f"landing-{username}")

    # then the dashboard shows non-zero figures of their markets and a chart
    page.click("#nav-dashboard")
    page.wait_for_selector("#dash-intake")
    assert int(page.locator("#intake-total").inner_text()) > 0
    assert page.locator("#intake-chart rect").count() > 0
    assert int(page.locator("#open-total").inner_text()) > 0
    screenshot(page, f"dashboard-{username}")
