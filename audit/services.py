"""Writing to the audit log, checkpoints and erasure. Every app calls `audit_record` inside its
own transaction; the database seals the event into the chain when that transaction commits."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from audit.models import AuditChainHead, AuditCheckpoint, SubjectKey
from audit.verifier import (
    Checkpoint,
    canonicalize,
    sign_checkpoint,
    signer_from_seed,
    verifier_key,
)
from leadops.core.access import system_context
from leadops.core.actors import Actor, ActorRef, actor_ref, origin_current
from leadops.core.sql import sql_run

BODY_VERSION = 1
Target = models.Model | tuple[str, str | int] | None


@dataclass(frozen=True)
class RecordedEvent:
    """What was appended; its seq is assigned when the transaction commits."""

    action: str
    body: bytes
    entry_hash: bytes


class AuditOutsideTransaction(RuntimeError):
    """audit_record was called in autocommit: the event would not share the change's fate."""


def _target_ref(target: Target) -> dict[str, str] | None:
    if target is None:
        return None
    if isinstance(target, tuple):
        return {"type": target[0], "id": str(target[1])}
    return {"type": target._meta.label_lower, "id": str(target.pk)}


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body(
    *,
    action: str,
    at: str,
    who: ActorRef,
    origin: str,
    market_id: int | None,
    second_market_id: int | None,
    target: dict[str, str] | None,
    data: dict[str, Any] | None,
    personal: dict[str, str],
) -> dict[str, Any]:
    """The signed body of one event. `second_market` appears only on events about an object in
    two markets, so every other body keeps the shape it always had."""
    body = {
        "v": BODY_VERSION,
        "action": action,
        "at": at,
        "actor": {"kind": who.kind, "id": who.id, "label": who.label},
        "origin": origin,
        "market": market_id,
        "target": target,
        "data": data or {},
        "personal": personal,
    }
    if second_market_id is not None:
        body["second_market"] = second_market_id
    return body


def subject_ref(identity: str) -> str:
    """The key-store id of a subject ("email:ada@example.com"), peppered so the store alone
    does not reveal whose keys it holds."""
    return subject_refs([identity])[0]


def subject_refs(identities: Sequence[str]) -> list[str]:
    """`subject_ref` of each, the pepper read once (a batch has thousands)."""
    pepper = settings.AUDIT_SUBJECT_PEPPER.encode()
    # hmac.digest is one-shot (no HMAC object per identity).
    return [hmac.digest(pepper, identity.encode(), "sha256").hex() for identity in identities]


def commitment(*, field: str, value: str) -> str:
    """HMAC-SHA256 of `field:value` under the subject's own key: provable while the key lives,
    unlinkable once erasure deletes it."""
    return commitments_many([(field, value)])[(field, value)]


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: Target = None,
    market_id: int | None = None,
    second_market_id: int | None = None,
    data: dict[str, Any] | None = None,
    personal: dict[str, str] | None = None,
) -> RecordedEvent:
    """Append one event to the caller's transaction (`audit_record_many` of one entry).

    `data` holds ids and values that are not personal data (canonical JSON types only: no
    floats). `personal` maps a field to a normalized personal value (email, phone); only a
    commitment to it is written. `market_id` None marks a global action (seen with see_global);
    `second_market_id` marks an event about an object in two markets (readers need both).
    """
    ref = _target_ref(target)
    entry = Entry(
        action=action,
        target=(ref["type"], ref["id"]) if ref else None,
        market_id=market_id,
        second_market_id=second_market_id,
        data=data,
        personal=personal,
    )
    [recorded] = _append(actor, [entry])
    return recorded


# --- checkpoints ---------------------------------------------------------------------------


def signing_key_public() -> str:
    """The verifier key (name+keyid+base64) an outside auditor needs; safe to publish."""
    key = signer_from_seed(settings.AUDIT_SIGNING_KEY)
    return verifier_key(settings.AUDIT_LOG_ORIGIN, key.public_key())


def checkpoint_file() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR) / "checkpoints.jsonl"


def _append_to_file(seq: int, note: str) -> None:
    path = checkpoint_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"seq": seq, "note": note}) + "\n")


def audit_checkpoint_create(*, actor: Actor) -> AuditCheckpoint | None:
    """Sign the current head unless it is signed already. Safe under two beats at once: the
    transaction-scoped advisory lock makes the second wait, then find the checkpoint made."""
    with system_context("audit_checkpoint"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('leadops.audit_checkpoint'))")
        head = AuditChainHead.objects.get(pk=1)
        if head.seq == 0 or AuditCheckpoint.objects.filter(seq=head.seq).exists():
            return None
        chain_hash = bytes(head.head)
        note = sign_checkpoint(
            Checkpoint(origin=settings.AUDIT_LOG_ORIGIN, seq=head.seq, chain_hash=chain_hash),
            name=settings.AUDIT_LOG_ORIGIN,
            key=signer_from_seed(settings.AUDIT_SIGNING_KEY),
        )
        checkpoint = AuditCheckpoint.objects.create(
            seq=head.seq, chain_hash=chain_hash, note=note, created_at=timezone.now()
        )
        audit_record(
            actor=actor, action="audit.checkpointed", data={"seq": head.seq}, market_id=None
        )
        # The file is the copy outside the database; written once the row is committed.
        transaction.on_commit(lambda: _append_to_file(checkpoint.seq, note))
    return checkpoint


# --- erasure -------------------------------------------------------------------------------

Eraser = Callable[..., int]
_erasers: dict[str, Eraser] = {}


def eraser_register(name: str, eraser: Eraser) -> None:
    """Apps register `eraser(*, identity, actor) -> rows scrubbed` for their copies of personal
    data (leads, history, submissions, outbox…); `subject_erase` calls them all."""
    _erasers[name] = eraser


@dataclass(frozen=True)
class ErasureReport:
    key_deleted: bool
    scrubbed: dict[str, int]


@transaction.atomic
def subject_erase(*, actor: Actor, identity: str) -> ErasureReport:
    """Forget a subject: scrub every registered copy and delete the subject's key, which makes
    every commitment to it in the chain unlinkable. The chain still verifies."""
    with system_context("subject_erase"):
        scrubbed = {
            name: eraser(identity=identity, actor=actor)
            for name, eraser in sorted(_erasers.items())
        }
        deleted, _ = SubjectKey.objects.filter(subject_ref=subject_ref(identity)).delete()
        audit_record(
            actor=actor,
            action="subject.erased",
            data={"erasers": sorted(scrubbed), "key_deleted": bool(deleted)},
        )
    return ErasureReport(key_deleted=bool(deleted), scrubbed=scrubbed)


# --- many at once (the set-based intake path) -------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One event for `audit_record_many`; the fields mean what `audit_record`'s arguments mean."""

    action: str
    target: tuple[str, str] | None = None
    market_id: int | None = None
    second_market_id: int | None = None
    data: dict[str, Any] | None = None
    personal: dict[str, str] | None = None


def commitments_many(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Commitments for many (field, value) pairs in one statement, whatever their number: keys
    that exist are read, missing ones made (keys come from Python's CSPRNG; PostgreSQL's
    random() is not one). Both parts see the same snapshot, so the union has every key once."""
    identities = sorted({f"{field}:{value}" for field, value in pairs})
    if not identities:
        return {}
    refs = subject_refs(identities)
    # Only the refs the INSERT did not make are looked up, each by one probe of the key: a
    # `subject_ref = ANY(all refs)` filter read the whole key store once it held ~200k keys
    # (the planner preferred a scan to 2,000 probes; 37 ms a 1,000-lead call, growing).
    rows = sql_run(
        "WITH made AS (INSERT INTO audit_subject_key (subject_ref, key)"
        "   SELECT * FROM unnest(%b::varchar[], %b::bytea[])"
        "   ON CONFLICT (subject_ref) DO NOTHING RETURNING subject_ref, key),"
        " known AS (SELECT ref FROM unnest(%b::varchar[]) AS r(ref)"
        "   EXCEPT SELECT subject_ref FROM made)"
        " SELECT subject_ref, key FROM made"
        " UNION ALL SELECT k.subject_ref, k.key FROM known CROSS JOIN LATERAL"
        "   (SELECT subject_ref, key FROM audit_subject_key WHERE subject_ref = known.ref) k",
        [refs, [secrets.token_bytes(32) for _ in refs], refs],
    )
    keys = {ref: bytes(key) for ref, key in rows}
    missing = [ref for ref in refs if ref not in keys]
    if missing:
        # A parallel transaction made these keys while this statement ran (its snapshot could
        # not see them): read them now.
        rows = sql_run(
            "SELECT subject_ref, key FROM audit_subject_key WHERE subject_ref = ANY(%b)", [missing]
        )
        keys.update({ref: bytes(key) for ref, key in rows})
    result = {}
    for identity, ref in zip(identities, refs, strict=True):
        field, _, value = identity.partition(":")
        result[(field, value)] = hmac.digest(keys[ref], identity.encode(), "sha256").hex()
    return result


def audit_record_many(*, actor: Actor, entries: list[Entry]) -> int:
    """Append many events with one INSERT (plus two statements for commitments, if any)."""
    return len(_append(actor, entries))


def _append(actor: Actor, entries: list[Entry]) -> list[RecordedEvent]:
    """The one write path of the log. No RETURNING: under RLS it would need the new rows to be
    readable by the writer, and a manager may well record an action only RevOps may read."""
    if not entries:
        return []
    if not connection.in_atomic_block:
        actions = ", ".join(sorted({e.action for e in entries}))
        raise AuditOutsideTransaction(
            f"audit events ({actions}) must be written inside the transaction of the change"
        )
    now = timezone.now()
    at = _timestamp(now)  # one instant for every event of the call
    who = actor_ref(actor)
    origin = origin_current()
    committed = commitments_many(
        [(field, value) for entry in entries for field, value in (entry.personal or {}).items()]
    )
    recorded: list[RecordedEvent] = []
    columns: list[list[Any]] = [[] for _ in range(7)]
    for entry in entries:
        target = {"type": entry.target[0], "id": entry.target[1]} if entry.target else None
        body = canonicalize(
            _body(
                action=entry.action,
                at=at,
                who=who,
                origin=origin,
                market_id=entry.market_id,
                second_market_id=entry.second_market_id,
                target=target,
                data=entry.data,
                personal={
                    field: committed[(field, value)]
                    for field, value in (entry.personal or {}).items()
                },
            )
        )
        entry_hash = hashlib.sha256(body).digest()
        recorded.append(RecordedEvent(action=entry.action, body=body, entry_hash=entry_hash))
        for column, value in zip(
            columns,
            [
                entry.action,
                target["type"] if target else "",
                target["id"] if target else "",
                entry.market_id,
                entry.second_market_id,
                body,
                entry_hash,
            ],
            strict=True,
        ):
            column.append(value)
    sql_run(
        "INSERT INTO audit_event (occurred_at, actor_kind, actor_id, actor_label, origin,"
        " action, target_type, target_id, market_id, second_market_id, body, entry_hash)"
        " SELECT %b, %b, %b, %b, %b, a, tt, ti, m, m2, b, h"
        " FROM unnest(%b::varchar[], %b::varchar[], %b::varchar[], %b::bigint[],"
        "             %b::bigint[], %b::bytea[], %b::bytea[]) AS v(a, tt, ti, m, m2, b, h)",
        [now, who.kind, who.id, who.label, origin, *columns],
    )
    return recorded
