"""What routing reads on every call, read once per config change (core/config.py): the
published versions compiled, the teams with their members and calendars, absences to come.

Loads (open leads, today's assignments) change with every lead and are never cached: the
assignment step reads them under lock (routing/assign.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from leadops.core.access import system_context
from leadops.core.config import config_cached
from leadops.markets.business_time import ALWAYS_OPEN_UTC, Calendar, is_open_at
from leadops.markets.calendars import calendars_in_force
from leadops.markets.models import OutOfOffice, Team, TeamMember
from leadops.markets.selectors import markets_by_id
from leadops.markets.teams import hours_calendar
from routing.engine import Compiled, compile_version
from routing.models import RuleVersion


@dataclass(frozen=True)
class Published:
    version_id: int
    number: int
    market_id: int | None
    compiled: Compiled


@dataclass(frozen=True)
class Member:
    id: int
    user_id: int
    username: str
    is_active: bool
    weight: int
    cap_open: int | None
    cap_daily: int | None
    calendar: Calendar
    absences: tuple[tuple[datetime, datetime], ...]

    def away_at(self, at: datetime) -> bool:
        return any(start <= at < end for start, end in self.absences)


@dataclass(frozen=True)
class TeamInfo:
    id: int
    market_id: int
    name: str
    members: tuple[Member, ...] = field(default_factory=tuple)

    @property
    def capped(self) -> bool:
        return any(m.cap_open is not None or m.cap_daily is not None for m in self.members)


def published_versions() -> dict[int | None, Published]:
    """The version in force per market id (None: the global fallback), compiled once."""
    return config_cached("routing.published", _published_load)


def _published_load() -> dict[int | None, Published]:
    with system_context("config_cache"):
        rows = RuleVersion.objects.filter(state=RuleVersion.State.PUBLISHED).values_list(
            "id", "number", "market_id", "content"
        )
        return {
            market_id: Published(pk, number, market_id, compile_version(content))
            for pk, number, market_id, content in rows
        }


def teams_by_name() -> dict[tuple[int, str], TeamInfo]:
    """Every team by (market id, name), with its members."""
    return config_cached("routing.teams", _teams_load)


def _teams_load() -> dict[tuple[int, str], TeamInfo]:
    calendars = calendars_in_force()
    markets = markets_by_id()
    # Absences that ended are history; only those still to end matter to live routing (the
    # cache is re-read at the next config change, and an ended period only grows staler).
    since = timezone.now() - timedelta(days=1)
    with system_context("config_cache"):
        away: dict[int, list[tuple[datetime, datetime]]] = {}
        for member_id, start, end in OutOfOffice.objects.filter(ends_at__gt=since).values_list(
            "member_id", "starts_at", "ends_at"
        ):
            away.setdefault(member_id, []).append((start, end))
        members: dict[int, list[Member]] = {}
        for row in TeamMember.objects.values(
            "id",
            "team_id",
            "market_id",
            "user_id",
            "user__username",
            "is_active",
            "weight",
            "cap_open",
            "cap_daily",
            "hours",
        ).order_by("id"):
            market = markets.get(row["market_id"])
            calendar = hours_calendar(
                row["hours"],
                calendars.get(row["market_id"], ALWAYS_OPEN_UTC),
                market.timezone if market else "UTC",
            )
            members.setdefault(row["team_id"], []).append(
                Member(
                    id=row["id"],
                    user_id=row["user_id"],
                    username=row["user__username"],
                    is_active=row["is_active"],
                    weight=max(1, row["weight"]),
                    cap_open=row["cap_open"],
                    cap_daily=row["cap_daily"],
                    calendar=calendar,
                    absences=tuple(sorted(away.get(row["id"], []))),
                )
            )
        return {
            (team.market_id, team.name): TeamInfo(
                team.id, team.market_id, team.name, tuple(members.get(team.id, []))
            )
            for team in Team.objects.all()
        }


def market_calendar_by_id(market_id: int) -> Calendar:
    return calendars_in_force().get(market_id, ALWAYS_OPEN_UTC)


def market_is_open(code: str | None, at: datetime) -> bool:
    """Whether the market named `code` is open at `at` (a market without a calendar always is;
    an unknown one never is)."""
    for market_id, market in markets_by_id().items():
        if market.code == code:
            return is_open_at(market_calendar_by_id(market_id), at)
    return False
