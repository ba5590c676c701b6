"""`manage.py routing export FILE` / `routing import FILE`: every rule set and the rules in force
as one JSON document (see routing/transfer.py for the format)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from routing.transfer import TransferInvalid, routing_export, routing_import


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
