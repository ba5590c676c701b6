"""Verifying the chain stored in the database, in constant memory, with the same code an
outside auditor runs (audit/verifier.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import IO, Any

import psycopg
from django.db import connection
from django.utils import timezone

from audit.models import AuditChainHead, AuditCheckpoint
from audit.services import signing_key_public
from audit.verifier import (
    ChainRecord,
    NoteError,
    VerifyResult,
    export_line,
    open_checkpoint,
    parse_verifier_key,
    read_checkpoints,
    verify_chain,
)
from leadops.core.access import system_context
from leadops.core.services import job_finish, job_progress, job_start

CHUNK = 50_000

# (seq, body, entry_hash, prev_hash, chain_hash, occurred_at, actor_kind, actor_id, origin,
#  action, target_type, target_id, market_id, second_market_id)
Row = tuple[Any, ...]


def _rows(start_after: int, limit: int, deep: bool) -> list[Row]:
    columns = "l.seq, e.body, e.entry_hash, l.prev_hash, l.chain_hash"
    if deep:
        columns += (
            ", e.occurred_at, e.actor_kind, e.actor_id, e.origin, e.action, e.target_type,"
            " e.target_id, e.market_id, e.second_market_id"
        )
    with system_context("audit_verify"):
        # Binary transfer: bytea arrives as raw bytes instead of hex text to decode, which is
        # most of the cost of reading a chain.
        # (Django's own cursors bind on the client side, which cannot return binary results.)
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(
                f"SELECT {columns} FROM audit_link l JOIN audit_event e ON e.id = l.event_id "
                "WHERE l.seq > %s ORDER BY l.seq LIMIT %s",
                [start_after, limit],
                binary=True,
            )
            return cursor.fetchall()


def chain_rows(
    *, deep: bool = False, progress: Callable[[int], None] | None = None
) -> Iterator[Row]:
    """Every link in seq order, read in keyset chunks: memory stays flat however long the log,
    and each chunk is its own short transaction."""
    last = 0
    while True:
        rows = _rows(last, CHUNK, deep)
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]
        if progress is not None:
            progress(last)


def _record(row: Row) -> ChainRecord:
    # Binary results already carry bytea as bytes.
    return ChainRecord._make(row[:5])


def body_matches_columns(row: Row) -> str | None:
    """--deep: the body must say what the columns say (an edited column, body untouched)."""
    body = json.loads(bytes(row[1]))
    (
        occurred_at,
        actor_kind,
        actor_id,
        origin,
        action,
        target_type,
        target_id,
        market_id,
        second_market_id,
    ) = row[5:]
    target = body.get("target") or {"type": "", "id": ""}
    expected = {
        "at": occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor.kind": actor_kind,
        "actor.id": actor_id,
        "origin": origin,
        "action": action,
        "target.type": target_type,
        "target.id": target_id,
        "market": market_id,
        "second_market": second_market_id,
    }
    found = {
        "at": body.get("at"),
        "actor.kind": body["actor"]["kind"],
        "actor.id": body["actor"]["id"],
        "origin": body.get("origin"),
        "action": body.get("action"),
        "target.type": target["type"],
        "target.id": target["id"],
        "market": body.get("market"),
        "second_market": body.get("second_market"),
    }
    for name, value in expected.items():
        if found[name] != value:
            return f"column {name} is {value!r} but the signed body says {found[name]!r}"
    return None


def database_checkpoints() -> dict[int, bytes]:
    """Checkpoints kept in the database, each signature checked with the configured key."""
    name, public = parse_verifier_key(signing_key_public())
    with system_context("audit_verify"):
        notes = list(AuditCheckpoint.objects.order_by("seq").values_list("note", flat=True))
    signed = {}
    for note in notes:
        checkpoint = open_checkpoint(note, name=name, public=public)
        signed[checkpoint.seq] = checkpoint.chain_hash
    return signed


def audit_verify_run(
    *,
    checkpoints_file: Path | None = None,
    deep: bool = False,
    export: IO[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Verify links, entry hashes and signed checkpoints (the file's when given, else the
    database's); `deep` also compares bodies with columns; `export` receives JSON Lines.
    The head row must agree with the last link."""
    try:
        if checkpoints_file is not None:
            with checkpoints_file.open(encoding="utf-8") as handle:
                signed = read_checkpoints(handle, vkey=signing_key_public())
        else:
            signed = database_checkpoints()
    except NoteError as exc:
        return VerifyResult(False, 0, 0, 0, f"checkpoints: {exc}")

    with system_context("audit_verify"):
        head_seq = AuditChainHead.objects.get(pk=1).seq
    current: list[Row] = []

    def records() -> Iterator[ChainRecord]:
        if not deep and export is None:  # the hot path: nothing but the chain itself
            for row in chain_rows(progress=progress):
                yield ChainRecord._make(row)
            return
        for row in chain_rows(deep=deep, progress=progress):
            current[:] = [row]
            record = _record(row)
            if export is not None:
                export.write(export_line(record) + "\n")
            yield record

    def check(record: ChainRecord) -> str | None:
        return body_matches_columns(current[0])

    result = verify_chain(records(), checkpoints=signed, deep=check if deep else None)
    # Links committed while we read may run past the head we saw; fewer links than it is a cut.
    if result.ok and result.verified_through_seq < head_seq:
        return VerifyResult(
            False,
            result.checked,
            result.verified_through_seq,
            result.verified_through_seq + 1,
            f"the chain head says seq {head_seq} but the log ends at seq "
            f"{result.verified_through_seq}: events were removed",
            result.checkpoints_checked,
        )
    return result


def audit_verify_job_run(*, job_id: int) -> VerifyResult:
    """Run a verification as a Job: progress while it streams, the result when it ends.
    `GET /api/v1/audit/verify` and the admin page read the newest finished one."""
    job_start(job_id=job_id)
    with system_context("audit_verify"):
        total = AuditChainHead.objects.get(pk=1).seq or 1

    def progress(seq: int) -> None:
        job_progress(job_id=job_id, progress=seq * 100 // total, message=f"verified to seq {seq}")

    result = audit_verify_run(progress=progress)
    job_finish(
        job_id=job_id,
        ok=result.ok,
        result=verify_result_dict(result),
        message=result.summary(),
    )
    return result


def verify_result_dict(result: VerifyResult) -> dict[str, object]:
    return {
        "ok": result.ok,
        "verified_through_seq": result.verified_through_seq,
        "first_bad_seq": result.first_bad_seq,
        "problem": result.problem,
        "checkpoints_checked": result.checkpoints_checked,
        "checked_at": timezone.now().isoformat(),
    }
