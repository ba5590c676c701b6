"""Config read once per change, not once per request.

Intake reads the same configuration on every request: the API client and its markets, the
sources, the published market table, market codes, queue ownership and calendars. Each process
keeps what it read, labelled with the config generation it was read under, and reuses it while
the generation stands. The generation is one number in `core_configgeneration`, set by a
trigger on every table those reads come from (`config_watch` in their migrations), in the
changing transaction: a committed change is seen by every process at its next request, with no
TTL and no message bus.

A request (or any unit of work) runs in `config_snapshot()`: the generation is read at most once
in it (one indexed one-row SELECT, on first use), so a request sees one consistent config even
if someone publishes meanwhile. Outside a snapshot `config_cached` loads fresh every time.

Cached values are shared by every thread of the process: loaders return values nobody mutates
(tuples, frozen dataclasses, dicts that are only read).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import migrations

from leadops.core.sql import sql_run

T = TypeVar("T")


class _Snapshot:
    generation: int | None = None


_snapshot: contextvars.ContextVar[_Snapshot | None] = contextvars.ContextVar(
    "leadops_config_snapshot", default=None
)
_cache: dict[str, tuple[int, Any]] = {}


@contextmanager
def config_snapshot() -> Iterator[None]:
    """Within the block, cached config is checked against one generation read (joins an
    enclosing snapshot)."""
    if _snapshot.get() is not None:
        yield
        return
    token = _snapshot.set(_Snapshot())
    try:
        yield
    finally:
        _snapshot.reset(token)


def config_generation() -> int | None:
    """The snapshot's generation (read now if this is its first use); None outside one."""
    snapshot = _snapshot.get()
    if snapshot is None:
        return None
    if snapshot.generation is None:
        snapshot.generation = _generation_now()
    return snapshot.generation


def config_cached(name: str, load: Callable[[], T]) -> T:
    """`load()`'s value, reused in this process until the config generation moves.

    Values that are None are not kept (an unknown API key prefix must not grow the cache)."""
    generation = config_generation()
    if generation is None:
        return load()
    hit = _cache.get(name)
    if hit is not None and hit[0] == generation:
        return hit[1]
    # A miss labels what it loads with the generation read again now, not the snapshot's: if
    # this transaction changed config itself, that is its own (never committed elsewhere)
    # number, so nobody else can ever match a value that saw uncommitted rows.
    label = _generation_now()
    value = load()
    if value is not None:
        if len(_cache) > 10_000:  # names are bounded (one per client); this is a backstop
            _cache.clear()
        _cache[name] = (label, value)
    return value


def _generation_now() -> int:
    return int(sql_run("SELECT value FROM core_configgeneration WHERE id = 1")[0][0])


def config_cache_clear() -> None:
    """Forget everything cached in this process (tests that change config behind triggers)."""
    _cache.clear()


def config_watch(table: str, *, columns: Sequence[str] = ()) -> migrations.RunSQL:
    """A migration operation: any change to `table` (only to `columns` for UPDATEs, if given)
    moves the config generation when it commits."""
    update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
    trigger = f"{table}_config_watch"
    return migrations.RunSQL(
        sql=f'CREATE TRIGGER "{trigger}" AFTER INSERT OR {update} OR DELETE OR TRUNCATE'
        f' ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION core_config_bump()',
        reverse_sql=f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"',
    )
