"""Idempotency keys for ingest: claimed in their own short transaction before the work starts.

A replay of a finished key returns the stored status and body byte for byte; the same key with a
different body is 422; a key still in flight is 409 unless its claim is stale, which is taken
over; a 400 releases the key (bad input does not consume it). Rows older than 72 h are purged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadops.leads.models import IdempotencyKey

STALE_AFTER = timedelta(minutes=2)
KEEP_FOR = timedelta(hours=72)


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """`replay` set: answer with it. `conflict` set: answer 409 or 422. Else do the work."""

    row_id: int | None = None
    replay: tuple[int, str] | None = None
    conflict: tuple[int, str] | None = None


def idempotency_claim(*, client: str, key: str, body_hash: str) -> Claim:
    now = timezone.now()
    try:
        with transaction.atomic(durable=True):
            row = IdempotencyKey.objects.create(
                client=client, key=key, request_hash=body_hash, claimed_at=now
            )
            return Claim(row_id=row.pk)
    except IntegrityError:
        pass
    row = IdempotencyKey.objects.get(client=client, key=key)
    if row.request_hash != body_hash:
        return Claim(conflict=(422, "This Idempotency-Key was used with a different request body."))
    if row.state == IdempotencyKey.State.DONE:
        return Claim(replay=(row.response_status or 200, row.response_body))
    # In flight: take over a stale claim (its worker died), otherwise tell the client to wait.
    taken = IdempotencyKey.objects.filter(
        pk=row.pk, state=IdempotencyKey.State.IN_FLIGHT, claimed_at__lt=now - STALE_AFTER
    ).update(claimed_at=now)
    if taken:
        return Claim(row_id=row.pk)
    return Claim(conflict=(409, "A request with this Idempotency-Key is still being processed."))


def idempotency_complete(*, row_id: int, status: int, body: str) -> None:
    IdempotencyKey.objects.filter(pk=row_id).update(
        state=IdempotencyKey.State.DONE,
        response_status=status,
        response_body=body,
        completed_at=timezone.now(),
    )


def idempotency_release(*, row_id: int) -> None:
    """Forget a claim whose request was refused as invalid: the client may fix and retry."""
    IdempotencyKey.objects.filter(pk=row_id, state=IdempotencyKey.State.IN_FLIGHT).delete()


def idempotency_purge() -> int:
    deleted, _ = IdempotencyKey.objects.filter(claimed_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
