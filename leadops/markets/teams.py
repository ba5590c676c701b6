"""Teams, members, out-of-office, and whether a member can take a lead right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from audit.services import audit_record
from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.markets.business_time import Calendar, is_open_at, parse_hours
from leadops.markets.calendars import market_calendar
from leadops.markets.models import Market, OutOfOffice, Team, TeamMember

MEMBER_FIELDS = [
    "is_active",
    "weight",
    "cap_open",
    "cap_daily",
    "hours",
    "hubspot_owner_id",
    "salesforce_user_id",
    "slack_handle",
    "teams_handle",
]


@transaction.atomic
def team_ensure(*, actor: Actor, market: Market, name: str) -> Team:
    team, created = Team.objects.get_or_create(market=market, name=name)
    if created:
        audit_record(
            actor=actor,
            action="team.created",
            target=team,
            market_id=market.id,
            data={"name": name},
        )
    return team


@transaction.atomic
def team_manager_set(*, actor: Actor, team: Team, manager: User | None) -> Team:
    """Name the manager told when a lead of the team breaches its SLA (None: nobody). The
    manager must hold the team's market, or the notices about its leads would be unreadable."""
    from leadops.markets.selectors import market_access_for

    team = Team.objects.select_for_update().get(pk=team.pk)
    if manager is not None and (
        not manager.is_active or team.market_id not in market_access_for(manager).market_ids
    ):
        raise ApplicationError(
            f"{manager.get_username()} does not hold market {team.market.code}: they could not"
            " read the notices. Grant the market first.",
            code="manager_without_market",
        )
    before = team.manager_id
    if before == (manager.pk if manager else None):
        return team
    team.manager = manager
    team.save(update_fields=["manager"])
    audit_record(
        actor=actor,
        action="team.manager_set",
        target=team,
        market_id=team.market_id,
        data={"from": before, "to": manager.pk if manager else None},
    )
    return team


@transaction.atomic
def team_member_set(*, actor: Actor, team: Team, user: User, **fields: Any) -> TeamMember:
    """Add `user` to `team` or update their settings; only the fields given change."""
    unknown = set(fields) - set(MEMBER_FIELDS)
    if unknown:
        raise TypeError(f"unknown member fields: {sorted(unknown)}")
    member = TeamMember.objects.filter(team=team, user=user).first()
    created = member is None
    if member is None:
        member = TeamMember(team=team, user=user, market_id=team.market_id)
    changed = {k: v for k, v in fields.items() if getattr(member, k) != v}
    for key, value in changed.items():
        setattr(member, key, value)
    if member.hours:
        parse_hours(member.hours)
    if created or changed:
        member.full_clean()
        member.save()
        audit_record(
            actor=actor,
            action="team_member.added" if created else "team_member.updated",
            target=member,
            market_id=team.market_id,
            data={"team": team.name, "user": user.username, "changed": sorted(changed)},
        )
    return member


@transaction.atomic
def out_of_office_add(
    *, actor: Actor, member: TeamMember, starts_at: datetime, ends_at: datetime, note: str = ""
) -> OutOfOffice:
    absence = OutOfOffice(
        member=member, market_id=member.market_id, starts_at=starts_at, ends_at=ends_at, note=note
    )
    absence.full_clean()
    absence.save()
    audit_record(
        actor=actor,
        action="out_of_office.added",
        target=absence,
        market_id=member.market_id,
        data={"member": member.pk, "from": starts_at.isoformat(), "to": ends_at.isoformat()},
    )
    return absence


@transaction.atomic
def out_of_office_end(*, actor: Actor, absence: OutOfOffice, at: datetime) -> OutOfOffice:
    """End a period early (someone came back). Periods are never deleted: routing decisions and
    backtests must still see who was away when; one that has not started ends as it starts."""
    absence = OutOfOffice.objects.select_for_update().get(pk=absence.pk)
    if absence.ends_at <= at:
        return absence
    before = absence.ends_at
    absence.ends_at = max(at, absence.starts_at + timedelta(seconds=1))
    absence.save(update_fields=["ends_at"])
    audit_record(
        actor=actor,
        action="out_of_office.ended",
        target=absence,
        market_id=absence.market_id,
        data={
            "member": absence.member_id,
            "was": before.isoformat(),
            "to": absence.ends_at.isoformat(),
        },
    )
    return absence


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str  # why not, in words a routing trace can show


def hours_calendar(hours: str, market_calendar: Calendar, market_zone: str) -> Calendar:
    """A member's calendar: their own hours (with the market's holidays, in the market's zone)
    or, without hours of their own, the market's calendar."""
    if not hours.strip():
        return market_calendar
    zone = market_calendar.timezone if market_calendar.timezone != "UTC" else market_zone
    return Calendar(timezone=zone, intervals=parse_hours(hours), holidays=market_calendar.holidays)


def member_calendar(member: TeamMember) -> Calendar:
    market = member.team.market
    return hours_calendar(member.hours, market_calendar(market), market.timezone)


def is_available(member: TeamMember, at: datetime) -> Availability:
    """Active, inside working hours (their own or the market's) and not out of office."""
    if not member.is_active:
        return Availability(False, "inactive")
    if member.absences.filter(starts_at__lte=at, ends_at__gt=at).exists():
        return Availability(False, "out of office")
    if not is_open_at(member_calendar(member), at):
        return Availability(False, "outside working hours")
    return Availability(True, "available")
