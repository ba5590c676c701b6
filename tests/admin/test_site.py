import pytest

from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_is_branded_leadops(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert "<title>Log in | LeadOps</title>" in response.content.decode()


@pytest.mark.parametrize(
    ("user_kind", "expected_status"),
    [("anonymous", 302), ("not_staff", 302), ("staff", 200), ("superuser", 200)],
)
def test_dashboard_permission_matrix(client, user_kind, expected_status):
    # given
    if user_kind != "anonymous":
        user = UserFactory(is_staff=user_kind != "not_staff", is_superuser=user_kind == "superuser")
        assert client.login(username=user.username, password=TEST_PASSWORD)

    # when
    response = client.get("/admin/dashboard/")

    # then
    assert response.status_code == expected_status
    if expected_status == 302:
        assert response["Location"].startswith("/admin/login/")


def test_dashboard_shows_its_sections_and_says_which_come_later(client, staff_user):
    client.force_login(staff_user)

    html = client.get("/admin/dashboard/").content.decode()

    sections = (
        "<h2>Intake</h2>",
        "<h2>Exceptions</h2>",
        "<h2>Routing</h2>",
        "<h2>First-response SLAs</h2>",
        "Coming with later",
    )
    for section in sections:
        assert section in html
    for later in ("Delivery",):
        assert f'<th scope="row">{later}</th>' in html
    assert "No data yet" not in html


def test_root_redirects_to_admin(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
