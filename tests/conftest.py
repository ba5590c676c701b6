"""Global fixtures. Tests run on real PostgreSQL as the runtime role `leadops_app` (so RLS is
really in force) and on a real Celery broker (see README)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections
from psycopg import sql

from leadops.core import roles
from tests.factories import UserFactory

# Market, manager, note and API client fixtures shared by every app's tests.
pytest_plugins = ["tests.fixtures"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last: their event loop must not surround any other test."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def _admin_connect(dbname: str | None = None) -> psycopg.Connection:
    conn = psycopg.connect(settings.DATABASE_URL, autocommit=True)
    if dbname is None:
        return conn
    conn.close()
    info = psycopg.conninfo.conninfo_to_dict(settings.DATABASE_URL)
    info["dbname"] = dbname
    return psycopg.connect(**info, autocommit=True)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """Create the test database the way production is set up: roles from db_bootstrap,
    migrations as leadops_owner, and every test connection as leadops_app."""
    test_name = "test_" + str(settings.DATABASES["default"]["NAME"])
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        with _admin_connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [test_name],
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(test_name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(test_name)))
        with _admin_connect(test_name) as admin:
            roles.bootstrap(admin)
        for alias in ("default", "owner"):
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = test_name
        call_command("migrate", database="owner", verbosity=0)
        with _admin_connect(test_name) as admin:
            # Only in the test database: TRUNCATE lets transactional tests flush between tests.
            # The runtime role never has it in production (TRUNCATE ignores RLS). The audit
            # tables are unmanaged, so flushes leave them alone, and they never get it.
            tables = admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT LIKE 'audit\\_%'"
            ).fetchall()
            for (table,) in tables:
                admin.execute(
                    sql.SQL("GRANT TRUNCATE ON {} TO {}").format(
                        sql.Identifier(table), sql.Identifier(roles.APP_ROLE)
                    )
                )
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        for alias in ("default", "owner"):
            connections[alias].close()
        with _admin_connect() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [test_name],
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(test_name)))


@pytest.fixture
def staff_user(db: None) -> User:
    return UserFactory.create(is_staff=True)


@pytest.fixture
def superuser(db: None) -> User:
    return UserFactory.create(is_staff=True, is_superuser=True)
