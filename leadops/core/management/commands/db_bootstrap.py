"""`manage.py db_bootstrap`: create the database roles and grants LeadOps runs with."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from leadops.core import roles


class Command(BaseCommand):
    help = (
        "Create leadops_owner (owns every object; migrations run as it) and leadops_app (the "
        "runtime login: no superuser, no BYPASSRLS, owns nothing), grant them, and hand "
        "existing tables to the owner. Connects with DATABASE_URL (an admin connection). "
        "Idempotent. Without CREATEROLE it prints the SQL a DBA must run and exits 2."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--print-sql",
            action="store_true",
            help="Only print the SQL for a DBA; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app_password = settings.DATABASE_APP_PASSWORD or None
        try:
            conn = psycopg.connect(settings.DATABASE_URL, autocommit=True)
        except psycopg.OperationalError as exc:
            raise CommandError(f"cannot connect with DATABASE_URL: {exc}") from exc
        with conn:
            admin_user, database = conn.execute(
                "SELECT current_user, current_database()"
            ).fetchone()  # type: ignore[misc]
            missing = roles.missing_roles(conn)
            if options["print_sql"] or (missing and not roles.can_create_roles(conn)):
                self._print_sql(admin_user, database, app_password, missing)
                if not options["print_sql"]:
                    raise CommandError(
                        f"{admin_user} may not create roles (needs CREATEROLE); a DBA must run "
                        "the SQL above, then run db_bootstrap again.",
                        returncode=2,
                    )
                return
            report = roles.bootstrap(conn, app_password=app_password)
        created = ", ".join(report.created_roles) or "none (both existed)"
        self.stdout.write(f"db_bootstrap: roles created: {created}; grants in {database} ok")
        if report.reowned:
            self.stdout.write(f"  moved to {roles.OWNER_ROLE}: {', '.join(report.reowned)}")

    def _print_sql(
        self, admin_user: str, database: str, app_password: str | None, missing: list[str]
    ) -> None:
        statements = roles.role_sql(admin_user=admin_user, app_password=app_password)
        wanted = [statements[0]] if roles.OWNER_ROLE in missing else []
        wanted += [statements[1]] if roles.APP_ROLE in missing else []
        wanted += [statements[2], *roles.grant_sql(database=database)]
        self.stdout.write(f"-- run as a role with CREATEROLE, connected to {database}:")
        for statement in wanted:
            self.stdout.write(f"{statement};")
