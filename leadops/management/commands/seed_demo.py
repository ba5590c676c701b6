"""`manage.py seed_demo`: demo users, markets and notes for `make run`. Idempotent."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.services import user_ensure
from leadops.demo import (
    DEMO_CONFLICTS,
    DEMO_FLAGS,
    DEMO_MARKETS,
    DEMO_NOTES,
    DEMO_PASSWORD,
    DEMO_USERS,
    demo_logins_text,
)
from leadops.kinds import NOTE_FLAGGED, note_flag, notes_conflict_file
from leadops.markets.models import Market, MarketNote
from leadops.markets.services import market_create, market_note_create
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
        with system_context("seed_demo"):
            existing = set(Market.objects.values_list("code", flat=True))
            for code, name, timezone in DEMO_MARKETS:
                if code not in existing:
                    market_create(actor=actor, code=code, name=name, timezone=timezone)
            markets = {m.code: m for m in Market.objects.all()}
            notes = []
            for code, text in DEMO_NOTES:
                note = MarketNote.objects.filter(market=markets[code], text=text).first()
                notes.append(
                    note or market_note_create(actor=actor, market=markets[code], text=text)
                )
            au_managers = Group.objects.get(name="Managers AU")
            queue_ownership_set(
                actor=actor,
                kind=NOTE_FLAGGED.key,
                market=markets["AU"],
                owner_group=au_managers,
                recovery_minutes=1,
            )
            for index, reason in DEMO_FLAGS:
                note_flag(actor=actor, note=notes[index], reason=reason)
            for first, second in DEMO_CONFLICTS:
                notes_conflict_file(actor=actor, first=notes[first], second=notes[second])
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
        if not options["quiet_logins"]:
            self.stdout.write(demo_logins_text())
