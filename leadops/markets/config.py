"""Markets as code: one JSON document for markets, calendars, the market table and teams.

Export writes codes and usernames, never database ids, with sorted keys, so export → import into
an empty database → export gives the same bytes. Import checks the whole document first and
applies it in one transaction through the services, changing only what differs: importing the
same file twice changes nothing the second time.

    {"format": "leadops-markets/1",
     "markets": [{"code", "name", "timezone",
                  "calendar": {"hours", "holidays": [[date, name]], "holiday_source"},
                  "teams": [{"name", "members": [{"username", "is_active", "weight",
                             "cap_open", "cap_daily", "hours", "hubspot_owner_id",
                             "salesforce_user_id", "slack_handle", "teams_handle",
                             "out_of_office": [{"starts_at", "ends_at", "note"}]}]}]}],
     "market_table": {"note", "rows": [{"kind", "key", "country", "market"}]} | null}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.markets import calendars, market_table, teams
from leadops.markets.business_time import CalendarError, format_hours, parse_hours
from leadops.markets.models import Market, MarketTableRow, OutOfOffice, Team, TeamMember
from leadops.markets.services import market_create, market_update

FORMAT = "leadops-markets/1"
ROW_KINDS = {choice.value for choice in MarketTableRow.Kind}


class ConfigError(ValueError):
    """The document is not valid; the message starts with the JSON path of the first problem."""


def _member(member: TeamMember) -> dict[str, Any]:
    data: dict[str, Any] = {key: getattr(member, key) for key in teams.MEMBER_FIELDS}
    data["username"] = member.user.username
    data["out_of_office"] = [
        {"starts_at": a.starts_at.isoformat(), "ends_at": a.ends_at.isoformat(), "note": a.note}
        for a in member.absences.order_by("starts_at", "ends_at")
    ]
    return data


def config_export() -> str:
    with system_context("markets_export"):
        markets = []
        for market in Market.objects.order_by("code"):
            current = calendars.calendar_version_current(market)
            markets.append(
                {
                    "code": market.code,
                    "name": market.name,
                    "timezone": market.timezone,
                    "calendar": None
                    if current is None
                    else {
                        "hours": current.hours,
                        "holidays": current.holidays,
                        "holiday_source": current.holiday_source,
                    },
                    "teams": [
                        {
                            "name": team.name,
                            "members": [
                                _member(m)
                                for m in team.members.select_related("user").order_by(
                                    "user__username"
                                )
                            ],
                        }
                        for team in Team.objects.filter(market=market).order_by("name")
                    ],
                }
            )
        published = market_table.market_table_published()
        table = None
        if published is not None:
            rows = sorted(
                (
                    {"kind": r.kind, "key": r.key, "country": r.country, "market": r.market.code}
                    for r in published.rows.select_related("market")
                ),
                key=lambda r: (r["kind"], r["country"], r["key"], r["market"]),
            )
            table = {"note": published.note, "rows": rows}
    document = {"format": FORMAT, "markets": markets, "market_table": table}
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --- validation ---------------------------------------------------------------------------------


def _need(obj: Any, key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ConfigError(f"{path}.{key}: missing")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}.{key}: expected {getattr(kind, '__name__', kind)}")
    return value


def config_validate(document: Any) -> None:
    """Raise ConfigError naming the first problem; checks everything import will rely on."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"$.format: expected {FORMAT!r}")
    codes = set()
    usernames = set()
    for i, market in enumerate(_need(document, "markets", list, "$")):
        path = f"$.markets[{i}]"
        code = _need(market, "code", str, path)
        if code in codes:
            raise ConfigError(f"{path}.code: {code} appears twice")
        codes.add(code)
        for key in ("name", "timezone"):
            _need(market, key, str, path)
        calendar = market.get("calendar")
        if calendar is not None:
            try:
                parse_hours(_need(calendar, "hours", str, f"{path}.calendar"))
                for j, row in enumerate(_need(calendar, "holidays", list, f"{path}.calendar")):
                    if not (isinstance(row, list) and len(row) == 2):
                        raise CalendarError(f"holidays[{j}]: expected [date, name]")
                    datetime.fromisoformat(row[0])
            except (CalendarError, ValueError) as exc:
                raise ConfigError(f"{path}.calendar: {exc}") from exc
        for t, team in enumerate(_need(market, "teams", list, path)):
            team_path = f"{path}.teams[{t}]"
            _need(team, "name", str, team_path)
            for m, member in enumerate(_need(team, "members", list, team_path)):
                member_path = f"{team_path}.members[{m}]"
                usernames.add((_need(member, "username", str, member_path), member_path))
                if member.get("hours"):
                    try:
                        parse_hours(member["hours"])
                    except CalendarError as exc:
                        raise ConfigError(f"{member_path}.hours: {exc}") from exc
                for a, absence in enumerate(member.get("out_of_office", [])):
                    for key in ("starts_at", "ends_at"):
                        try:
                            datetime.fromisoformat(
                                _need(absence, key, str, f"{member_path}.out_of_office[{a}]")
                            )
                        except ValueError as exc:
                            raise ConfigError(
                                f"{member_path}.out_of_office[{a}].{key}: {exc}"
                            ) from exc
    known = set(
        User.objects.filter(username__in=[u for u, _ in usernames]).values_list(
            "username", flat=True
        )
    )
    for username, path in sorted(usernames, key=lambda item: item[1]):
        if username not in known:
            raise ConfigError(f"{path}.username: no user {username!r}; create the user first")
    table = document.get("market_table")
    if table is not None:
        _need(table, "note", str, "$.market_table")
        for r, row in enumerate(_need(table, "rows", list, "$.market_table")):
            row_path = f"$.market_table.rows[{r}]"
            if _need(row, "kind", str, row_path) not in ROW_KINDS:
                raise ConfigError(f"{row_path}.kind: one of {sorted(ROW_KINDS)}")
            _need(row, "key", str, row_path)
            _need(row, "country", str, row_path)
            with system_context("markets_import_check"):
                if (
                    _need(row, "market", str, row_path) not in codes
                    and not Market.objects.filter(code=row["market"]).exists()
                ):
                    raise ConfigError(f"{row_path}.market: no market {row['market']!r}")


# --- import -----------------------------------------------------------------------------------


@transaction.atomic
def config_import(*, actor: Actor, document: Any) -> list[str]:
    """Apply the document; returns what changed (empty when it already matched)."""
    config_validate(document)
    changes: list[str] = []
    with system_context("markets_import"):
        for entry in document["markets"]:
            market = Market.objects.filter(code=entry["code"]).first()
            if market is None:
                market = market_create(
                    actor=actor, code=entry["code"], name=entry["name"], timezone=entry["timezone"]
                )
                changes.append(f"market {market.code} created")
            elif (market.name, market.timezone) != (entry["name"], entry["timezone"]):
                market_update(
                    actor=actor, market=market, name=entry["name"], timezone=entry["timezone"]
                )
                changes.append(f"market {market.code} updated")
            _import_calendar(actor, market, entry.get("calendar"), changes)
            for team_entry in entry["teams"]:
                _import_team(actor, market, team_entry, changes)
        if document.get("market_table") is not None:
            _import_table(actor, document["market_table"], changes)
    return changes


def _import_calendar(
    actor: Actor, market: Market, wanted: dict[str, Any] | None, changes: list[str]
) -> None:
    if wanted is None:
        return
    current = calendars.calendar_version_current(market)
    hours = format_hours(parse_hours(wanted["hours"]))
    have = None if current is None else (current.hours, current.holidays, current.holiday_source)
    if have == (hours, sorted(wanted["holidays"]), wanted.get("holiday_source", "")):
        return
    calendars.calendar_version_create(
        actor=actor,
        market=market,
        hours=wanted["hours"],
        holidays=[list(row) for row in wanted["holidays"]],
        holiday_source=wanted.get("holiday_source", ""),
        note="imported",
    )
    changes.append(f"calendar of {market.code} versioned")


def _import_team(actor: Actor, market: Market, entry: dict[str, Any], changes: list[str]) -> None:
    team = Team.objects.filter(market=market, name=entry["name"]).first()
    if team is None:
        team = teams.team_ensure(actor=actor, market=market, name=entry["name"])
        changes.append(f"team {market.code}/{team.name} created")
    for member_entry in entry["members"]:
        user = User.objects.get(username=member_entry["username"])
        fields = {key: member_entry[key] for key in teams.MEMBER_FIELDS if key in member_entry}
        before = (
            TeamMember.objects.filter(team=team, user=user).values(*teams.MEMBER_FIELDS).first()
        )
        member = teams.team_member_set(actor=actor, team=team, user=user, **fields)
        after = TeamMember.objects.filter(pk=member.pk).values(*teams.MEMBER_FIELDS).first()
        if before != after:
            changes.append(f"member {user.username} in {market.code}/{team.name} set")
        for absence in member_entry.get("out_of_office", []):
            starts, ends = (datetime.fromisoformat(absence[k]) for k in ("starts_at", "ends_at"))
            if not OutOfOffice.objects.filter(
                member=member, starts_at=starts, ends_at=ends
            ).exists():
                teams.out_of_office_add(
                    actor=actor,
                    member=member,
                    starts_at=starts,
                    ends_at=ends,
                    note=absence.get("note", ""),
                )
                changes.append(f"absence of {user.username} added")


def _import_table(actor: Actor, wanted: dict[str, Any], changes: list[str]) -> None:
    published = market_table.market_table_published()
    want = sorted((r["kind"], r["key"], r["country"], r["market"]) for r in wanted["rows"])
    if published is not None:
        have = sorted(
            (r.kind, r.key, r.country, r.market.code)
            for r in published.rows.select_related("market")
        )
        if have == want and published.note == wanted["note"]:
            return
    draft = market_table.market_table_draft_create(actor=actor, note=wanted["note"])
    for row in list(draft.rows.all()):
        market_table.market_table_row_remove(actor=actor, row=row)
    markets = {m.code: m for m in Market.objects.all()}
    for kind, key, country, code in want:
        market_table.market_table_row_add(
            actor=actor, version=draft, kind=kind, key=key, country=country, market=markets[code]
        )
    market_table.market_table_publish(actor=actor, version=draft)
    changes.append(f"market table version {draft.number} published")
