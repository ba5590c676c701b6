import re
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.utils import timezone

from leadops.core.access import market_context, system_context
from leadops.core.errors import ApplicationError
from leadops.kinds import NOTE_FLAGGED, note_flag, notes_conflict_file
from leadops.markets.models import Market
from leadops.markets.services import manager_group_name, market_note_create
from leadops.queue.models import ExceptionItem, Notification
from leadops.queue.registry import ExceptionKind, Resolution, kind_register
from leadops.queue.services import (
    exception_claim,
    exception_dismiss,
    exception_escalate_overdue,
    exception_file,
    exception_release,
    exception_resolve,
)
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db


def _events(action, item):
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_event WHERE action = %s AND target_type = %s"
            " AND target_id = %s",
            [action, "queue.exceptionitem", str(item.pk)],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def flagged(notes):
    return note_flag(actor=SYSTEM, note=notes["a"], reason="wrong").item


@pytest.fixture
def manager_a2(market_a):
    user = UserFactory.create(username="manager_a2", is_staff=True)
    user.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    return user


def test_filing_twice_returns_the_open_item(notes):
    first = note_flag(actor=SYSTEM, note=notes["a"], reason="wrong")
    again = note_flag(actor=SYSTEM, note=notes["a"], reason="still wrong")

    assert first.created is True
    assert again.created is False
    assert again.item.pk == first.item.pk
    with system_context("tests"):
        assert ExceptionItem.objects.filter(kind="note_flagged").count() == 1
    assert _events("exception.filed", first.item) == 1


def test_filing_again_after_resolution_opens_a_new_item(notes, manager_a, market_a):
    first = note_flag(actor=SYSTEM, note=notes["a"], reason="wrong").item
    with market_context(market_ids=[market_a.id]):
        exception_resolve(actor=manager_a, item=first, resolution="keep", note="fine")

    second = note_flag(actor=SYSTEM, note=notes["a"], reason="wrong again")

    assert second.created is True
    assert second.item.pk != first.pk


def test_due_time_follows_the_kind_recovery(notes):
    with time_machine.travel("2026-03-02 09:00:00+00:00", tick=False):
        item = note_flag(actor=SYSTEM, note=notes["a"], reason="x").item

    assert item.due_at == item.created_at + NOTE_FLAGGED.recovery


def test_claim_then_resolve_runs_the_handler_in_the_same_transaction(flagged, manager_a, market_a):
    with market_context(market_ids=[market_a.id]):
        exception_claim(actor=manager_a, item=flagged)
        exception_resolve(actor=manager_a, item=flagged, resolution="delete_note", note="stale")
        flagged.refresh_from_db()
        from leadops.markets.models import MarketNote

        assert not MarketNote.objects.filter(pk=flagged.target_id).exists()

    assert flagged.status == "resolved"
    assert flagged.resolution == "delete_note"
    assert flagged.resolved_by == manager_a
    for action in ("exception.claimed", "exception.resolved"):
        assert _events(action, flagged) == 1


def test_a_failing_handler_leaves_the_item_open_and_nothing_done(notes, manager_a, market_a):
    def explode(**kwargs):
        raise ApplicationError("CRM said no", code="crm")

    kind_register(
        ExceptionKind(
            key="test_explodes",
            label="Explodes",
            owner_group="RevOps",
            recovery=timedelta(hours=1),
            resolutions=(Resolution("go", "Go", explode),),
        )
    )
    with system_context("tests"):
        item = exception_file(
            actor=SYSTEM, kind="test_explodes", market=market_a, target=notes["a"], summary="x"
        ).item

    with market_context(market_ids=[market_a.id]), pytest.raises(ApplicationError, match="CRM"):
        exception_resolve(actor=manager_a, item=item, resolution="go")

    with system_context("tests"):
        item.refresh_from_db()
    assert item.status == "open"
    assert _events("exception.resolved", item) == 0


def test_unknown_resolution_is_refused(flagged, manager_a, market_a):
    with (
        market_context(market_ids=[market_a.id]),
        pytest.raises(ApplicationError, match="not a resolution"),
    ):
        exception_resolve(actor=manager_a, item=flagged, resolution="burn")


def test_someone_elses_claim_blocks_work_until_it_expires(flagged, manager_a, manager_a2, market_a):
    with market_context(market_ids=[market_a.id]):
        exception_claim(actor=manager_a, item=flagged, ttl=timedelta(minutes=30))
        with pytest.raises(ApplicationError, match="Already claimed by manager_a"):
            exception_claim(actor=manager_a2, item=flagged)
        with pytest.raises(ApplicationError, match="manager_a is working on this item"):
            exception_dismiss(actor=manager_a2, item=flagged, note="dup")

    with (
        time_machine.travel(timezone.now() + timedelta(minutes=31)),
        market_context(market_ids=[market_a.id]),
    ):
        taken = exception_claim(actor=manager_a2, item=flagged)

    assert taken.claimed_by == manager_a2


def test_only_the_claimant_releases(flagged, manager_a, manager_a2, market_a):
    with market_context(market_ids=[market_a.id]):
        exception_claim(actor=manager_a, item=flagged)
        with pytest.raises(ApplicationError, match="Only the person who claimed"):
            exception_release(actor=manager_a2, item=flagged)
        released = exception_release(actor=manager_a, item=flagged)

    assert released.status == "open"
    assert released.claimed_by is None
    assert _events("exception.released", flagged) == 1


def test_dismiss_needs_a_note(flagged, manager_a, market_a):
    with market_context(market_ids=[market_a.id]):
        with pytest.raises(ApplicationError, match="Say why"):
            exception_dismiss(actor=manager_a, item=flagged, note=" ")
        exception_dismiss(actor=manager_a, item=flagged, note="false alarm")
        flagged.refresh_from_db()

    assert flagged.status == "dismissed"
    assert _events("exception.dismissed", flagged) == 1


def test_two_market_item_needs_both_markets(notes, market_a, market_b):
    conflict = notes_conflict_file(actor=SYSTEM, first=notes["a"], second=notes["b"]).item

    def visible(ids):
        with market_context(market_ids=ids), connection.cursor() as cursor:
            cursor.execute("SELECT id FROM queue_exceptionitem WHERE id = %s", [conflict.pk])
            return cursor.fetchall() != []

    assert visible([market_a.id]) is False
    assert visible([market_b.id]) is False
    assert visible([market_a.id, market_b.id]) is True


def test_overdue_items_escalate_once_with_a_notification_per_owner(flagged, manager_a, manager_a2):
    later = flagged.due_at + timedelta(minutes=1)

    first = exception_escalate_overdue(actor=SYSTEM, now=later)
    second = exception_escalate_overdue(actor=SYSTEM, now=later + timedelta(minutes=1))

    assert (first, second) == (1, 0)
    with system_context("tests"):
        notified = sorted(
            Notification.objects.filter(item=flagged).values_list("user__username", flat=True)
        )
    assert notified == ["manager_a", "manager_a2"]
    assert _events("exception.escalated", flagged) == 1


def test_an_escalated_item_says_when_and_to_whom(flagged, client, manager_a):
    later = flagged.due_at + timedelta(minutes=1)

    exception_escalate_overdue(actor=SYSTEM, now=later)

    with system_context("tests"):
        flagged.refresh_from_db()
    assert (flagged.escalated_at, flagged.escalated_to) == (later, "Managers AAA")
    client.force_login(manager_a)
    # shown in the market's own time zone (AAA: Berlin), with UTC on hover
    when = later.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M %Z")
    page = client.get(f"/admin/queue/exceptionitem/{flagged.pk}/change/").content.decode()
    listing = client.get("/admin/queue/exceptionitem/").content.decode()
    assert re.search(rf"escalated <time [^>]*>{when}</time> to Managers AAA", listing)
    assert "Managers AAA" in page
    assert 'id="escalation"' in page


def _actions(item):
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT action FROM audit_event WHERE target_type = 'queue.exceptionitem'"
            " AND target_id = %s ORDER BY id",
            [str(item.pk)],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("work", ["resolve", "dismiss"])
def test_working_an_unclaimed_item_claims_it_first_in_the_same_transaction(
    flagged, manager_a, market_a, work
):
    with market_context(market_ids=[market_a.id]):
        if work == "resolve":
            done = exception_resolve(actor=manager_a, item=flagged, resolution="keep")
        else:
            done = exception_dismiss(actor=manager_a, item=flagged, note="false alarm")

    assert done.status == ("resolved" if work == "resolve" else "dismissed")
    assert done.resolved_by == manager_a
    closing = "exception.resolved" if work == "resolve" else "exception.dismissed"
    assert _actions(flagged) == ["exception.filed", "exception.claimed", closing]


def test_an_expired_claim_of_someone_else_is_taken_over_when_working(
    flagged, manager_a, manager_a2, market_a
):
    with market_context(market_ids=[market_a.id]):
        exception_claim(actor=manager_a, item=flagged, ttl=timedelta(minutes=30))
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=31)),
        market_context(market_ids=[market_a.id]),
    ):
        done = exception_resolve(actor=manager_a2, item=flagged, resolution="keep")

    assert (done.status, done.resolved_by) == ("resolved", manager_a2)
    assert _actions(flagged)[-2:] == ["exception.claimed", "exception.resolved"]


def test_a_failed_resolution_leaves_no_claim_behind(flagged, manager_a, market_a):
    # the claim shares the transaction of the resolution: a refusal undoes both
    with market_context(market_ids=[market_a.id]):
        with pytest.raises(ApplicationError):
            exception_resolve(actor=manager_a, item=flagged, resolution="burn")
        flagged.refresh_from_db()

    assert (flagged.status, flagged.claimed_by) == ("open", None)
    assert _actions(flagged) == ["exception.filed"]


def test_items_not_yet_due_are_left_alone(flagged):
    assert exception_escalate_overdue(actor=SYSTEM, now=flagged.due_at - timedelta(seconds=1)) == 0


@pytest.mark.django_db(transaction=True)
def test_two_managers_claiming_at_once_one_wins(flagged, manager_a, manager_a2, market_a):
    barrier = threading.Barrier(2)
    outcomes = {}

    def claim(user):
        barrier.wait()
        try:
            with market_context(market_ids=[market_a.id]):
                exception_claim(actor=user, item=ExceptionItem(pk=flagged.pk))
            outcomes[user.username] = "won"
        except ApplicationError as exc:
            outcomes[user.username] = exc.code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(u,)) for u in (manager_a, manager_a2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == ["claimed", "won"]
    assert _events("exception.claimed", flagged) == 1


@pytest.mark.django_db(transaction=True)
def test_a_sweep_escalates_items_while_someone_holds_their_market_row(notes, market_a):
    # Given an overdue item, and another transaction holding its market's row (RevOps saving
    # the market in the admin)
    item = note_flag(actor=SYSTEM, note=notes["a"], reason="r").item
    later = item.due_at + timedelta(minutes=1)
    held, release = threading.Event(), threading.Event()

    def hold_market():
        try:
            with system_context("tests"):
                Market.objects.select_for_update().get(pk=market_a.pk)
                held.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_market)
    holder.start()
    assert held.wait(timeout=30)

    # When the sweep runs meanwhile
    try:
        escalated = exception_escalate_overdue(actor=SYSTEM, now=later)
    finally:
        release.set()
        holder.join()

    # Then the item escalated: the sweep locks only its items, so a market row taken elsewhere
    # neither blocks it nor (with SKIP LOCKED) hides the market's items from it
    assert escalated == 1
    assert _events("exception.escalated", item) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_escalate_and_notify_once(notes, manager_a, market_a):
    # given five overdue items
    with market_context(market_ids=[market_a.id]):
        extra = [market_note_create(actor=SYSTEM, market=market_a, text=f"n{i}") for i in range(4)]
    items = [note_flag(actor=SYSTEM, note=note, reason="r").item for note in [notes["a"], *extra]]
    later = max(item.due_at for item in items) + timedelta(minutes=1)
    barrier = threading.Barrier(2)
    counts = []

    def sweep():
        barrier.wait()
        try:
            counts.append(exception_escalate_overdue(actor=SYSTEM, now=later))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == len(items)
    with system_context("tests"):
        assert Notification.objects.filter(item__in=items).count() == len(items)
    assert sum(_events("exception.escalated", item) for item in items) == len(items)
