"""`manage.py seed_demo`: demo users (and, as the product grows, demo data) for `make run`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leadops.core.actors import SystemActor
from leadops.core.services import user_ensure
from leadops.demo import DEMO_PASSWORD, DEMO_USERS, demo_logins_text


class Command(BaseCommand):
    help = (
        "Create or refresh the demo users (password: leadops-demo) and demo data. Idempotent: "
        "safe to run on every start. Never run it against a production database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet-logins", action="store_true", help="Do not print the demo logins table."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = SystemActor("seed_demo")
        for username, first_name, _role, superuser in DEMO_USERS:
            user_ensure(
                actor=actor,
                username=username,
                password=DEMO_PASSWORD,
                email=f"{username}@demo.leadops.invalid",
                first_name=first_name,
                is_staff=True,
                is_superuser=superuser,
            )
        if not options["quiet_logins"]:
            self.stdout.write(demo_logins_text())
