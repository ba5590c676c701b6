"""Business calendars: versions, holiday seeding, and the calendar in force for a market."""

from __future__ import annotations

from datetime import date

import holidays as holiday_data
from django.db import transaction

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.config import config_cached
from leadops.markets.business_time import (
    ALWAYS_OPEN_UTC,
    Calendar,
    CalendarError,
    format_hours,
    parse_hours,
)
from leadops.markets.models import CalendarVersion, Market

DEFAULT_HOURS = "Mon-Fri 09:00-17:00"


def holidays_from_package(countries: list[str], years: list[int]) -> list[list[str]]:
    """Holidays of `countries` ("DE", or "AU-NSW" for a subdivision) as [[iso date, name]]."""
    found: dict[str, str] = {}
    for code in countries:
        country, _, subdivision = code.strip().upper().partition("-")
        try:
            table = holiday_data.country_holidays(
                country, subdiv=subdivision or None, years=years, language="en_US"
            )
        except NotImplementedError as exc:
            raise CalendarError(f"the holidays package knows no country {code!r}") from exc
        for day, name in table.items():
            found.setdefault(day.isoformat(), name)
    return [[day, found[day]] for day in sorted(found)]


def parse_holidays(text: str) -> list[list[str]]:
    """Lines `2026-12-25 Christmas Day` → [["2026-12-25", "Christmas Day"]], names the bad line."""
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        day, _, name = line.partition(" ")
        try:
            date.fromisoformat(day)
        except ValueError:
            raise CalendarError(
                f"holiday line {number} {line!r}: start with a date like 2026-12-25"
            ) from None
        rows.append([day, name.strip() or "Holiday"])
    return sorted(rows)


def format_holidays(rows: list[list[str]]) -> str:
    return "\n".join(f"{day} {name}" for day, name in rows)


@transaction.atomic
def calendar_version_create(
    *,
    actor: Actor,
    market: Market,
    hours: str,
    holidays: list[list[str]],
    note: str,
    holiday_source: str = "",
) -> CalendarVersion:
    """Put a new calendar version in force for `market` (versions are never edited)."""
    intervals = parse_hours(hours)
    for day, _name in holidays:
        date.fromisoformat(day)
    latest = CalendarVersion.objects.filter(market=market).order_by("-version").first()
    version = CalendarVersion.objects.create(
        market=market,
        version=(latest.version + 1) if latest else 1,
        timezone=market.timezone,
        hours=format_hours(intervals),
        holidays=sorted(holidays),
        holiday_source=holiday_source,
        note=note,
        created_by=actor_ref(actor).label,
    )
    audit_record(
        actor=actor,
        action="calendar.versioned",
        target=version,
        market_id=market.id,
        data={"version": version.version, "hours": version.hours, "holidays": len(holidays)},
    )
    return version


def calendar_of(version: CalendarVersion | None) -> Calendar:
    if version is None:
        return ALWAYS_OPEN_UTC
    return Calendar(
        timezone=version.timezone,
        intervals=parse_hours(version.hours),
        holidays=frozenset(date.fromisoformat(day) for day, _ in version.holidays),
    )


def calendar_version_current(market: Market) -> CalendarVersion | None:
    return CalendarVersion.objects.filter(market=market).order_by("-version").first()


def calendars_in_force() -> dict[int, Calendar]:
    """Every market's calendar in force by market id (markets without one are absent: always
    open UTC), read once per config change (core/config.py)."""
    return config_cached("calendars", _calendars_load)


def _calendars_load() -> dict[int, Calendar]:
    with system_context("config_cache"):
        newest = CalendarVersion.objects.order_by("market_id", "-version").distinct("market_id")
        return {version.market_id: calendar_of(version) for version in newest}


def market_calendar(market: Market) -> Calendar:
    """The calendar in force: the newest version, or always-open UTC when a market has none
    (UNASSIGNED, until someone gives it hours)."""
    return calendar_of(calendar_version_current(market))
