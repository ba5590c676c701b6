"""`manage.py rollups_fold [--all]`: recompute the dashboard's intake rollup now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from leadops.leads.rollups import FOLD_BATCH, intake_hours_fold


class Command(BaseCommand):
    help = (
        "Recompute the dashboard's intake rollup: the current and previous hour and the hours"
        f" marked stale ({FOLD_BATCH} at most, or all of them with --all). Beat does this every"
        " minute; run it with --all after a migration marks every past hour for backfill."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all", action="store_true", help="Recompute every stale hour now (a backfill)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = intake_hours_fold(everything=options["all"])
        self.stdout.write(f"Recomputed {hours} hour(s) of the intake rollup.")
