import pytest

from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_member_logs_in_and_opens_the_dashboard(page):
    # given a staff member
    user = UserFactory.create(username="rita", is_staff=True)

    # when they log in through the form and follow the Dashboard link
    log_in(page, user.username)
    page.click("#nav-dashboard")

    # then the dashboard shows its sections and says which arrive with later features
    assert page.title() == "Dashboard | LeadOps"
    assert page.locator("#site-name").inner_text() == "LeadOps"
    assert page.locator("#dash-intake h2").inner_text() == "Intake"
    assert page.locator("#dash-exceptions h2").inner_text() == "Exceptions"
    assert page.locator("#dash-routing h2").inner_text() == "Routing"
    assert page.locator("#dash-sla h2").inner_text() == "First-response SLAs"
    assert page.locator("#dash-later th[scope=row]").all_inner_texts() == ["Delivery"]
    assert screenshot(page, "admin-dashboard").stat().st_size > 0


def test_wrong_password_keeps_the_person_on_the_login_page_with_a_message(page):
    UserFactory(username="rita", is_staff=True)

    page.goto("/admin/login/")
    page.fill("#id_username", "rita")
    page.fill("#id_password", "wrong")
    page.click("input[type=submit]")

    assert "/admin/login/" in page.url
    assert (
        "Please enter the correct username and password" in page.locator(".errornote").inner_text()
    )
    screenshot(page, "admin-login-error")
