"""The audit log's tables. Their DDL is hand-written in migrations (unmanaged models): triggers,
privileges and the sealer are the point, and Django must never flush or alter these tables.

- `audit_event`: one row per consequential action, written in the business transaction.
- `audit_event_scope`: further markets older events need their reader to hold (insert-only).
- `audit_link`: the chain, `(seq, event, prev_hash, chain_hash)`, written only by the sealer.
- `audit_chain_head`: one row, the newest `(seq, hash)`, advanced only by the sealer.
- `audit_checkpoint`: signed heads, also appended to files outside the database.
- `audit_subject_key`: per-subject keys for commitments to personal data (deleted on erasure).
"""

from __future__ import annotations

from django.db import models

from leadops.core.models import MarketScopedManager


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=20)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150)
    origin = models.CharField(max_length=10)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    # Not a foreign key: audit sits below markets, and markets are never deleted.
    market_id = models.BigIntegerField(null=True, blank=True)
    # The second market of an object that spans two (a cross-market item): a reader needs both.
    second_market_id = models.BigIntegerField(null=True, blank=True)
    body = models.BinaryField()
    entry_hash = models.BinaryField()

    objects = MarketScopedManager()

    class Meta:
        managed = False
        db_table = "audit_event"
        # Reads (objects) need an access context; appending (the plain base manager, used by
        # save) does not: recording your own action never depends on scope.
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Event #{self.pk} · {self.action.replace('.', ' ').replace('_', ' ')}"


class AuditEventScope(models.Model):
    """A further market an event needs its reader to hold, for events written before they could
    carry `second_market_id` (filled by migrations, insert-only; the read policy checks it)."""

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(AuditEvent, on_delete=models.DO_NOTHING, related_name="+")
    market_id = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "audit_event_scope"

    def __str__(self) -> str:
        return f"event {self.event_id} also needs market {self.market_id}"


class AuditLink(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.DO_NOTHING, related_name="link")
    prev_hash = models.BinaryField()
    chain_hash = models.BinaryField()

    class Meta:
        managed = False
        db_table = "audit_link"

    def __str__(self) -> str:
        return f"link {self.seq}"


class AuditChainHead(models.Model):
    id = models.SmallIntegerField(primary_key=True)
    seq = models.BigIntegerField()
    head = models.BinaryField()

    class Meta:
        managed = False
        db_table = "audit_chain_head"

    def __str__(self) -> str:
        return f"head at {self.seq}"


class AuditCheckpoint(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    chain_hash = models.BinaryField()
    note = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "audit_checkpoint"
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"checkpoint {self.seq}"


class SubjectKey(models.Model):
    subject_ref = models.CharField(max_length=64, primary_key=True)
    key = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "audit_subject_key"

    def __str__(self) -> str:
        return f"subject {self.subject_ref[:8]}…"
