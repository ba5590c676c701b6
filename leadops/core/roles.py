"""The two database roles LeadOps runs with, created and granted idempotently.

- `leadops_owner` (NOLOGIN) owns every object; migrations run as it (`SET ROLE` through the
  `owner` database alias).
- `leadops_app` (LOGIN, NOSUPERUSER, NOBYPASSRLS) owns nothing and is what the web, workers
  and tests connect as, so FORCE'd row-level security really applies to it. It gets DML on
  tables and use of sequences, never TRUNCATE (TRUNCATE ignores RLS) and never DDL.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

OWNER_ROLE = "leadops_owner"
APP_ROLE = "leadops_app"


@dataclass(frozen=True)
class BootstrapReport:
    created_roles: list[str]
    reowned: list[str]


def _q(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def role_sql(*, admin_user: str, app_password: str | None) -> list[str]:
    """Cluster-wide statements: the roles, and membership so the admin can SET ROLE owner."""
    password = f" PASSWORD {sql.Literal(app_password).as_string(None)}" if app_password else ""
    return [
        f"CREATE ROLE {OWNER_ROLE} NOLOGIN",
        f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE{password}",
        f"GRANT {OWNER_ROLE} TO {_q(admin_user)}",
    ]


# The append-only audit tables, and the config generation only triggers may bump, keep narrower
# rights than the blanket grant below gives every table; re-applied after it, so running
# db_bootstrap again (every `make run`) never widens them.
NARROW_PRIVILEGES = {
    "audit_event": "SELECT, INSERT",
    "audit_link": "SELECT",
    "audit_chain_head": "SELECT",
    "audit_checkpoint": "SELECT, INSERT",
    "audit_subject_key": "SELECT, INSERT, DELETE",
    "audit_event_scope": "SELECT",
    "core_configgeneration": "SELECT",
}


def narrow_privileges_sql(schema: str = "public") -> str:
    """One DO block: for each narrowed table that exists, exactly its rights for the runtime
    role."""
    steps = "".join(
        f"  IF to_regclass('{schema}.{table}') IS NOT NULL THEN\n"
        f"    REVOKE ALL ON {_q(schema)}.{_q(table)} FROM {APP_ROLE};\n"
        f"    GRANT {rights} ON {_q(schema)}.{_q(table)} TO {APP_ROLE};\n"
        "  END IF;\n"
        for table, rights in NARROW_PRIVILEGES.items()
    )
    return f"DO $$\nBEGIN\n{steps}END $$"


def grant_sql(*, database: str, schema: str = "public") -> list[str]:
    """Per-database statements: schema rights, grants on what exists, default privileges, and
    the audit tables' narrower rights."""
    s = _q(schema)
    return [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {_q(database)} TO {APP_ROLE}",
        f"GRANT USAGE, CREATE ON SCHEMA {s} TO {OWNER_ROLE}",
        f"GRANT USAGE ON SCHEMA {s} TO {APP_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {APP_ROLE}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA {s} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}",
        narrow_privileges_sql(schema),
    ]


def can_create_roles(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def missing_roles(conn: psycopg.Connection) -> list[str]:
    present = {
        r[0]
        for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", [[OWNER_ROLE, APP_ROLE]]
        )
    }
    return [role for role in (OWNER_ROLE, APP_ROLE) if role not in present]


def bootstrap(conn: psycopg.Connection, *, app_password: str | None = None) -> BootstrapReport:
    """Create missing roles, grant, and hand existing objects to the owner. Idempotent.

    `conn` is an autocommit admin connection to the target database.
    """
    admin_user, database = conn.execute("SELECT current_user, current_database()").fetchone()  # type: ignore[misc]
    created = missing_roles(conn)
    statements = role_sql(admin_user=admin_user, app_password=app_password)
    if OWNER_ROLE in created:
        conn.execute(statements[0])
    if APP_ROLE in created:
        conn.execute(statements[1])
    elif app_password:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(app_password)
            )
        )
    conn.execute(statements[2])
    for statement in grant_sql(database=database):
        conn.execute(statement)
    # Objects made before the roles existed (an older install) move to the owner.
    reowned = []
    for kind, name in conn.execute(
        """
        SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END,
               c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'S')
          AND pg_get_userbyid(c.relowner) <> %s
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
        ORDER BY 2
        """,
        [OWNER_ROLE],
    ).fetchall():
        conn.execute(f"ALTER {kind} {_q(name)} OWNER TO {OWNER_ROLE}")
        reowned.append(name)
    if reowned:
        for statement in grant_sql(database=database)[3:5]:
            conn.execute(statement)
        conn.execute(narrow_privileges_sql())
    return BootstrapReport(created_roles=created, reowned=reowned)
