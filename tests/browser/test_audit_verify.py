import pytest
from django.contrib.auth.models import Group

from leadops.markets.models import REVOPS_GROUP
from tests.audit.conftest import record_events
from tests.browser.conftest import log_in, screenshot
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("worker_in_process")
def test_revops_verifies_the_audit_log_from_the_admin(page):
    # given some history and a RevOps member
    record_events(3)
    user = UserFactory.create(username="rita", is_staff=True)
    user.groups.add(Group.objects.get(name=REVOPS_GROUP))

    # when she opens the verification page and clicks "Verify now"
    log_in(page, "rita")
    page.goto("/admin/audit/auditevent/verify/")
    page.click("#verify-form input[type=submit]")

    # then the newest run has succeeded and says how far it verified
    row = page.locator("#verify-runs tbody tr").first
    assert "Succeeded" in row.inner_text()
    assert "OK:" in row.inner_text()
    screenshot(page, "audit-verify")
