"""`manage.py seed_demo`: demo users, markets and notes for `make run`. Idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.services import user_ensure
from leadops.demo import (
    DEMO_CONFLICTS,
    DEMO_FLAGS,
    DEMO_HOLIDAY_YEARS,
    DEMO_LEADS,
    DEMO_MARKETS,
    DEMO_NOTES,
    DEMO_OUT_OF_OFFICE,
    DEMO_OWN_HOURS,
    DEMO_PASSWORD,
    DEMO_SOURCES,
    DEMO_TABLE,
    DEMO_TEAMS,
    DEMO_USERS,
    demo_logins_text,
)
from leadops.kinds import NOTE_FLAGGED, note_flag, notes_conflict_file
from leadops.leads.ingest import IngestItem, leads_ingest
from leadops.leads.models import Lead, Source
from leadops.leads.sources import source_ensure
from leadops.markets.calendars import holidays_from_package
from leadops.markets.config import FORMAT, config_import
from leadops.markets.models import Market, MarketNote
from leadops.markets.services import market_note_create
from leadops.queue.services import queue_ownership_set


class Command(BaseCommand):
    help = (
        "Create or refresh the demo users (password: leadops-demo), markets, notes and "
        "exception-queue items. "
        "Idempotent: safe to run on every start. Never run it against a production database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet-logins", action="store_true", help="Do not print the demo logins table."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = SystemActor("seed_demo")
        for username, first_name, _role, superuser, _groups in DEMO_USERS:
            user_ensure(
                actor=actor,
                username=username,
                password=DEMO_PASSWORD,
                email=f"{username}@demo.leadops.invalid",
                first_name=first_name,
                is_staff=True,
                is_superuser=superuser,
            )
        for _market, _team, members in DEMO_TEAMS:
            for username in members:
                user_ensure(
                    actor=actor,
                    username=username,
                    password=DEMO_PASSWORD,
                    email=f"{username}@demo.leadops.invalid",
                    first_name=username.title(),
                    is_staff=False,
                )
        for slug, name, kind, region in DEMO_SOURCES:
            source_ensure(actor=actor, slug=slug, name=name, kind=kind, default_region=region)
        # The organisation goes in as a markets document, exactly as `markets import` would.
        changes = config_import(actor=actor, document=demo_document())
        with system_context("seed_demo"):
            # Groups exist now (created with the markets): put the demo staff in theirs.
            for username, first_name, _role, superuser, groups in DEMO_USERS:
                user_ensure(
                    actor=actor,
                    username=username,
                    password=DEMO_PASSWORD,
                    email=f"{username}@demo.leadops.invalid",
                    first_name=first_name,
                    is_staff=True,
                    is_superuser=superuser,
                    groups=groups,
                )
            self._notes_and_queue(actor)
            if not Lead.objects.exists():  # leads once: a second seed would only add merges
                self._leads(actor)
        if options["verbosity"] > 1:
            for change in changes:
                self.stdout.write(change)
        if not options["quiet_logins"]:
            self.stdout.write(demo_logins_text())

    def _leads(self, actor: SystemActor) -> None:
        sources = {s.slug: s for s in Source.objects.all()}
        leads_ingest(
            items=[
                IngestItem(source=sources[slug], payload=fields, fields=fields)
                for slug, fields in DEMO_LEADS
            ],
            actor=actor,
        )

    def _notes_and_queue(self, actor: SystemActor) -> None:
        markets = {m.code: m for m in Market.objects.all()}
        notes = []
        for code, text in DEMO_NOTES:
            note = MarketNote.objects.filter(market=markets[code], text=text).first()
            notes.append(note or market_note_create(actor=actor, market=markets[code], text=text))
        queue_ownership_set(
            actor=actor,
            kind=NOTE_FLAGGED.key,
            market=markets["AU"],
            owner_group=Group.objects.get(name="Managers AU"),
            recovery_minutes=1,
        )
        for index, reason in DEMO_FLAGS:
            note_flag(actor=actor, note=notes[index], reason=reason)
        for first, second in DEMO_CONFLICTS:
            notes_conflict_file(actor=actor, first=notes[first], second=notes[second])


def demo_document() -> dict[str, Any]:
    """The demo organisation as a markets document (the format of `markets export`)."""
    next_monday = (timezone.now() + timedelta(days=7 - timezone.now().weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    markets = []
    for code, name, zone, countries, hours in DEMO_MARKETS:
        teams = [
            {
                "name": team,
                "members": [
                    {
                        "username": username,
                        "is_active": True,
                        "weight": 2 if index == 0 else 1,
                        "cap_open": 40,
                        "cap_daily": 15,
                        "hours": DEMO_OWN_HOURS.get(username, ""),
                        "hubspot_owner_id": f"{9000 + sum(map(ord, username))}",
                        "salesforce_user_id": f"005DEMO{username.upper():0<8}"[:18],
                        "slack_handle": f"@{username}",
                        "teams_handle": f"{username}@demo.leadops.invalid",
                        "out_of_office": [
                            {
                                "starts_at": next_monday.isoformat(),
                                "ends_at": (next_monday + timedelta(days=5)).isoformat(),
                                "note": "holiday",
                            }
                        ]
                        if username == DEMO_OUT_OF_OFFICE
                        else [],
                    }
                    for index, username in enumerate(members)
                ],
            }
            for market, team, members in DEMO_TEAMS
            if market == code
        ]
        markets.append(
            {
                "code": code,
                "name": name,
                "timezone": zone,
                "calendar": {
                    "hours": hours,
                    "holidays": holidays_from_package(countries, DEMO_HOLIDAY_YEARS),
                    "holiday_source": ", ".join(countries),
                },
                "teams": teams,
            }
        )
    rows = [
        {"kind": kind, "key": key, "country": country, "market": market}
        for kind, key, country, market in DEMO_TABLE
    ]
    return {
        "format": FORMAT,
        "markets": markets,
        "market_table": {"note": "Demo table: DACH, France, US East, ANZ", "rows": rows},
    }
