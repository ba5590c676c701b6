"""Audit events about an object in two markets are readable only by someone holding both.

Every reader surface: raw SQL as the runtime role (RLS), the admin audit list and detail, and
in-admin notifications about such an item (the lead audit endpoint: tests/leads). Both kinds of
event are covered: new ones (second market in a column, signed in the body) and older ones (no
column, covered by the insert-only `audit_event_scope` the migration fills).
"""

import json

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from leadops.core.access import market_context, system_context
from leadops.kinds import notes_conflict_file
from leadops.queue.models import ExceptionItem, Notification
from leadops.queue.services import exception_escalate_overdue
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

AUDIT_PAGE = "/admin/audit/auditevent/"


@pytest.fixture
def conflict(notes):
    """A two-market item (A and B) and the events its filing wrote."""
    return notes_conflict_file(actor=SYSTEM, first=notes["a"], second=notes["b"]).item


def item_events_seen(market_ids, item):
    """What raw SQL as the runtime role returns about `item` with these markets set."""
    with market_context(market_ids=market_ids), connection.cursor() as cursor:
        cursor.execute(
            "SELECT action FROM audit_event WHERE target_type = 'queue.exceptionitem'"
            " AND target_id = %s",
            [str(item.pk)],
        )
        return [row[0] for row in cursor.fetchall()]


def test_new_events_about_a_two_market_item_carry_and_sign_the_second_market(
    conflict, market_a, market_b
):
    with system_context("tests"):
        event = AuditEvent.objects.get(action="exception.filed", target_id=str(conflict.pk))

    assert event.second_market_id == market_b.id
    assert json.loads(bytes(event.body))["second_market"] == market_b.id


def test_raw_sql_with_one_market_sees_no_event_about_a_two_market_item(
    conflict, market_a, market_b
):
    assert item_events_seen([market_a.id], conflict) == []
    assert item_events_seen([market_b.id], conflict) == []
    assert item_events_seen([market_a.id, market_b.id], conflict) == ["exception.filed"]


@pytest.mark.django_db(transaction=True)
def test_older_events_are_covered_by_the_scope_table_without_any_update(
    notes, market_a, market_b, owner_sql
):
    # given an event written before events carried a second market: about the two-market item,
    # with only its first market (as every event was before)
    with system_context("tests"):
        item = notes_conflict_file(actor=SYSTEM, first=notes["a"], second=notes["b"]).item
    with transaction.atomic():
        audit_record(actor=SYSTEM, action="exception.old_style", target=item, market_id=market_a.id)
    assert "exception.old_style" in item_events_seen([market_a.id], item)

    # when the migration's backfill runs (as the owner, as `migrate` does)
    from importlib import import_module

    backfill = import_module("leadops.queue.migrations.0002_two_market_scope_escalated_to")
    owner_sql.execute(backfill.COVER_OLD_EVENTS)

    # then the one-market reader no longer sees it, the two-market reader still does, and no
    # audit row was changed to get there (the chain verifies)
    assert item_events_seen([market_a.id], item) == []
    assert "exception.old_style" in item_events_seen([market_a.id, market_b.id], item)
    from audit.verification import audit_verify_run

    assert audit_verify_run(deep=True).ok


@pytest.mark.parametrize(("who", "sees_conflict"), [("manager_a", False), ("revops", True)])
def test_admin_audit_list_and_detail_hide_two_market_events_from_one_market_readers(
    client, login_as, conflict, market_b, who, sees_conflict
):
    login_as(who)
    with system_context("tests"):
        event = AuditEvent.objects.get(action="exception.filed", target_id=str(conflict.pk))

    listing = client.get(AUDIT_PAGE, {"q": str(conflict.pk)}).content.decode()
    detail = client.get(f"{AUDIT_PAGE}{event.pk}/change/", follow=True).content.decode()

    assert (conflict.summary in detail) is sees_conflict
    assert (f"{AUDIT_PAGE}{event.pk}/change/" in listing) is sees_conflict


def test_a_notification_about_a_two_market_item_needs_both_markets(
    client, conflict, market_a, market_b, revops_user
):
    # given the conflict went overdue and escalated: RevOps members are notified
    from datetime import timedelta

    from django.utils import timezone

    exception_escalate_overdue(actor=SYSTEM, now=timezone.now() + timedelta(days=30))
    with system_context("tests"):
        notice = Notification.objects.get(item=conflict, user=revops_user)
        assert notice.second_market_id == market_b.id
        assert ExceptionItem.objects.get(pk=conflict.pk).escalated_to == "RevOps"

    # then a reader holding only A does not see it, one holding both does
    def seen(ids):
        with market_context(market_ids=ids), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM queue_notification WHERE id = %s", [notice.pk])
            return cursor.fetchone()[0]

    assert seen([market_a.id]) == 0
    assert seen([market_a.id, market_b.id]) == 1
