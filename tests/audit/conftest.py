"""Fixtures for audit tests: a privileged connection for tampering, and a snapshot that puts the
append-only log back afterwards (the log is shared by every test in the session, as in life)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from audit.services import audit_record
from leadops.core.actors import SystemActor

ACTOR = SystemActor("tests")
AUDIT_TABLES = [
    "audit_event",
    "audit_link",
    "audit_chain_head",
    "audit_checkpoint",
    "audit_event_scope",
]


def _admin_conninfo(**extra: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(settings.DATABASE_URL)
    info["dbname"] = str(connection.settings_dict["NAME"])
    info.update(extra)
    return psycopg.conninfo.make_conninfo("", **info)


@pytest.fixture
def superuser_sql(transactional_db: None) -> Iterator[psycopg.Connection]:
    """The admin connection: can switch every trigger off (session_replication_role)."""
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def owner_sql(transactional_db: None) -> Iterator[psycopg.Connection]:
    """The owner role: not a superuser, but owns the tables (and can disable their triggers)."""
    with psycopg.connect(_admin_conninfo(options="-c role=leadops_owner"), autocommit=True) as c:
        c.execute("SELECT set_config('leadops.system', 'tamper test', false)")
        yield c


@pytest.fixture
def restore_audit_log(superuser_sql: psycopg.Connection) -> Iterator[None]:
    """Snapshot the audit tables and put them back exactly after the test tampers with them."""
    conn = superuser_sql
    for table in AUDIT_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS snap_{table}")
        conn.execute(f"CREATE TABLE snap_{table} AS TABLE {table}")
    yield
    conn.execute("SET session_replication_role = replica")
    try:
        with conn.transaction():
            conn.execute(
                "TRUNCATE audit_link, audit_event_scope, audit_event, audit_chain_head,"
                " audit_checkpoint"
            )
            for table in AUDIT_TABLES:
                conn.execute(
                    f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM snap_{table}"
                )
            for table in AUDIT_TABLES:
                conn.execute(f"DROP TABLE snap_{table}")
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('audit_event', 'id'), "
                "(SELECT coalesce(max(id), 1) FROM audit_event))"
            )
    finally:
        conn.execute("SET session_replication_role = origin")


def record_events(count: int, *, market_id: int | None = None, action: str = "test.event") -> None:
    """`count` events, each in its own committed transaction."""
    for index in range(count):
        with transaction.atomic():
            audit_record(actor=ACTOR, action=action, market_id=market_id, data={"i": index})


def head(conn: psycopg.Connection) -> tuple[int, bytes]:
    row = conn.execute("SELECT seq, head FROM audit_chain_head WHERE id = 1").fetchone()
    assert row is not None
    return row[0], bytes(row[1])


def chain_order(conn: psycopg.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT event_id FROM audit_link ORDER BY seq")]


def rewrite_chain(conn: psycopg.Connection, event_ids: list[int]) -> None:
    """What a careful attacker does after tampering: rebuild every link and the head for the
    events in `event_ids` order, guard triggers off, so the chain is consistent again."""
    conn.execute("SET session_replication_role = replica")
    try:
        with conn.transaction():
            entries: dict[int, bytes] = dict(
                conn.execute(
                    "SELECT id, entry_hash FROM audit_event WHERE id = ANY(%s)", [event_ids]
                ).fetchall()
            )
            conn.execute("DELETE FROM audit_link")
            prev = bytes(32)
            for seq, event_id in enumerate(event_ids, start=1):
                chain = hashlib.sha256(prev + bytes(entries[event_id])).digest()
                conn.execute(
                    "INSERT INTO audit_link (seq, event_id, prev_hash, chain_hash)"
                    " VALUES (%s, %s, %s, %s)",
                    [seq, event_id, prev, chain],
                )
                prev = chain
            conn.execute(
                "UPDATE audit_chain_head SET seq = %s, head = %s WHERE id = 1",
                [len(event_ids), prev],
            )
    finally:
        conn.execute("SET session_replication_role = origin")


def as_superuser(conn: psycopg.Connection, sql: str, params: list[object] | None = None) -> None:
    """One statement with every trigger off (the guard included)."""
    conn.execute("SET session_replication_role = replica")
    try:
        conn.execute(sql, params or [])
    finally:
        conn.execute("SET session_replication_role = origin")
