"""`manage.py audit_verify`: check the whole chain; exit 1 naming the first bad seq."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verification import audit_verify_run


class Command(BaseCommand):
    help = (
        "Verify the audit chain: every link, every entry hash, and every signed checkpoint "
        "(from --checkpoints FILE, else those in the database). Streams in constant memory. "
        "Exits 0 when intact, 1 naming the first bad sequence number."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoints", type=Path, help="JSON Lines of signed checkpoints kept outside the DB"
        )
        parser.add_argument(
            "--deep", action="store_true", help="also compare each body with its columns"
        )
        parser.add_argument(
            "--export", type=Path, help="write the log as JSON Lines for the stand-alone verifier"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        export = options["export"].open("w", encoding="utf-8") if options["export"] else None
        try:
            result = audit_verify_run(
                checkpoints_file=options["checkpoints"], deep=options["deep"], export=export
            )
        finally:
            if export is not None:
                export.close()
        elapsed = time.perf_counter() - started
        rate = result.checked / elapsed if elapsed else 0.0
        self.stdout.write(f"{result.summary()} ({elapsed:.2f}s, {rate:,.0f} events/s)")
        if not result.ok:
            sys.stdout.flush()
            raise CommandError(f"audit chain broken at seq {result.first_bad_seq}", returncode=1)
