"""`manage.py routing export FILE` / `routing import FILE`: every rule set and the rules in force
as one JSON document (see routing/transfer.py for the format); `routing test FILE` runs the
fixture leads in such a file and exits non-zero when one fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from routing.models import RuleVersion
from routing.transfer import TransferInvalid, routing_export, routing_import, routing_test


class Command(BaseCommand):
    help = (
        "Export or import routing rules as JSON: every rule set (by market code; null is the "
        "global fallback) with its published rules, fixture leads and change note. Import "
        "checks the whole file first and, if anything is wrong, lists every problem (rule set, "
        "rule and path) and changes nothing; otherwise it publishes, in one transaction, a new "
        "version of each rule set whose rules differ, and leaves the others alone. The reviewed "
        "file is the approval: imported versions are published by the import itself."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the rules in force to FILE ('-': stdout)")
        export.add_argument("file", help="where to write the JSON; '-' writes to stdout")
        imp = sub.add_parser("import", help="publish the rules in FILE ('-': stdin)")
        imp.add_argument("file", help="a file written by `routing export`; '-' reads stdin")
        test = sub.add_parser(
            "test",
            help="run the fixture leads in FILE; exit 1 if any fails (for a rules repository's CI)",
        )
        test.add_argument(
            "file",
            help="a `routing export` file (each rule set's fixtures against its own rules) or one "
            "version's content {rules, fixtures}; '-' reads stdin",
        )
        test.add_argument(
            "--against",
            type=int,
            metavar="VERSION_ID",
            help="run the file's fixtures against the rules of this stored version",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        if options["action"] == "export":
            text = routing_export()
            if name == "-":
                self.stdout.write(text, ending="")
            else:
                Path(name).write_text(text, encoding="utf-8")
                self.stdout.write(f"exported to {name}")
            return
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            document = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{name}: {exc}") from exc
        source = "stdin" if name == "-" else name
        if options["action"] == "test":
            self._test(document, source, options.get("against"))
            return
        try:
            lines = routing_import(
                actor=SystemActor("routing_import"), document=document, source=source
            )
        except TransferInvalid as exc:
            raise CommandError(f"{source}: {exc}") from exc
        except ApplicationError as exc:
            raise CommandError(f"{source}: nothing imported: {exc.message}") from exc
        if not lines:
            self.stdout.write("the file has no rule sets: nothing to do")
        for line in lines:
            self.stdout.write(line)

    def _test(self, document: Any, source: str, version_id: int | None) -> None:
        with system_context("routing_test"):
            version = None
            if version_id is not None:
                version = RuleVersion.objects.select_related("market").filter(pk=version_id).first()
                if version is None:
                    raise CommandError(f"no routing version {version_id}")
            try:
                lines = routing_test(document=document, version=version)
            except TransferInvalid as exc:
                raise CommandError(f"{source}: {exc}") from exc
        failed = [line for line in lines if not line.passed]
        for line in lines:
            mark = "PASS" if line.passed else "FAIL"
            self.stdout.write(f"{mark} {line.label}: {line.name}")
            if line.detail:
                self.stdout.write(f"     {line.detail}")
        self.stdout.write(f"{len(lines) - len(failed)} passed, {len(failed)} failed")
        if failed:
            raise CommandError(f"{len(failed)} fixture lead(s) failed", returncode=1)
