"""The business-time library: named cases people can check by hand, and properties."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadops.markets.business_time import (
    ALWAYS_OPEN_UTC,
    Calendar,
    CalendarError,
    WeeklyInterval,
    add_business_minutes,
    business_seconds_between,
    format_hours,
    is_open_at,
    parse_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")


def cal(zone, hours, holidays=()):
    return Calendar(timezone=zone, intervals=parse_hours(hours), holidays=frozenset(holidays))


def local(zone, year, month, day, hour, minute):
    return datetime(year, month, day, hour, minute, tzinfo=zone)


OFFICE_BERLIN = cal("Europe/Berlin", "Mon-Fri 09:00-17:00")
OFFICE_NEW_YORK = cal("America/New_York", "Mon-Fri 08:00-18:00")
NIGHTS_BERLIN = cal("Europe/Berlin", "Mon-Sun 22:00-06:00")


# --- named cases -------------------------------------------------------------------------------


def test_start_outside_hours_begins_at_the_next_opening():
    # Monday 07:00 Berlin, 30 business minutes → 09:30 the same day
    due = add_business_minutes(OFFICE_BERLIN, local(BERLIN, 2026, 11, 23, 7, 0), 30)
    assert due == local(BERLIN, 2026, 11, 23, 9, 30)


def test_friday_afternoon_rolls_over_the_weekend():
    due = add_business_minutes(OFFICE_BERLIN, local(BERLIN, 2026, 11, 27, 16, 0), 120)
    assert due == local(BERLIN, 2026, 11, 30, 10, 0)


def test_a_monday_holiday_is_skipped():
    # Easter Monday 2026-04-06 is a holiday in Germany
    easter = cal("Europe/Berlin", "Mon-Fri 09:00-17:00", [date(2026, 4, 6)])
    due = add_business_minutes(easter, local(BERLIN, 2026, 4, 3, 16, 30), 60)
    assert due == local(BERLIN, 2026, 4, 7, 9, 30)
    assert not is_open_at(easter, local(BERLIN, 2026, 4, 6, 12, 0))


def test_spring_forward_in_berlin_counts_real_hours():
    # 2026-03-29: clocks jump 02:00 → 03:00. A night shift 22:00-06:00 is 7 real hours.
    start = local(BERLIN, 2026, 3, 28, 22, 0)
    assert business_seconds_between(NIGHTS_BERLIN, start, start + timedelta(hours=12)) == 7 * 3600
    assert add_business_minutes(NIGHTS_BERLIN, start, 7 * 60) == local(BERLIN, 2026, 3, 29, 6, 0)


def test_fall_back_in_berlin_counts_real_hours():
    # 2026-10-25: clocks go 03:00 → 02:00. The same shift is 9 real hours.
    start = local(BERLIN, 2026, 10, 24, 22, 0)
    assert business_seconds_between(NIGHTS_BERLIN, start, start + timedelta(hours=12)) == 9 * 3600


def test_spring_forward_in_new_york():
    # 2026-03-08 02:00 → 03:00 on a Sunday; Monday's office day is a normal 10 hours, and a
    # deadline set Friday evening lands Monday morning, Eastern daylight time.
    due = add_business_minutes(OFFICE_NEW_YORK, local(NEW_YORK, 2026, 3, 6, 17, 0), 120)
    assert due == local(NEW_YORK, 2026, 3, 9, 9, 0)
    assert due.astimezone(UTC).hour == 13  # EDT, UTC-4


def test_fall_back_in_new_york():
    due = add_business_minutes(OFFICE_NEW_YORK, local(NEW_YORK, 2026, 10, 30, 17, 0), 120)
    assert due == local(NEW_YORK, 2026, 11, 2, 9, 0)
    assert due.astimezone(UTC).hour == 14  # EST, UTC-5


def test_southern_hemisphere_sydney_dst_starts_in_october():
    # 2026-10-04 02:00 → 03:00 in Sydney. Office hours Monday 5 October are 09:00-17:00 AEDT.
    sydney = cal("Australia/Sydney", "Mon-Fri 09:00-17:00", [date(2026, 10, 5)])  # Labour Day
    due = add_business_minutes(sydney, local(SYDNEY, 2026, 10, 2, 16, 0), 120)
    assert due == local(SYDNEY, 2026, 10, 6, 10, 0)
    assert due.astimezone(SYDNEY).utcoffset() == timedelta(hours=11)


def test_interval_crossing_midnight_belongs_to_its_start_day():
    fridays = cal("Europe/Berlin", "Fri 22:00-02:00")
    assert is_open_at(fridays, local(BERLIN, 2026, 11, 28, 1, 0))  # Saturday 01:00
    assert not is_open_at(fridays, local(BERLIN, 2026, 11, 29, 1, 0))  # Sunday 01:00


def test_always_open_utc_is_plain_wall_clock():
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert add_business_minutes(ALWAYS_OPEN_UTC, start, 60 * 50) == start + timedelta(hours=50)


def test_overlapping_intervals_are_not_counted_twice():
    overlapping = cal("UTC", "Mon 09:00-12:00\nMon 11:00-13:00")
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert business_seconds_between(overlapping, monday, monday + timedelta(days=1)) == 4 * 3600


def test_a_calendar_with_no_open_time_says_so():
    never = Calendar(timezone="UTC", intervals=())
    with pytest.raises(CalendarError, match="no open time"):
        add_business_minutes(never, datetime(2026, 1, 1, tzinfo=UTC), 1)


def test_hours_text_round_trips_and_names_bad_lines():
    text = "Mon-Fri 09:00-17:30\nSat 10:00-14:00\nSun 00:00-24:00"
    assert parse_hours(format_hours(parse_hours(text))) == parse_hours(text)
    assert WeeklyInterval(6, time(0), time(0)) in parse_hours(text)
    with pytest.raises(CalendarError, match="line 2 'Funday 09:00-10:00'"):
        parse_hours("Mon 09:00-10:00\nFunday 09:00-10:00")
    with pytest.raises(CalendarError, match="25:00 is not a time of day"):
        parse_hours("Mon 09:00-25:00")


# --- properties --------------------------------------------------------------------------------

zones = st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"])
clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
intervals = st.lists(
    st.builds(WeeklyInterval, st.integers(0, 6), clock, clock), min_size=1, max_size=6
)
calendars = st.builds(
    lambda zone, ivs, hols: Calendar(zone, tuple(ivs), frozenset(hols)),
    zones,
    intervals,
    st.sets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=10),
)
# hypothesis takes naive bounds and attaches the time zone itself.
instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))  # noqa: DTZ001


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(0, 60 * 24 * 10))
def test_adding_minutes_then_measuring_gives_the_minutes_back(calendar, start, minutes):
    due = add_business_minutes(calendar, start, minutes)
    assert due >= start
    assert business_seconds_between(calendar, start, due) == pytest.approx(minutes * 60)


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(1, 60 * 24 * 5))
def test_the_deadline_is_reached_inside_open_time(calendar, start, minutes):
    due = add_business_minutes(calendar, start, minutes)
    assert is_open_at(calendar, due - timedelta(seconds=1))


@settings(max_examples=150, deadline=None)
@given(calendars, instants, st.integers(0, 10**6), st.integers(0, 10**6))
def test_business_time_adds_up_over_consecutive_stretches(calendar, a, first, second):
    b = a + timedelta(seconds=first)
    c = b + timedelta(seconds=second)
    whole = business_seconds_between(calendar, a, c)
    parts = business_seconds_between(calendar, a, b) + business_seconds_between(calendar, b, c)
    assert whole == pytest.approx(parts)
    assert 0 <= whole <= (c - a).total_seconds()
