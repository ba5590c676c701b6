"""The embedded PostgreSQL that ``make run`` and ``make test`` use when no DATABASE_URL is set.

It runs from the ``pgserver`` wheel with its data under ``var/pg`` and listens only on a Unix
socket (pgserver moves the socket to a short runtime directory when the path would exceed the
~107-byte socket limit). Each process that needs it takes a handle; the server stops when the last
handle is released, so ``make run`` and ``make test`` leave nothing running behind them. The
Celery broker in embedded mode is kombu's SQLAlchemy transport on a separate database of the same
server, so the app's own tables never mix with broker tables.

This module imports no Django: settings import it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO_DIR = Path(__file__).resolve().parent.parent
APP_DATABASE = "leadops"
BROKER_DATABASE = "leadops_broker"


def var_dir() -> Path:
    path = Path(os.environ.get("LEADOPS_VAR_DIR", REPO_DIR / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def _server() -> Any:
    # Imported here: pgserver is only needed on the embedded path. It warns at import when
    # XDG_RUNTIME_DIR is unset and then falls back to /tmp, which is what we want anyway.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)

    pgdata = var_dir() / "pg"
    _forget_dead_handles(pgdata, pgserver.postgres_server.PostgresServer._lock)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    for name in (APP_DATABASE, BROKER_DATABASE):
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{name}";')
    return server


def _forget_dead_handles(pgdata: Path, lock: Any) -> None:
    """Drop handles of processes that died without releasing them (SIGKILL, a crash).

    pgserver stops the server when the last handle goes, and counts handles by pid in a file; a
    dead pid left there would keep the server running forever after `make run` or `make test`.
    """
    handles = pgdata / ".handle_pids.json"
    with lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if _pid_alive(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _socket_dir() -> str:
    info = _server().get_postmaster_info()
    return str(info.socket_dir)


def database_url() -> str:
    """An admin connection URL to the embedded server, starting it if needed."""
    return f"postgresql://postgres@/{APP_DATABASE}?host={quote(_socket_dir(), safe='/')}"


def broker_url() -> str:
    return (
        f"sqla+postgresql+psycopg://postgres@/{BROKER_DATABASE}"
        f"?host={quote(_socket_dir(), safe='/')}"
    )


def main(argv: list[str]) -> int:
    """``python -m leadops.embedded exec -- CMD...``: run CMD with the embedded services.

    Only variables that are unset get embedded values, so an explicit DATABASE_URL or
    CELERY_BROKER_URL always wins. ``url`` prints the database URL for psql and friends.
    """
    if argv[:1] == ["url"]:
        print(database_url())
        return 0
    if argv[:1] != ["exec"] or len(argv) < 2:
        print(
            "usage: python -m leadops.embedded url | exec [--] CMD [ARGS...]\n"
            "  url   print the embedded database URL (starts the server while it prints)\n"
            "  exec  run CMD with DATABASE_URL / CELERY_BROKER_URL pointing at the embedded\n"
            "        server when they are unset; the server stops when CMD exits",
            file=sys.stderr,
        )
        return 2
    command = argv[2:] if argv[1] == "--" else argv[1:]
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = database_url()
        print(f"embedded PostgreSQL: {env['DATABASE_URL']}", file=sys.stderr)
    if not env.get("CELERY_BROKER_URL"):
        env["CELERY_BROKER_URL"] = broker_url()
    import subprocess

    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
