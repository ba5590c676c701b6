"""`manage.py prepare`: everything a database needs before LeadOps starts, in one process.

`make run` calls this once instead of a `manage.py` process per step: Django starts once, and on a
database that is already prepared each step finds nothing to do (a second start is quick).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from audit.services import signing_key_public


class Command(BaseCommand):
    help = (
        "Prepare the database and static files in one process: db_bootstrap (roles and "
        "grants), migrate (as leadops_owner; creates the cache table too), collectstatic and, "
        "with --demo, seed_demo. Idempotent; each step says how long it took."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo", action="store_true", help="Also seed the demo data (seed_demo)."
        )
        parser.add_argument(
            "--print-verifier-key",
            action="store_true",
            help="End with a line 'verifier key: …' (the audit checkpoints' public key).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        steps: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
            ("db_bootstrap", (), {}),
            ("migrate", (), {"interactive": False, "verbosity": 0}),
            ("collectstatic", (), {"interactive": False, "verbosity": 0}),
        ]
        if options["demo"]:
            steps.append(("seed_demo", ("--quiet-logins",), {}))
        for name, args_, kwargs in steps:
            started = time.monotonic()
            call_command(name, *args_, **kwargs)
            self.stdout.write(f"{name} done in {time.monotonic() - started:.1f}s")
        if options["print_verifier_key"]:
            self.stdout.write(f"verifier key: {signing_key_public()}")
