"""Idempotency keys for intake: claimed in their own short transaction before the work starts,
many at once (a batch of 1,000 keys costs the same statements as one).

A key already finished is replayed: the stored outcome and answer, byte for byte. The same key
with a different body is a mismatch; a key still in flight is busy unless its claim is stale
(its worker died), which is taken over. A refused item releases its key (bad input does not use
it up). Rows older than 72 h are purged. No HTTP here: the door's callers map outcomes to
statuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from django.db import connection, transaction
from django.utils import timezone

from leadops.leads.models import IdempotencyKey

STALE_AFTER = timedelta(minutes=2)
KEEP_FOR = timedelta(hours=72)


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """`claimed`: do the work (then complete or release `row_id`). `replay`: answer with the
    stored `outcome` and `answer`. `mismatch`, `in_flight`: refuse."""

    state: Literal["claimed", "replay", "mismatch", "in_flight"]
    row_id: int | None = None
    outcome: str = ""
    answer: str = ""


def idempotency_claim_many(*, client: str, keys: Sequence[tuple[str, str]]) -> list[Claim]:
    """Claim each (key, body hash) of `client`; results in the order given. Three statements at
    most, in one transaction of their own that commits before the work starts. A key given
    twice in one call: the second is in flight (the first is doing the work)."""
    if not keys:
        return []
    now = timezone.now()
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_idempotencykey (client, key, request_hash, state, outcome,"
            " response_body, claimed_at) SELECT %s, k, h, 'in_flight', '', '', %s"
            " FROM unnest(%s::varchar[], %s::varchar[]) AS v(k, h)"
            " ON CONFLICT (client, key) DO NOTHING RETURNING id, key",
            [client, now, [k for k, _ in keys], [h for _, h in keys]],
        )
        claimed = {key: row_id for row_id, key in cursor.fetchall()}
        others = sorted({k for k, _ in keys} - set(claimed))
        rows: dict[str, tuple[Any, ...]] = {}
        if others:
            cursor.execute(
                "SELECT key, id, request_hash, state, claimed_at, outcome, response_body"
                " FROM leads_idempotencykey WHERE client = %s AND key = ANY(%s)",
                [client, others],
            )
            rows = {row[0]: row[1:] for row in cursor.fetchall()}
        stale = [
            rows[k][0]
            for k, h in keys
            if k in rows
            and rows[k][1] == h
            and rows[k][2] == IdempotencyKey.State.IN_FLIGHT
            and rows[k][3] < now - STALE_AFTER
        ]
        taken: set[int] = set()
        if stale:
            cursor.execute(
                "UPDATE leads_idempotencykey SET claimed_at = %s"
                " WHERE id = ANY(%s) AND state = 'in_flight' AND claimed_at < %s RETURNING id",
                [now, stale, now - STALE_AFTER],
            )
            taken = {row[0] for row in cursor.fetchall()}
    result, seen = [], set()
    for key, body_hash in keys:
        first = key not in seen
        seen.add(key)
        if key in claimed and first:
            result.append(Claim("claimed", row_id=claimed[key]))
            continue
        if key in claimed:  # given twice in this call: the first does the work
            result.append(Claim("in_flight"))
            continue
        row_id, stored_hash, state, _claimed_at, outcome, answer = rows[key]
        if stored_hash != body_hash:
            result.append(Claim("mismatch"))
        elif state == IdempotencyKey.State.DONE:
            result.append(Claim("replay", outcome=outcome, answer=answer))
        elif row_id in taken and first:
            result.append(Claim("claimed", row_id=row_id))
        else:
            result.append(Claim("in_flight"))
    return result


def idempotency_complete_many(*, done: Sequence[tuple[int, str, str]]) -> None:
    """Record (row id, outcome, answer) for finished keys: one statement."""
    if not done:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leads_idempotencykey k SET state = 'done', outcome = v.o,"
            " response_body = v.b, completed_at = %s"
            " FROM unnest(%s::bigint[], %s::varchar[], %s::text[]) AS v(id, o, b)"
            " WHERE k.id = v.id",
            [timezone.now(), [d[0] for d in done], [d[1] for d in done], [d[2] for d in done]],
        )


def idempotency_release_many(*, row_ids: Sequence[int]) -> None:
    """Forget claims whose requests were refused: the client may fix them and retry."""
    if row_ids:
        IdempotencyKey.objects.filter(
            pk__in=list(row_ids), state=IdempotencyKey.State.IN_FLIGHT
        ).delete()


def idempotency_purge() -> int:
    deleted, _ = IdempotencyKey.objects.filter(claimed_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
