"""Every change to the exception queue: file, claim, release, resolve, dismiss, escalate.
Keyword-only, explicit actor, one transaction each, audited in it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import Entry, audit_record, audit_record_many
from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.core.sql import unnest_insert
from leadops.markets.business_time import ALWAYS_OPEN_UTC, add_business_minutes
from leadops.markets.calendars import calendars_in_force
from leadops.markets.models import REVOPS_GROUP, Market
from leadops.queue.models import ExceptionItem, Notification, QueueOwnership
from leadops.queue.registry import ExceptionKind, kind_get, run_handler
from leadops.queue.selectors import recovery_minutes_in_force

CLAIM_TTL = timedelta(minutes=30)
OPEN = [ExceptionItem.Status.OPEN, ExceptionItem.Status.CLAIMED]


def _audit(actor: Actor, action: str, item: ExceptionItem, **data: Any) -> None:
    audit_record(
        actor=actor,
        action=f"exception.{action}",
        target=item,
        market_id=item.market_id,
        second_market_id=item.second_market_id,
        data={"kind": item.kind, "status": item.status, **data},
    )


def ownership_for(kind: ExceptionKind, market: Market) -> tuple[str, timedelta]:
    """The owner group's name and the recovery time for `kind` in `market`."""
    row = (
        QueueOwnership.objects.filter(kind=kind.key, market=market)
        .select_related("owner_group")
        .first()
    )
    if row is not None:
        return row.owner_group.name, timedelta(minutes=row.recovery_minutes)
    if market.is_unassigned:
        return REVOPS_GROUP, kind.recovery  # nobody manages UNASSIGNED but RevOps
    return kind.owner_group.format(market=market.code), kind.recovery


def target_ref(target: models.Model) -> tuple[str, str]:
    return target._meta.label_lower, str(target.pk)


@dataclass(frozen=True)
class Filed:
    item: ExceptionItem
    created: bool


@dataclass(frozen=True)
class Filing:
    """One item for `exceptions_file_many`; the fields mean what `exception_file`'s do."""

    kind: str
    market_id: int
    target: tuple[str, str]  # (model label, id), e.g. ("leads.lead", "42")
    summary: str
    details: dict[str, Any]
    error_class: str = ""
    remediation: str = ""
    second_market_id: int | None = None


FILING_COLUMNS = [
    ("market_id", "bigint"),
    ("second_market_id", "bigint"),
    ("kind", "varchar"),
    ("target_type", "varchar"),
    ("target_id", "varchar"),
    ("summary", "varchar"),
    ("details", "jsonb"),
    ("error_class", "varchar"),
    ("remediation", "text"),
    ("created_at", "timestamptz"),
    ("due_at", "timestamptz"),
    ("status", "varchar"),
    ("resolution", "varchar"),
    ("note", "text"),
    ("escalated_to", "varchar"),
]


def _due_at(kind: ExceptionKind, market_id: int, now: datetime) -> datetime:
    """When an item filed now must be worked: the kind's recovery time (or the market's own
    for the kind), counted in the market's business time (always-open UTC without a calendar)."""
    minutes = recovery_minutes_in_force().get((kind.key, market_id))
    recovery = kind.recovery if minutes is None else timedelta(minutes=minutes)
    calendar = calendars_in_force().get(market_id, ALWAYS_OPEN_UTC)
    return add_business_minutes(calendar, now, recovery.total_seconds() / 60)


def exceptions_file_many(
    *, actor: Actor, filings: Sequence[Filing], audit_into: list[Entry] | None = None
) -> list[int | None]:
    """File many items in one INSERT and audit them in one more, whatever their number; the
    new item ids in input order (None where an open item of that kind and target existed, or
    an earlier filing in the same call made it).

    Set-based intake files its quarantines and unmarketed leads here. Like `exception_file`,
    the partial unique index decides under concurrency (`ON CONFLICT DO NOTHING`), not a read.
    `audit_into`: a caller that writes its own audit entries in this transaction, after this
    call, passes its list and the filings' entries are added to it (one audit statement for
    the whole unit of work instead of two).
    """
    if not filings:
        return []
    # Joins the caller's transaction without a savepoint: intake files inside its own, and
    # a failure here must undo the whole call anyway.
    with transaction.atomic(savepoint=False):
        entries = _file_many(filings)
        if audit_into is None:
            audit_record_many(actor=actor, entries=[entry for _, entry in entries if entry])
        else:
            audit_into.extend(entry for _, entry in entries if entry)
    return [item_id for item_id, _ in entries]


def _file_many(filings: Sequence[Filing]) -> list[tuple[int | None, Entry | None]]:
    now = timezone.now()
    kinds = {f.kind: kind_get(f.kind) for f in filings}
    # Every item of a call is filed at the same moment: one due time per kind and market.
    due = {
        (f.kind, f.market_id): _due_at(kinds[f.kind], f.market_id, now)
        for f in {(f.kind, f.market_id): f for f in filings}.values()
    }
    rows, seen = [], set()
    for f in filings:
        key = (f.kind, *f.target)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            [
                f.market_id,
                f.second_market_id,
                f.kind,
                f.target[0],
                f.target[1],
                f.summary[:300],
                json.dumps(f.details),
                f.error_class,
                f.remediation,
                now,
                due[(f.kind, f.market_id)],
                str(ExceptionItem.Status.OPEN),
                "",
                "",
                "",
            ]
        )
    with system_context("exception_file"):
        made = unnest_insert(
            "queue_exceptionitem",
            FILING_COLUMNS,
            rows,
            suffix="ON CONFLICT (kind, target_type, target_id)"
            " WHERE status IN ('open', 'claimed') DO NOTHING"
            " RETURNING id, kind, target_type, target_id",
        )
    ids = {(kind, t_type, t_id): item_id for item_id, kind, t_type, t_id in made}
    answer: list[tuple[int | None, Entry | None]] = []
    for f in filings:
        item_id = ids.pop((f.kind, *f.target), None)
        entry = None
        if item_id is not None:
            entry = Entry(
                action="exception.filed",
                target=("queue.exceptionitem", str(item_id)),
                market_id=f.market_id,
                second_market_id=f.second_market_id,
                data={"kind": f.kind, "status": "open", "summary": f.summary[:300]},
            )
        answer.append((item_id, entry))
    return answer


@transaction.atomic
def exception_file(
    *,
    actor: Actor,
    kind: str,
    market: Market,
    target: models.Model,
    summary: str,
    details: dict[str, Any] | None = None,
    second_market: Market | None = None,
    error_class: str = "",
    remediation: str = "",
) -> Filed:
    """File an item, or return the open one already filed for this kind and target.

    Runs in system context: whoever notices a problem may file it, whatever their markets.
    The partial unique index decides under concurrency, not a read before the write.
    """
    registered = kind_get(kind)
    with system_context("exception_file"):
        target_type, target_id = target_ref(target)
        now = timezone.now()
        due_at = _due_at(registered, market.pk, now)
        item = ExceptionItem(
            market=market,
            second_market=second_market,
            kind=kind,
            target_type=target_type,
            target_id=target_id,
            summary=summary[:300],
            details=details or {},
            error_class=error_class,
            remediation=remediation,
            created_at=now,
            due_at=due_at,
        )
        item.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError:
            existing = ExceptionItem.objects.get(
                kind=kind, target_type=target_type, target_id=target_id, status__in=OPEN
            )
            return Filed(item=existing, created=False)
        _audit(actor, "filed", item, summary=item.summary)
    return Filed(item=item, created=True)


def _user(actor: Actor) -> User:
    if not isinstance(actor, User):
        raise ApplicationError("Only a person can claim or work an exception.", code="not_a_person")
    return actor


@transaction.atomic
def exception_claim(
    *, actor: Actor, item: ExceptionItem, ttl: timedelta = CLAIM_TTL
) -> ExceptionItem:
    """Claim an open item (or one whose claim expired). One conditional UPDATE decides: of two
    managers claiming at once, exactly one wins and the other is told who did."""
    user = _user(actor)
    if not _claim(item, user, ttl):
        if item.is_closed:
            raise ApplicationError(f"This item is already {item.status}.", code="closed")
        raise ApplicationError(
            f"Already claimed by {item.claimed_by} until {item.claim_expires_at:%H:%M} UTC.",
            code="claimed",
        )
    _audit(actor, "claimed", item, until=item.claim_expires_at.isoformat())  # type: ignore[union-attr]
    return item


def _claim(item: ExceptionItem, user: User, ttl: timedelta) -> bool:
    """The conditional UPDATE behind every claim; `item` is refreshed either way."""
    now = timezone.now()
    claimable = (
        Q(status=ExceptionItem.Status.OPEN)
        | Q(status=ExceptionItem.Status.CLAIMED, claim_expires_at__lte=now)
        | Q(status=ExceptionItem.Status.CLAIMED, claimed_by=user)
    )
    won = ExceptionItem.objects.filter(claimable, pk=item.pk).update(
        status=ExceptionItem.Status.CLAIMED, claimed_by=user, claim_expires_at=now + ttl
    )
    item.refresh_from_db()
    return bool(won)


def _take_for_work(item: ExceptionItem, *, actor: Actor, user: User) -> ExceptionItem:
    """Lock the item for resolving or dismissing, claiming it first if `user` has not.

    The claim is audited before the resolution, in the same transaction, so the trail reads
    "claimed, then resolved" exactly as the queue page asks people to work. Someone else's live
    claim refuses the work, naming them. The row lock makes the check and the claim one step.
    """
    item = ExceptionItem.objects.select_for_update().get(pk=item.pk)
    if item.is_closed:
        raise ApplicationError(f"This item is already {item.status}.", code="closed")
    if item.claim_active() and item.claimed_by_id != user.pk:
        raise ApplicationError(
            f"{item.claimed_by} is working on this item until {item.claim_expires_at:%H:%M} UTC.",
            code="claimed",
        )
    if not item.claim_active():
        _claim(item, user, CLAIM_TTL)
        _audit(actor, "claimed", item, until=item.claim_expires_at.isoformat())  # type: ignore[union-attr]
    return item


@transaction.atomic
def exception_release(*, actor: Actor, item: ExceptionItem) -> ExceptionItem:
    """Give a claimed item back to the queue."""
    user = _user(actor)
    released = ExceptionItem.objects.filter(
        pk=item.pk, status=ExceptionItem.Status.CLAIMED, claimed_by=user
    ).update(status=ExceptionItem.Status.OPEN, claimed_by=None, claim_expires_at=None)
    item.refresh_from_db()
    if not released:
        raise ApplicationError(
            "Only the person who claimed an item can release it.", code="not_yours"
        )
    _audit(actor, "released", item)
    return item


def _close(item: ExceptionItem, *, user: User, status: str, resolution: str, note: str) -> None:
    closed = ExceptionItem.objects.filter(pk=item.pk, status__in=OPEN).update(
        status=status,
        resolution=resolution,
        note=note,
        resolved_at=timezone.now(),
        resolved_by=user,
        claimed_by=None,
        claim_expires_at=None,
    )
    if not closed:
        raise ApplicationError("Someone closed this item a moment ago.", code="closed")
    item.refresh_from_db()


@transaction.atomic
def exception_resolve(
    *, actor: Actor, item: ExceptionItem, resolution: str, note: str = "", value: str = ""
) -> ExceptionItem:
    """Resolve with one of the kind's resolutions; its handler runs in this transaction, so a
    failing handler leaves the item open and nothing half-done. An item the person has not
    claimed is claimed for them first (see `_take_for_work`)."""
    user = _user(actor)
    chosen = kind_get(item.kind).resolution(resolution)
    if chosen is None:
        raise ApplicationError(
            f"{resolution!r} is not a resolution of {item.kind}.", code="unknown_resolution"
        )
    if chosen.ask and not value.strip():
        raise ApplicationError(f"{chosen.label}: {chosen.ask}", code="value_required")
    item = _take_for_work(item, actor=actor, user=user)
    run_handler(item, chosen, actor=actor, note=note, value=value.strip())
    _close(item, user=user, status=ExceptionItem.Status.RESOLVED, resolution=resolution, note=note)
    _audit(actor, "resolved", item, resolution=resolution, value=value.strip())
    return item


@transaction.atomic
def exception_dismiss(*, actor: Actor, item: ExceptionItem, note: str) -> ExceptionItem:
    """Close without acting: the item was a false alarm. A note says why. Claims like
    `exception_resolve`."""
    user = _user(actor)
    if not note.strip():
        raise ApplicationError("Say why the item is dismissed.", code="note_required")
    item = _take_for_work(item, actor=actor, user=user)
    _close(item, user=user, status=ExceptionItem.Status.DISMISSED, resolution="", note=note)
    _audit(actor, "dismissed", item)
    return item


def exception_escalate_overdue(*, actor: Actor, now: datetime | None = None) -> int:
    """Escalate items past their due time once each: mark them, notify every member of the owner
    group in the admin, and audit it. Rows are taken with SKIP LOCKED and marked by a conditional
    update, so two sweeps at once escalate (and notify) each item exactly once."""
    moment = now or timezone.now()
    escalated = 0
    with system_context("exception_sweep"):
        # `of=("self",)`: only the items are locked. Locking the joined market row too made a
        # second sweep skip every item (the market row was taken) while keeping the item rows it
        # had locked on the way, so the first sweep skipped those: some overdue items escalated
        # in neither (a flaky concurrency test found it).
        due = list(
            ExceptionItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status__in=OPEN, escalated_at__isnull=True, due_at__lt=moment)
            .select_related("market")[:500]
        )
        for item in due:
            owner, _recovery = ownership_for(kind_get(item.kind), item.market)
            if not ExceptionItem.objects.filter(pk=item.pk, escalated_at__isnull=True).update(
                escalated_at=moment, escalated_to=owner
            ):
                continue
            members = Group.objects.filter(name=owner).values_list("user", flat=True)
            Notification.objects.bulk_create(
                [
                    Notification(
                        market=item.market,
                        second_market_id=item.second_market_id,
                        user_id=user_id,
                        item=item,
                        reason="overdue",
                        message=f"Overdue: {item.summary}"[:300],
                        created_at=moment,
                    )
                    for user_id in members
                    if user_id is not None
                ],
                ignore_conflicts=True,
            )
            _audit(actor, "escalated", item, owner_group=owner)
            escalated += 1
    return escalated


@dataclass(frozen=True)
class Notice:
    market_id: int
    user_id: int
    reason: str
    message: str
    link: str


def notifications_send_many(*, notices: Sequence[Notice], now: datetime) -> int:
    """In-admin notices about something other than an item (a lead routed by a rule that says
    `notify`), in one statement, in the caller's transaction."""
    if not notices:
        return 0
    made = Notification.objects.bulk_create(
        [
            Notification(
                market_id=n.market_id,
                user_id=n.user_id,
                reason=n.reason[:20],
                message=n.message[:300],
                link=n.link[:300],
                created_at=now,
            )
            for n in notices
        ]
    )
    return len(made)


@transaction.atomic
def notifications_mark_read(*, actor: Actor, ids: list[int]) -> int:
    user = _user(actor)
    return Notification.objects.filter(user=user, pk__in=ids, read_at__isnull=True).update(
        read_at=timezone.now()
    )


@transaction.atomic
def queue_ownership_set(
    *, actor: Actor, kind: str, market: Market, owner_group: Group, recovery_minutes: int
) -> QueueOwnership:
    """Set who owns `kind` in `market` and its recovery time (new filings use it)."""
    kind_get(kind)
    row, _ = QueueOwnership.objects.update_or_create(
        kind=kind,
        market=market,
        defaults={"owner_group": owner_group, "recovery_minutes": recovery_minutes},
    )
    audit_record(
        actor=actor,
        action="queue_ownership.set",
        target=row,
        market_id=market.id,
        data={"kind": kind, "owner_group": owner_group.name, "recovery_minutes": recovery_minutes},
    )
    return row
