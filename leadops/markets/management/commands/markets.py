"""`manage.py markets export FILE` / `markets import FILE`: markets, calendars, the market table
and teams as one JSON document (see leadops/markets/config.py for the format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from leadops.markets.config import ConfigError, config_export, config_import


class Command(BaseCommand):
    help = (
        "Export or import markets, business calendars, the published market table and teams "
        "(members by username) as JSON. Import changes only what differs, in one transaction; "
        "a malformed file changes nothing and the first problem is named."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the configuration to FILE ('-': stdout)")
        export.add_argument("file")
        imp = sub.add_parser("import", help="apply the configuration in FILE")
        imp.add_argument("file")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            text = config_export()
            if options["file"] == "-":
                self.stdout.write(text, ending="")
            else:
                Path(options["file"]).write_text(text, encoding="utf-8")
                self.stdout.write(f"exported to {options['file']}")
            return
        try:
            document = json.loads(Path(options["file"]).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"{options['file']}: {exc}") from exc
        try:
            changes = config_import(actor=SystemActor("markets_import"), document=document)
        except (ConfigError, ApplicationError) as exc:
            raise CommandError(f"nothing imported: {exc}") from exc
        if not changes:
            self.stdout.write("nothing to change: the database already matches the file")
        for change in changes:
            self.stdout.write(change)
