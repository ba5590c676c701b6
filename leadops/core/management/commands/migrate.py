"""`migrate`, run as the owner role by default (the `owner` database alias).

The runtime role may not create or alter tables, so Django's default alias cannot migrate;
`--database default` is still accepted and fails with PostgreSQL's permission error.
"""

from __future__ import annotations

from django.core.management.base import CommandParser
from django.core.management.commands.migrate import Command as DjangoMigrate


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as leadops_owner (database alias 'owner') by default."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database="owner")
