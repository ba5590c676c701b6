"""`manage.py sla export [--market CODE] [-o FILE]` / `sla import FILE [--dry-run]`: every
market's SLA policies in force as one JSON document (see leadops/sla/transfer.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from leadops.sla.transfer import TransferInvalid, sla_export, sla_import


class Command(BaseCommand):
    help = (
        "Export or import SLA policies as JSON: each market (by code) with its policies in "
        "force (by key), their first-response promise and change note. Import checks the "
        "whole file first and, if anything is wrong, lists every problem (market, policy key "
        "and field) and changes nothing; otherwise it publishes, in one transaction, a new "
        "version of each policy whose content differs (the version in force is retired), "
        "writes nothing for unchanged policies, and leaves policies the file does not name "
        "alone. The reviewed file is the approval: the import publishes as system:sla_import."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser(
            "export", help="write the policies in force as JSON (stdout unless -o FILE)"
        )
        export.add_argument(
            "--market", metavar="CODE", help="only this market (listed even with no policy)"
        )
        export.add_argument(
            "-o", "--output", metavar="FILE", help="write to FILE instead of stdout"
        )
        imp = sub.add_parser("import", help="publish the policies in FILE ('-': stdin)")
        imp.add_argument("file", help="a file written by `sla export`; '-' reads stdin")
        imp.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and say what would be published; write nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            self._export(options.get("market"), options.get("output"))
        else:
            self._import(options["file"], dry_run=bool(options.get("dry_run")))

    def _export(self, market: str | None, output: str | None) -> None:
        try:
            text = sla_export(market=market)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if output is None or output == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{output}: {exc}") from exc
        markets = json.loads(text)["markets"]
        count = sum(len(policies) for policies in markets.values())
        self.stdout.write(f"exported {count} policies of {len(markets)} market(s) to {output}")

    def _import(self, name: str, *, dry_run: bool) -> None:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            document = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"{name}: {exc}") from exc
        source = "stdin" if name == "-" else name
        try:
            report = sla_import(
                actor=SystemActor("sla_import"), document=document, source=source, dry_run=dry_run
            )
        except TransferInvalid as exc:
            raise CommandError(f"{source}: {exc}") from exc
        except ApplicationError as exc:
            raise CommandError(f"{source}: nothing imported: {exc.message}") from exc
        except IntegrityError as exc:  # someone changed the same policy at the same moment
            raise CommandError(
                f"{source}: nothing imported: a policy changed while importing; run it again "
                f"({exc})"
            ) from exc
        for line in report.lines:
            self.stdout.write(line)
        self.stdout.write(report.summary)
