"""Shared set-up for benchmarks that need LeadOps itself: a scratch database on the
DATABASE_URL server (`<name>_bench`), set up like production, and Django pointed at it."""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def bench_database(*, fresh: bool = False) -> str:
    """The scratch database's admin conninfo, creating the database if needed (`fresh`: drop
    it first, for figures on an empty database)."""
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        sys.exit("DATABASE_URL is unset: run through `make bench`.")
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    name = f"{info.get('dbname') or 'postgres'}_bench"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo("", **info)


def bench_url(conninfo: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    host = str(info.get("host") or "")
    user = info.get("user") or ""
    port = f":{info['port']}" if info.get("port") else ""
    url = f"postgresql://{user}@{'' if host.startswith('/') else host}{port}/{info['dbname']}"
    return url + (f"?host={host}" if host.startswith("/") else "")


def django_on(conninfo: str) -> None:
    """Point Django at the bench database, bootstrap roles and migrate it."""
    os.environ["DATABASE_URL"] = bench_url(conninfo)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadops.settings.base")
    os.environ.setdefault("LEADOPS_LOCAL_SECRETS", "true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("db_bootstrap", verbosity=0)
    call_command("migrate", verbosity=0)
