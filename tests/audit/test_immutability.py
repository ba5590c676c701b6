"""The runtime role can append and read in scope; it can never change or remove the log."""

import pytest
from django.db import DatabaseError, connection, transaction

from leadops.core.access import market_context, system_context
from tests.audit.conftest import record_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET action = 'x'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "UPDATE audit_link SET prev_hash = chain_hash",
        "DELETE FROM audit_link",
        "TRUNCATE audit_link",
        "UPDATE audit_chain_head SET seq = 0",
        "INSERT INTO audit_link VALUES (999999, 1, '\\x00', '\\x00')",
        "DELETE FROM audit_checkpoint",
        "TRUNCATE audit_checkpoint",
    ],
)
def test_runtime_role_cannot_change_audit_tables(statement):
    record_events(1)

    with (
        pytest.raises(DatabaseError, match=r"permission denied|append-only"),
        system_context("tests"),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)


def test_global_events_need_see_global_and_market_events_need_the_market():
    # given one global event and one event in market 424242
    record_events(1, action="test.global")
    record_events(1, action="test.in_market", market_id=424242)

    def visible(**context):
        with market_context(**context), connection.cursor() as cursor:
            cursor.execute(
                "SELECT action FROM audit_event WHERE action IN ('test.global', 'test.in_market')"
            )
            return sorted({row[0] for row in cursor.fetchall()})

    assert visible(market_ids=[1]) == []
    assert visible(market_ids=[424242]) == ["test.in_market"]
    assert visible(market_ids=[], see_global=True) == ["test.global"]


def test_a_manager_can_record_an_event_it_may_not_read():
    with transaction.atomic(), market_context(market_ids=[1]):
        from audit.services import audit_record
        from tests.audit.conftest import ACTOR

        audit_record(actor=ACTOR, action="test.write_only", market_id=None)

    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_event WHERE action = 'test.write_only'")
        assert cursor.fetchone()[0] >= 1


def test_running_db_bootstrap_again_never_widens_the_audit_tables_rights():
    # given a database that is already migrated: db_bootstrap runs again on every `make run`,
    # and its blanket grant on all tables must not hand UPDATE or DELETE on the log back
    import psycopg
    from django.conf import settings

    from leadops.core import roles

    info = psycopg.conninfo.conninfo_to_dict(settings.DATABASE_URL)
    info["dbname"] = str(connection.settings_dict["NAME"])
    with psycopg.connect(**info, autocommit=True) as admin:  # type: ignore[arg-type]
        roles.bootstrap(admin)
        rights: dict[str, str] = dict(
            admin.execute(
                "SELECT t, string_agg(p, ',' ORDER BY p) FROM unnest(%s::text[]) t,"
                " unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p"
                " WHERE has_table_privilege('leadops_app', t, p) GROUP BY t",
                [list(roles.NARROW_PRIVILEGES)],
            ).fetchall()
        )

    assert rights == {
        table: ",".join(sorted(p.strip() for p in wanted.split(",")))
        for table, wanted in roles.NARROW_PRIVILEGES.items()
    }
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        system_context("tests"),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_chain_head SET seq = 0")
