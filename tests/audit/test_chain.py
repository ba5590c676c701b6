"""The chain under real commits: sealed at commit, gapless, linear under concurrency."""

import itertools
import threading
import time

import pytest
from django.db import connection, connections, transaction

from audit.services import AuditOutsideTransaction, audit_record
from audit.verification import audit_verify_run
from leadops.core.access import system_context
from tests.audit.conftest import ACTOR, record_events

pytestmark = pytest.mark.django_db(transaction=True)


def _head_seq() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq FROM audit_chain_head WHERE id = 1")
        return cursor.fetchone()[0]


def _links_since(seq: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, prev_hash, chain_hash FROM audit_link WHERE seq > %s ORDER BY seq", [seq]
        )
        return cursor.fetchall()


def test_events_are_sealed_at_commit_with_gapless_seq():
    # given the head before
    start = _head_seq()

    # when three events commit in one transaction and two more in another
    with transaction.atomic():
        for i in range(3):
            audit_record(actor=ACTOR, action="test.sealed", data={"i": i})
        # then nothing is sealed before COMMIT
        assert _links_since(start) == []
    record_events(2)

    # then five links follow the old head, each linked to the one before
    links = _links_since(start)
    assert [seq for seq, *_ in links] == list(range(start + 1, start + 6))
    for (_, _, chain), (_, prev, _) in itertools.pairwise(links):
        assert bytes(prev) == bytes(chain)
    assert audit_verify_run().ok


def test_rolled_back_transaction_leaves_no_trace_and_no_gap():
    start = _head_seq()

    def change_that_fails() -> None:
        with transaction.atomic():
            audit_record(actor=ACTOR, action="test.rolled_back")
            raise RuntimeError("business rule failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    record_events(1)

    assert [seq for seq, *_ in _links_since(start)] == [start + 1]
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_event WHERE action = 'test.rolled_back'")
        assert cursor.fetchone()[0] == 0


def test_audit_record_outside_a_transaction_is_refused():
    with pytest.raises(AuditOutsideTransaction, match="inside the transaction"):
        audit_record(actor=ACTOR, action="test.autocommit")


def test_sixteen_concurrent_writers_make_one_linear_gapless_chain():
    # given 16 writers on their own connections, each doing a few ms of other work per
    # transaction before its event
    start = _head_seq()
    writers, per_writer = 16, 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    time.sleep(0.003)
                    audit_record(actor=ACTOR, action="test.concurrent", data={"w": number, "i": i})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every event has exactly one place in one chain
    assert errors == []
    links = _links_since(start)
    assert [seq for seq, *_ in links] == list(range(start + 1, start + 1 + writers * per_writer))
    prevs = [bytes(prev) for _, prev, _ in links]
    assert len(set(prevs)) == len(prevs), "two events share a parent: the chain forked"
    result = audit_verify_run()
    assert result.ok, result.summary()
    assert result.verified_through_seq == _head_seq()


def _sealed_actions(start: int) -> list[str]:
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.action FROM audit_link l JOIN audit_event e ON e.id = l.event_id"
            " WHERE l.seq > %s ORDER BY l.seq",
            [start],
        )
        return [action for (action,) in cursor.fetchall()]


def _record_then_fail(action: str) -> None:
    with transaction.atomic():
        audit_record(actor=ACTOR, action=action)
        raise RuntimeError("the savepoint rolls back")


def test_one_commit_seals_every_event_of_its_transaction_in_order_but_none_rolled_back():
    # given a transaction that appends events, loses a savepoint's events, then appends more
    start = _head_seq()
    with transaction.atomic():
        audit_record(actor=ACTOR, action="test.before")
        with pytest.raises(RuntimeError):
            _record_then_fail("test.lost")
        with transaction.atomic():  # a released savepoint keeps its event
            audit_record(actor=ACTOR, action="test.kept")
        audit_record(actor=ACTOR, action="test.after")

    # then the first firing chained all three survivors in insertion order, and nothing else
    assert _sealed_actions(start) == ["test.before", "test.kept", "test.after"]
    assert _head_seq() == start + 3
    assert audit_verify_run().ok


def test_events_appended_after_an_immediate_seal_are_sealed_at_commit():
    # given a transaction whose first events are sealed early (SET CONSTRAINTS ... IMMEDIATE)
    start = _head_seq()
    with transaction.atomic():
        audit_record(actor=ACTOR, action="test.early")
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        # when more events follow
        audit_record(actor=ACTOR, action="test.late.1")
        audit_record(actor=ACTOR, action="test.late.2")

    # then the later events are chained after the early one, once each
    assert _sealed_actions(start) == ["test.early", "test.late.1", "test.late.2"]
    assert audit_verify_run().ok


def test_concurrent_transactions_of_many_events_each_chain_without_forks_or_doubles():
    # given 8 writers whose transactions append 25 events each, interleaving their ids
    start = _head_seq()
    writers, per_transaction, transactions = 8, 25, 3
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            barrier.wait()
            for t in range(transactions):
                with transaction.atomic():
                    for i in range(per_transaction):
                        audit_record(
                            actor=ACTOR, action="test.many", data={"w": number, "t": t, "i": i}
                        )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every event has exactly one link, seqs are gapless and the chain verifies
    assert errors == []
    links = _links_since(start)
    total = writers * per_transaction * transactions
    assert [seq for seq, *_ in links] == list(range(start + 1, start + 1 + total))
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT l.event_id) FROM audit_link l WHERE l.seq > %s", [start]
        )
        assert cursor.fetchone()[0] == total
    result = audit_verify_run()
    assert result.ok, result.summary()
