"""`manage.py import_leads FILE --source SLUG`: import a CSV list from the command line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from leadops.core.services import JobScope
from leadops.imports import (
    FAILED,
    chunks,
    import_run,
    import_start,
    import_upload_create,
    submitted_rows,
)
from leadops.intake import intake_preview
from leadops.leads.csvfiles import LIST_OPTIONS, CsvError, csv_read
from leadops.leads.mapping import source_mapping_current
from leadops.leads.models import ImportRun, Source
from leadops.markets.models import Market

ACTOR = SystemActor("import_leads")


class Command(BaseCommand):
    help = (
        "Import a CSV list of leads through the intake door, like the admin's import: the "
        "source's mapping reads the columns (columns named like lead fields need none), rows "
        "imported before are not imported twice, and every row's outcome can be written to a "
        "results file. Exit 0: every row imported; 1: some rows were refused (see the results); "
        "2: nothing imported (no such source, unreadable file)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument("--source", required=True, help="The source's slug, e.g. events.")
        parser.add_argument("--campaign", default="", help="Campaign for every row.")
        for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default="")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only say what each row would become; write nothing.",
        )
        parser.add_argument(
            "--results", type=Path, help="Write row, outcome, lead id and errors to this CSV."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Source.objects.filter(slug=options["source"], is_active=True).first()
        if source is None:
            raise CommandError(f"No active source {options['source']!r}.", returncode=2)
        try:
            data = options["file"].read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {options['file']}: {exc}", returncode=2) from exc
        chosen = {k: options[k] for k in LIST_OPTIONS if options[k]}
        if options["dry_run"]:
            self._dry_run(source, data, chosen)
            return
        with system_context("import_leads"):
            everything = frozenset(Market.objects.values_list("id", flat=True))
        try:
            upload = import_upload_create(
                actor=ACTOR,
                name=options["file"].name,
                data=data,
                source=source,
                options=chosen,
                scope=JobScope(market_ids=everything, global_rows=True),
            )
        except ApplicationError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        run = import_start(actor=ACTOR, upload=upload, enqueue=False)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=options["verbosity"] == 0,
        ) as bar:
            task = bar.add_task("rows", total=upload.row_count)
            report = import_run(
                run_id=run.pk,
                actor=ACTOR,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if options["results"]:
            with system_context("import_leads"):
                results = bytes(ImportRun.objects.get(pk=run.pk).results)
            options["results"].write_bytes(results)
        self._summary(report.counts)
        if report.failed:
            raise CommandError(
                f"{len(report.failed):,} row(s) were refused"
                + (f"; see {options['results']}" if options["results"] else "")
                + f" (rows {', '.join(map(str, report.failed[:10]))}"
                + (", …)" if len(report.failed) > 10 else ")"),
                returncode=1,
            )

    def _dry_run(self, source: Source, data: bytes, chosen: dict[str, str]) -> None:
        try:
            table = csv_read(data, max_bytes=len(data) + 1)
        except CsvError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        mapping = source_mapping_current(source)
        rows = submitted_rows(
            source=source,
            options=chosen,
            rules=mapping.rules if mapping else {},
            version=mapping.version if mapping else None,
            rows=table.rows(),
        )
        counts: Counter[str] = Counter()
        for chunk in chunks(rows):
            counts.update(p.outcome for p in intake_preview(items=[s for _, s in chunk]))
        self.stdout.write("dry run: nothing written")
        self._summary(counts)
        if any(counts[o] for o in FAILED):
            raise CommandError("Some rows would be refused.", returncode=1)

    def _summary(self, counts: Counter[str]) -> None:
        for outcome, n in sorted(counts.items()):
            self.stdout.write(f"  {outcome:<12} {n:>8,}")
