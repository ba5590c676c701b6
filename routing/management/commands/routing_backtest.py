"""`manage.py routing_backtest --version ID`: what a version would have done to past leads,
beside the versions published then (routing/backtest.py)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadops.core.access import system_context
from leadops.markets.models import Market
from routing.backtest import backtest_run
from routing.models import RuleVersion


class Command(BaseCommand):
    help = (
        "Replay past leads under a routing version (usually a draft) and under the version "
        "published at each lead's time, on the past as it was (the lead's values, members, "
        "hours and absences then). Prints the summary, the team-to-team matrix and the rule "
        "hits before and after; --json prints them as JSON. Writes nothing."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # `--version ID` is this command's own (Django's --version, the Django version, yields).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--version",
            dest="version_id",
            type=int,
            required=True,
            help="the id of the routing version to try",
        )
        parser.add_argument("--market", help="only this market's leads (code, e.g. DE)")
        parser.add_argument(
            "--since",
            type=date.fromisoformat,
            help="leads created on or after this day (YYYY-MM-DD)",
        )
        parser.add_argument("--limit", type=int, help="only the newest N leads")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        with system_context("routing_backtest"):
            version = RuleVersion.objects.filter(pk=options["version_id"]).first()
            if version is None:
                raise CommandError(f"no routing version {options['version_id']}")
            markets = Market.objects.all()
            if options["market"]:
                markets = markets.filter(code=options["market"].strip().upper())
                if not markets.exists():
                    raise CommandError(f"no market {options['market']!r}")
            result = backtest_run(
                version=version,
                market_ids=list(markets.values_list("pk", flat=True)),
                since=options["since"],
                limit=options["limit"],
                progress=None if options["json"] else self._progress,
            )
        summary = result.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2, sort_keys=True))
            return
        sys.stderr.write("\n")
        self.stdout.write(f"{version} on {summary['evaluated']:,} past leads")
        for key in (
            "unchanged",
            "moved",
            "newly_unroutable",
            "newly_routable",
            "eligible_pool_changed",
            "approximate",
        ):
            self.stdout.write(f"  {key.replace('_', ' '):<24} {summary[key]:>8,}")
        self.stdout.write("team then → team under this version:")
        for cell in summary["matrix"]:
            self.stdout.write(f"  {cell['before']:<24} → {cell['after']:<24} {cell['leads']:>8,}")
        self.stdout.write("rule hits (published then / this version):")
        hits = summary["rule_hits"]
        for rule in sorted(set(hits["before"]) | set(hits["after"])):
            self.stdout.write(
                f"  {rule:<32} {hits['before'].get(rule, 0):>8,} {hits['after'].get(rule, 0):>8,}"
            )

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(1, total))
        sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:,} / {total:,} leads")
        sys.stderr.flush()
