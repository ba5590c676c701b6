"""Traps a new user fell into: a missing cache table, 500s on posted ids, half-saved formsets."""

import pytest
from django.core.cache import cache
from django.db import connection

from leadops.core.access import market_context, system_context
from leadops.markets.models import TeamMember
from leadops.markets.teams import team_ensure
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db


def test_migrate_alone_creates_the_cache_table_the_api_needs(client):
    # the test database was made by `migrate` only (tests/conftest.py runs no createcachetable)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('leadops_cache') IS NOT NULL")
        assert cursor.fetchone()[0] is True

    cache.set("trap:probe", 42, timeout=60)

    assert cache.get("trap:probe") == 42
    # and an API request, whose throttle keeps its counts in the cache, is answered
    assert client.get("/api/v1/markets").status_code in (401, 403)


@pytest.mark.parametrize("posted", [{"version": "999999"}, {"version": "abc"}, {}])
def test_a_posted_id_that_does_not_exist_is_404_not_500(client, revops_user, posted):
    client.force_login(revops_user)

    response = client.post("/admin/leads/lead/retag/", posted)

    assert response.status_code == 404


def test_publishing_a_version_that_does_not_exist_is_404(client, revops_user):
    client.force_login(revops_user)

    response = client.post("/admin/markets/markettableversion/999999/publish/")

    assert response.status_code == 404


def member_row(index, user, hours=""):
    return {
        f"members-{index}-user": str(user.pk),
        f"members-{index}-is_active": "on",
        f"members-{index}-weight": "1",
        f"members-{index}-cap_open": "",
        f"members-{index}-cap_daily": "",
        f"members-{index}-hours": hours,
        f"members-{index}-hubspot_owner_id": "",
        f"members-{index}-salesforce_user_id": "",
        f"members-{index}-slack_handle": "",
        f"members-{index}-teams_handle": "",
        f"members-{index}-id": "",
    }


def test_a_team_save_with_one_refused_member_saves_no_member_and_says_which(
    client, revops_user, market_a
):
    # given a team and two new members, the second with hours that are no hours
    with market_context(market_ids=[market_a.id]):
        team = team_ensure(actor=SYSTEM, market=market_a, name="Team Alpha")
    good, bad = UserFactory.create(username="good"), UserFactory.create(username="bad")
    client.force_login(revops_user)
    data = {
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        **member_row(0, good),
        **member_row(1, bad, hours="Mon-Fri 25:00-26:00"),
    }

    # when RevOps saves
    response = client.post(f"/admin/markets/team/{team.pk}/change/", data)

    # then the form comes back with the error on the second row, and nobody was added
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing of this change was saved" in html
    assert "25:00" in html  # the person's input is kept
    with system_context("tests"):
        assert not TeamMember.objects.filter(team=team).exists()

    # and once corrected, both are saved together
    data["members-1-hours"] = "Mon-Fri 09:00-17:00"
    saved = client.post(f"/admin/markets/team/{team.pk}/change/", data)
    assert saved.status_code == 302
    with system_context("tests"):
        assert TeamMember.objects.filter(team=team).count() == 2


def test_rows_added_on_a_draft_table_page_are_saved_through_the_service(
    client, revops_user, market_a
):
    from leadops.markets.market_table import market_table_draft_create
    from leadops.markets.models import MarketTableRow

    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="draft")
    client.force_login(revops_user)
    data = {
        "note": "draft",
        "rows-TOTAL_FORMS": "2",
        "rows-INITIAL_FORMS": "0",
        "rows-MIN_NUM_FORMS": "0",
        "rows-MAX_NUM_FORMS": "1000",
    }
    for index, country in enumerate(["DE", "AT"]):
        data.update(
            {
                f"rows-{index}-kind": "country",
                f"rows-{index}-key": country,
                f"rows-{index}-country": country,
                f"rows-{index}-market": str(market_a.pk),
                f"rows-{index}-id": "",
            }
        )

    response = client.post(f"/admin/markets/markettableversion/{draft.pk}/change/", data)

    assert response.status_code == 302
    with system_context("tests"):
        keys = sorted(MarketTableRow.objects.filter(version=draft).values_list("key", flat=True))
    assert keys == ["AT", "DE"]
