"""`createcachetable`, run as the owner role by default, like `migrate`."""

from __future__ import annotations

from django.core.management.base import CommandParser
from django.core.management.commands.createcachetable import Command as DjangoCreateCacheTable


class Command(DjangoCreateCacheTable):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database="owner")
