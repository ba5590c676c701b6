"""The past stays answerable: member settings keep validity intervals (their history), and
out-of-office periods are ended, never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import DatabaseError, transaction

from leadops.core.access import system_context
from leadops.markets.models import OutOfOffice, TeamMember
from leadops.markets.teams import out_of_office_add, out_of_office_end, team_member_set
from tests.routing.conftest import SYSTEM

pytestmark = pytest.mark.django_db

JAN = datetime(2026, 1, 5, 12, tzinfo=UTC)
# After the fixture made the members (now): the change happens later than that.
LATER = datetime.now(UTC) + timedelta(days=30)


def test_a_members_settings_as_they_stood_at_a_past_moment(inbound):
    # given ann's weight and cap changed a month from now
    with system_context("tests"):
        ann = TeamMember.objects.get(team=inbound, user__username="ann")
        with time_machine.travel(LATER, tick=False):
            team_member_set(actor=SYSTEM, team=inbound, user=ann.user, weight=3, cap_open=5)

        # when her settings are read as of the day before and the day after
        before = ann.history.as_of(LATER - timedelta(days=1))
        after = ann.history.as_of(LATER + timedelta(days=1))

    # then each moment answers with what was in force then
    assert (before.weight, before.cap_open) == (1, None)
    assert (after.weight, after.cap_open) == (3, 5)


def test_an_absence_is_ended_not_deleted_and_deleting_is_refused(inbound):
    with system_context("tests"):
        # given ben away for January
        ben = TeamMember.objects.get(team=inbound, user__username="ben")
        absence = out_of_office_add(
            actor=SYSTEM, member=ben, starts_at=JAN, ends_at=JAN + timedelta(days=20)
        )

        # when he comes back early
        ended = out_of_office_end(actor=SYSTEM, absence=absence, at=JAN + timedelta(days=3))

        # then the period is kept, shortened
        assert ended.ends_at == JAN + timedelta(days=3)
        assert OutOfOffice.objects.filter(pk=absence.pk).exists()

        # and deleting it is refused by the database itself
        with pytest.raises(DatabaseError, match="never deleted"), transaction.atomic():
            OutOfOffice.objects.filter(pk=absence.pk).delete()
