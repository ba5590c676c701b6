from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from leadops.core.access import market_context, system_context
from leadops.kinds import note_flag
from leadops.markets.calendars import (
    calendar_version_create,
    holidays_from_package,
    market_calendar,
)
from leadops.markets.models import Market
from leadops.markets.teams import is_available, out_of_office_add, team_ensure, team_member_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db


def test_holidays_are_seeded_from_the_package_for_countries_and_subdivisions():
    rows = holidays_from_package(["DE", "AU-NSW"], [2026])

    days = dict(rows)
    assert days["2026-04-06"] == "Easter Monday"
    assert days["2026-01-26"] == "Australia Day"


def test_a_new_calendar_version_is_in_force_and_the_old_one_kept(market_a):
    with market_context(market_ids=[market_a.id]):
        second = calendar_version_create(
            actor=SYSTEM,
            market=market_a,
            hours="Mon-Sat 08:00-20:00",
            holidays=[["2026-12-24", "Christmas Eve"]],
            note="longer hours",
        )
        calendar = market_calendar(market_a)

    assert second.version == 2
    assert calendar.timezone == "Europe/Berlin"
    assert len(calendar.intervals) == 6


def test_queue_due_time_runs_in_the_market_business_calendar(notes, market_a):
    # given DE office hours and a note flagged on Friday 16:00 Berlin (15:00 UTC), 4h recovery
    import time_machine

    with time_machine.travel(datetime(2026, 11, 27, 15, 0, tzinfo=UTC), tick=False):
        item = note_flag(actor=SYSTEM, note=notes["a"], reason="x").item

    # then one hour counts on Friday and three on Monday: due 12:00 Berlin = 11:00 UTC
    assert item.due_at == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_unassigned_recovery_is_wall_clock(db):
    import time_machine

    from leadops.queue.services import exception_file

    with system_context("tests"):
        unassigned = Market.objects.get(code="UNASSIGNED")
    start = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # a Saturday night
    with time_machine.travel(start, tick=False):
        item = exception_file(
            actor=SYSTEM, kind="notes_conflict", market=unassigned, target=unassigned, summary="x"
        ).item

    assert item.due_at == start + timedelta(days=1)


@pytest.fixture
def member(market_a):
    user = UserFactory.create(username="sam")
    with market_context(market_ids=[market_a.id]):
        team = team_ensure(actor=SYSTEM, market=market_a, name="Inbound")
        return team_member_set(actor=SYSTEM, team=team, user=user, weight=2)


MONDAY_NOON_BERLIN = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def test_available_inside_market_hours_only(member, market_a):
    with market_context(market_ids=[market_a.id]):
        assert is_available(member, MONDAY_NOON_BERLIN).available
        evening = is_available(member, MONDAY_NOON_BERLIN + timedelta(hours=8))
    assert (evening.available, evening.reason) == (False, "outside working hours")


def test_own_hours_replace_the_market_hours(member, market_a):
    with market_context(market_ids=[market_a.id]):
        team_member_set(actor=SYSTEM, team=member.team, user=member.user, hours="Mon 18:00-22:00")
        member.refresh_from_db()
        assert not is_available(member, MONDAY_NOON_BERLIN).available
        assert is_available(member, MONDAY_NOON_BERLIN + timedelta(hours=8)).available


def test_out_of_office_and_inactive_members_are_unavailable(member, market_a):
    with market_context(market_ids=[market_a.id]):
        out_of_office_add(
            actor=SYSTEM,
            member=member,
            starts_at=MONDAY_NOON_BERLIN - timedelta(hours=1),
            ends_at=MONDAY_NOON_BERLIN + timedelta(hours=1),
        )
        away = is_available(member, MONDAY_NOON_BERLIN)
        team_member_set(actor=SYSTEM, team=member.team, user=member.user, is_active=False)
        member.refresh_from_db()
        inactive = is_available(member, MONDAY_NOON_BERLIN + timedelta(hours=2))

    assert away.reason == "out of office"
    assert inactive.reason == "inactive"


def test_members_are_scoped_by_market_in_the_database(member, market_a, market_b):
    with market_context(market_ids=[market_b.id]), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM markets_teammember")
        assert cursor.fetchone()[0] == 0
