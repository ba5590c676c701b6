import pytest

from leadops.core.access import market_context
from leadops.markets.market_table import market_table_draft_create, market_table_row_add
from leadops.markets.teams import team_ensure, team_member_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

PAGES = {
    "calendars": "/admin/markets/calendarversion/",
    "tables": "/admin/markets/markettableversion/",
    "teams": "/admin/markets/team/",
    "absences": "/admin/markets/outofoffice/",
}


@pytest.fixture
def organisation(market_a, market_b):
    with market_context(market_ids=[market_a.id, market_b.id]):
        for market, name in [(market_a, "Team Alpha"), (market_b, "Team Bravo")]:
            team = team_ensure(actor=SYSTEM, market=market, name=name)
            team_member_set(actor=SYSTEM, team=team, user=UserFactory.create(), weight=1)
        draft = market_table_draft_create(actor=SYSTEM, note="draft one")
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="DE", country="DE", market=market_a
        )
    return draft


@pytest.mark.parametrize(
    ("who", "status", "sees_b", "can_add"),
    [
        ("anonymous", 302, False, False),
        ("staff_no_market", 403, False, False),
        ("manager_a", 200, False, False),
        ("revops", 200, True, True),
        ("superuser", 200, True, True),
    ],
)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_organisation_pages_permission_matrix(
    client, login_as, organisation, page, who, status, sees_b, can_add
):
    login_as(who)

    response = client.get(PAGES[page])
    html = response.content.decode()

    assert response.status_code == status
    if page == "teams" and status == 200:
        assert "Team Alpha" in html
        assert ("Team Bravo" in html) is sees_b
    if status == 200:
        assert (f'href="{PAGES[page]}add/"' in html) is can_add


def test_calendar_page_shows_the_next_open_intervals(client, revops_user, market_a):
    client.force_login(revops_user)
    from leadops.markets.calendars import calendar_version_current

    with market_context(market_ids=[market_a.id]):
        version = calendar_version_current(market_a)
    assert version is not None

    html = client.get(f"/admin/markets/calendarversion/{version.pk}/change/").content.decode()

    assert "next open intervals" in html.lower()
    assert html.count("<li>") >= 8
    assert "09:00" in html


def test_revops_publishes_a_draft_from_its_page(client, revops_user, organisation):
    client.force_login(revops_user)

    response = client.post(
        f"/admin/markets/markettableversion/{organisation.pk}/publish/", follow=True
    )

    organisation.refresh_from_db()
    assert organisation.status == "published"
    assert "is published" in response.content.decode()


def test_manager_cannot_publish(client, manager_a, organisation):
    client.force_login(manager_a)

    client.post(f"/admin/markets/markettableversion/{organisation.pk}/publish/")

    organisation.refresh_from_db()
    assert organisation.status == "draft"


def test_a_published_version_is_read_only_and_offers_a_new_draft_from_it(
    client, revops_user, organisation
):
    from leadops.core.access import system_context
    from leadops.markets.market_table import market_table_publish
    from leadops.markets.models import MarketTableVersion

    with system_context("tests"):
        published = market_table_publish(actor=SYSTEM, version=organisation)
    client.force_login(revops_user)
    page = client.get(f"/admin/markets/markettableversion/{published.pk}/change/")
    html = page.content.decode()

    made = client.post(
        f"/admin/markets/markettableversion/{published.pk}/new-draft/",
        {"note": "Benelux moves"},
    )

    assert 'name="_save"' not in html  # no Save on a frozen version
    assert 'id="new-draft-form"' in html
    with system_context("tests"):
        draft = MarketTableVersion.objects.get(status="draft")
        assert draft.note == "Benelux moves"
        assert [r.key for r in draft.rows.all()] == [r.key for r in published.rows.all()]
    assert made["Location"] == f"/admin/markets/markettableversion/{draft.pk}/change/"


def test_the_calendar_in_force_is_marked(client, revops_user, market_a):
    from leadops.core.access import market_context
    from leadops.markets import calendars

    with market_context(market_ids=[market_a.id]):
        calendars.calendar_version_create(
            actor=SYSTEM, market=market_a, hours="Mon-Fri 10:00-16:00", holidays=[], note="v2"
        )
    client.force_login(revops_user)

    html = client.get("/admin/markets/calendarversion/", {"market__id__exact": market_a.pk})
    rows = html.content.decode().split('<tr class="')[1:]

    in_force = [row for row in rows if 'alt="True"' in row]
    assert len(in_force) == 1
    assert ">2<" in in_force[0] or 'field-version">2' in in_force[0]
