"""Business time: when a market is open, and how much open time lies between two instants.

A calendar is a time zone, weekly intervals in that zone, and holiday dates. An interval belongs
to the local date it starts on and may cross midnight (end <= start means "until `end` the next
day"; 00:00-00:00 is the whole day). A holiday closes every interval that starts on it.

Everything is computed on real instants: local starts and ends are turned into UTC once per
date, so durations across a DST change are what a clock on the wall would measure. A local time
that does not exist (inside a spring-forward gap) is read with the offset before the change, i.e.
as the first real instant after the gap; an ambiguous one (fall-back) as its first occurrence.

Pure functions, no Django: property-tested with hypothesis.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Days in a row without any open time after which a calendar counts as never open: far enough
# to cross any realistic run of holidays, near enough to stop a closed calendar looping for ever.
SEARCH_DAYS = 366 * 2


class CalendarError(ValueError):
    """A calendar definition that cannot be used; the message names the line."""


@dataclass(frozen=True, order=True)
class WeeklyInterval:
    weekday: int  # 0 = Monday
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday].title()} {self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Calendar:
    timezone: str
    intervals: tuple[WeeklyInterval, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


ALWAYS_OPEN_UTC = Calendar(
    timezone="UTC",
    intervals=tuple(WeeklyInterval(day, time(0), time(0)) for day in range(7)),
)


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0: a nonexistent wall time gets the pre-transition offset (it lands just after the
    # gap); an ambiguous one is its first occurrence.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _day_spans(calendar: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    if day in calendar.holidays:
        return []
    zone = calendar.zone
    spans = []
    for interval in calendar.intervals:
        if interval.weekday != day.weekday():
            continue
        start = _local_instant(day, interval.start, zone)
        end_day = day + timedelta(days=1) if interval.crosses_midnight else day
        end = _local_instant(end_day, interval.end, zone)
        if end > start:
            spans.append((start, end))
    return spans


def open_spans(calendar: Calendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open spans (UTC, in order, overlaps merged) that end after `since`, clipped to start at
    it. Spans that merely touch are yielded separately, so an always-open calendar yields one
    span per day instead of never finishing its first."""
    since = since.astimezone(UTC)
    zone = calendar.zone
    # Start a day early: an interval that began yesterday may still be running.
    day = since.astimezone(zone).date() - timedelta(days=1)
    pending: tuple[datetime, datetime] | None = None
    idle_days = 0
    while idle_days <= SEARCH_DAYS:
        spans = sorted(_day_spans(calendar, day))
        idle_days = 0 if spans else idle_days + 1
        for start, end in spans:
            if end <= since:
                continue
            start = max(start, since)
            if pending is not None and start < pending[1]:
                pending = (pending[0], max(pending[1], end))
                continue
            if pending is not None:
                yield pending
            pending = (start, end)
        day += timedelta(days=1)
        # Anything starting after the end of this local day cannot merge with `pending`.
        horizon = _local_instant(day, time(0), zone)
        if pending is not None and pending[1] <= horizon:
            yield pending
            pending = None
    if pending is not None:
        yield pending


def is_open_at(calendar: Calendar, at: datetime) -> bool:
    for start, _end in open_spans(calendar, at):
        return start <= at.astimezone(UTC)
    return False


def business_seconds_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Open time in [start, end), in seconds; negative if end is before start."""
    if end < start:
        return -business_seconds_between(calendar, end, start)
    total = 0.0
    end = end.astimezone(UTC)
    for span_start, span_end in open_spans(calendar, start):
        if span_start >= end:
            break
        total += (min(span_end, end) - span_start).total_seconds()
    return total


def add_business_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant `minutes` of open time after `start` (the end of the last open stretch used:
    a deadline never lands at the start of the next open day)."""
    if minutes < 0:
        raise ValueError("add_business_minutes counts forward only")
    remaining = timedelta(minutes=minutes)
    if not remaining:
        return start.astimezone(UTC)
    for span_start, span_end in open_spans(calendar, start):
        length = span_end - span_start
        if remaining <= length:
            return span_start + remaining
        remaining -= length
    raise CalendarError(
        f"the calendar has no open time for {SEARCH_DAYS} days in a row after {start:%Y-%m-%d}"
    )


# --- the text form people edit and exports carry ------------------------------------------------

_LINE = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


def _clock(text: str, line: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(0)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise CalendarError(f"{line!r}: {text} is not a time of day")
    return time(hours, minutes)


def parse_hours(text: str) -> tuple[WeeklyInterval, ...]:
    """Lines such as `Mon-Fri 09:00-17:30`, `Sat 10:00-14:00`, `Fri 22:00-06:00` (crosses
    midnight), `Mon-Sun 00:00-24:00` (always open). Blank lines and `#` comments are ignored."""
    intervals: set[WeeklyInterval] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise CalendarError(
                f"line {number} {raw.strip()!r}: expected e.g. 'Mon-Fri 09:00-17:30'"
            )
        start = _clock(match["start"], raw.strip())
        end = _clock(match["end"], raw.strip())
        for part in match["days"].split(","):
            first, _, last = part.partition("-")
            if first not in WEEKDAYS or (last and last not in WEEKDAYS):
                raise CalendarError(f"line {number} {raw.strip()!r}: unknown day {part!r}")
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
            days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
            intervals.update(WeeklyInterval(day, start, end) for day in days)
    return tuple(sorted(intervals))


def _format_interval(interval: WeeklyInterval) -> str:
    whole_day = interval.start == interval.end == time(0)
    end = "24:00" if whole_day else f"{interval.end:%H:%M}"
    return f"{WEEKDAYS[interval.weekday].title()} {interval.start:%H:%M}-{end}"


def format_hours(intervals: tuple[WeeklyInterval, ...]) -> str:
    return "\n".join(_format_interval(interval) for interval in sorted(intervals))
