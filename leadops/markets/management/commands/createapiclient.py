"""`manage.py createapiclient NAME --markets A,B | --all-markets`: issue an API key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from leadops.markets.models import Market
from leadops.markets.services import api_client_create


class Command(BaseCommand):
    help = (
        "Create an API client and print its key once (only its sha256 is stored). Scope it to "
        "market codes with --markets DE,FR or to every market with --all-markets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A unique name, e.g. the calling system.")
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--markets", help="Comma-separated market codes, e.g. DE,FR.")
        scope.add_argument("--all-markets", action="store_true", help="Every market.")
        parser.add_argument("--rate", default="", help="Request rate, e.g. 600/min.")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = SystemActor("createapiclient")
        with system_context("createapiclient"):
            markets: list[Market] = []
            if options["markets"]:
                codes = [c.strip().upper() for c in options["markets"].split(",") if c.strip()]
                markets = list(Market.objects.filter(code__in=codes))
                unknown = sorted(set(codes) - {m.code for m in markets})
                if unknown:
                    raise CommandError(f"unknown market code(s): {', '.join(unknown)}")
            try:
                issued = api_client_create(
                    actor=actor,
                    name=options["name"],
                    markets=markets,
                    all_markets=options["all_markets"],
                    rate_limit=options["rate"],
                )
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
            except Exception as exc:
                if "unique" in str(exc).lower():
                    raise CommandError(f"an API client named {options['name']!r} exists") from exc
                raise
        self.stdout.write(f"API client {issued.client.name!r} created. Its key (shown once):")
        self.stdout.write(issued.key)
