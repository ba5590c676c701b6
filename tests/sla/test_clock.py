"""First-response clocks: started with the lead, in business time, pinned to their policy,
paused and resumed, met by what counts, closed when a lead needs no response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from leadops.core.access import system_context
from leadops.leads.services import activity_record, lead_status_change
from leadops.markets.calendars import calendar_version_create
from leadops.sla.models import Timer
from leadops.sla.timers import lead_hold, lead_resume
from tests.factories import UserFactory
from tests.sla.conftest import (
    SYSTEM,
    clock,
    clock_or_none,
    history,
    lead_of,
    new_lead,
    sla_publish,
)

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def office_hours(market, hours: str = "Mon-Fri 09:00-17:00", holidays=()) -> None:
    with system_context("tests"):
        calendar_version_create(
            actor=SYSTEM, market=market, hours=hours, holidays=list(holidays), note="office"
        )


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def test_intake_starts_the_clock_in_the_same_transaction_and_answers_with_it(
    table, key_a, market_a, inbound
):
    # given a 60-minute policy in market A (open around the clock)
    version = sla_publish(market_a, minutes=60, warn_percent=50)
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)

    # when a lead arrives
    with time_machine.travel(start, tick=False):
        body = new_lead(key_a, "ada")

    # then the answer carries the clock and the timer is pinned to the version
    timer = clock(body["lead_id"])
    assert body["sla"] == {
        "policy": "first-response v1",
        "due_at": (start + timedelta(minutes=60)).isoformat(),
        "state": "running",
    }
    assert timer.version_id == version.pk
    assert timer.due_at == start + timedelta(minutes=60)
    assert timer.warn_at == start + timedelta(minutes=30)
    assert timer.next_at == timer.warn_at
    assert history(body["lead_id"]) == ["started"]


def test_no_policy_in_force_starts_no_clock(table, key_a, market_a):
    body = new_lead(key_a, "ada")
    assert body["sla"] is None
    assert clock_or_none(body["lead_id"]) is None


def test_a_lead_created_outside_business_hours_is_due_an_hour_into_the_next_open_day(
    table, key_a, market_a
):
    # given office hours Mon-Fri 09-17 in Berlin and a 60-minute policy
    office_hours(market_a)
    sla_publish(market_a, minutes=60)

    # when a lead arrives on Friday evening
    with time_machine.travel(at(BERLIN, 2026, 12, 4, 19, 30), tick=False):
        body = new_lead(key_a, "late-friday")

    # then it is due on Monday at 10:00 Berlin time
    assert clock(body["lead_id"]).due_at == at(BERLIN, 2026, 12, 7, 10, 0)


def test_a_holiday_is_not_business_time(table, key_a, market_a):
    # given Monday 7 December is a holiday
    office_hours(market_a, holidays=[["2026-12-07", "Test holiday"]])
    sla_publish(market_a, minutes=120)

    # when a lead arrives on Friday at 16:00
    with time_machine.travel(at(BERLIN, 2026, 12, 4, 16, 0), tick=False):
        body = new_lead(key_a, "before-holiday")

    # then one hour counts on Friday and the second on Tuesday (Monday is skipped)
    assert clock(body["lead_id"]).due_at == at(BERLIN, 2026, 12, 8, 10, 0)


@pytest.mark.parametrize(
    ("zone", "market_fixture", "friday", "key_fixture", "country"),
    [
        # Europe/Berlin springs forward on Sunday 29 March 2026 (CET → CEST).
        (BERLIN, "market_a", (2026, 3, 27), "key_a", "DE"),
        # America/New_York falls back on Sunday 1 November 2026 (EDT → EST).
        (NEW_YORK, "market_b", (2026, 10, 30), "key_b_all", "FR"),
    ],
)
def test_a_deadline_across_a_dst_change_keeps_the_wall_clock_in_two_zones(
    request, table, zone, market_fixture, friday, key_fixture, country
):
    # given office hours 09-17 in the market's zone and a 90-minute policy
    market = request.getfixturevalue(market_fixture)
    key = (
        request.getfixturevalue("key_all")
        if key_fixture == "key_b_all"
        else request.getfixturevalue(key_fixture)
    )
    office_hours(market)
    sla_publish(market, minutes=90)

    # when a lead arrives on the Friday before the change at 16:30 local time
    arrived = datetime(friday[0], friday[1], friday[2], 16, 30, tzinfo=zone)
    with time_machine.travel(arrived, tick=False):
        body = new_lead(key, f"dst-{zone.key.replace('/', '-')}", country=country)

    # then 30 minutes count on Friday and 60 on Monday: due 10:00 local, the new offset
    due = clock(body["lead_id"]).due_at
    monday = datetime(friday[0], friday[1], friday[2], tzinfo=zone) + timedelta(days=3)
    assert due.astimezone(zone).replace(tzinfo=None) == monday.replace(hour=10).replace(tzinfo=None)
    assert due.astimezone(zone).utcoffset() != arrived.utcoffset()


def test_pausing_stops_business_time_and_resuming_moves_the_deadline(
    table, key_a, market_a, manager_a
):
    # given office hours and a 60-minute policy; a lead arrives on Thursday at 10:00
    office_hours(market_a)
    sla_publish(market_a, minutes=60)
    with time_machine.travel(at(BERLIN, 2026, 12, 3, 10, 0), tick=False):
        body = new_lead(key_a, "waiting")
    lead = lead_of(body["lead_id"])

    # when it is put on hold at 10:20 (40 minutes left) and resumed on Friday at 09:30
    with time_machine.travel(at(BERLIN, 2026, 12, 3, 10, 20), tick=False), system_context("t"):
        paused = lead_hold(actor=manager_a, lead=lead, reason="waiting on the customer")
    with time_machine.travel(at(BERLIN, 2026, 12, 4, 9, 30), tick=False), system_context("t"):
        resumed = lead_resume(actor=manager_a, lead=lead)

    # then paused, the sweep skips it; resumed, the 40 minutes left run from Friday 09:30
    assert paused.state == Timer.State.PAUSED
    assert paused.next_at is None
    assert paused.pause_reason == "waiting on the customer"
    assert resumed.state == Timer.State.RUNNING
    assert resumed.due_at == at(BERLIN, 2026, 12, 4, 10, 10)
    # 6h40 of Thursday's business time and 30 minutes of Friday's were on hold
    assert resumed.paused_seconds == (6 * 60 + 40 + 30) * 60
    assert history(body["lead_id"]) == ["started", "paused", "resumed"]


def test_a_policy_change_mid_flight_does_not_move_running_deadlines(table, key_a, market_a):
    # given a lead under v1 (60 minutes)
    sla_publish(market_a, minutes=60)
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        first = new_lead(key_a, "under-v1")

    # when v2 (15 minutes) is published and another lead arrives
    v2 = sla_publish(market_a, minutes=15)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        second = new_lead(key_a, "under-v2")

    # then the first keeps v1's deadline, the second gets v2's, and v1 is retired
    assert clock(first["lead_id"]).due_at == start + timedelta(minutes=60)
    assert first["sla"]["policy"] == "first-response v1"
    assert clock(second["lead_id"]).version_id == v2.pk
    assert clock(second["lead_id"]).due_at == start + timedelta(minutes=20)
    with system_context("tests"):
        assert clock(first["lead_id"]).version.state == "retired"


def test_the_most_specific_policy_wins_then_the_lowest_priority_number(
    table, key_a, market_a, inbound
):
    # given a market-wide policy, one for the web source, and two for web leads scoring ≥ 0
    sla_publish(market_a, key="everyone", minutes=240)
    sla_publish(market_a, key="web", minutes=120, sources=["web"])
    sla_publish(market_a, key="web-hot-b", minutes=30, sources=["web"], score_min=0, priority=20)
    sla_publish(market_a, key="web-hot-a", minutes=45, sources=["web"], score_min=0, priority=10)

    # when a web lead arrives
    body = new_lead(key_a, "hot")

    # then of the two most specific policies the lower priority number wins, and why is kept
    timer = clock(body["lead_id"])
    assert body["sla"]["policy"] == "web-hot-a v1"
    assert timer.choice["policy"] == "web-hot-a v1"
    assert "lower priority number" in timer.choice["why"]
    assert [m["policy"] for m in timer.choice["matched"]] == [
        "web-hot-a v1",
        "web-hot-b v1",
        "web v1",
        "everyone v1",
    ]


def test_a_field_narrows_a_policy(table, key_a, market_a, inbound):
    sla_publish(market_a, key="everyone", minutes=240)
    sla_publish(market_a, key="acme", minutes=10, field="company", field_value="ACME")
    body = new_lead(key_a, "acme-person", company="Acme")
    other = new_lead(key_a, "other-person", company="Initech")
    assert body["sla"]["policy"] == "acme v1"
    assert other["sla"]["policy"] == "everyone v1"


def _activity(lead, actor, kind="call", *, when=None, by_user=None, automated=False):
    with system_context("tests"):
        return activity_record(
            actor=actor,
            lead=lead,
            kind=kind,
            occurred_at=when or datetime.now(UTC),
            by_user=by_user,
            automated=automated,
        )[0]


def test_what_counts_as_a_first_response(table, key_a, market_a, inbound):
    # given an owner-only policy counting calls and emails, and a lead owned by ann
    from leadops.leads.owners import lead_assign

    sla_publish(market_a, minutes=60, activity_kinds=["call", "email"], response_by="owner")
    body = new_lead(key_a, "counts")
    lead = lead_of(body["lead_id"])
    ann = UserFactory._meta.model.objects.get(username="ann")
    ben = UserFactory._meta.model.objects.get(username="ben")
    with system_context("tests"):
        lead_assign(actor=SYSTEM, lead=lead, owner=ann, reason="test")

    # when a nurture tool's e-mail, a note, ben's call and a repeat form fill arrive
    _activity(lead, SYSTEM, "email", automated=True)
    _activity(lead, SYSTEM, "note", by_user=ann)
    _activity(lead, SYSTEM, "call", by_user=ben)
    new_lead(key_a, "counts")  # the same person fills the form again: a touch
    still = clock(body["lead_id"])

    # and then ann calls
    _activity(lead, SYSTEM, "call", by_user=ann)

    # then none of the first four stopped the clock; ann's call met it
    assert still.state == Timer.State.RUNNING
    met = clock(body["lead_id"])
    assert met.state == Timer.State.MET
    assert met.closed_at is not None
    assert history(body["lead_id"])[-1] == "met"


def test_an_activity_dated_before_the_breach_but_logged_after_it_is_met_late(
    table, key_a, market_a, inbound
):
    from leadops.sla.sweep import timers_sweep

    # given a lead whose 60-minute clock breached
    sla_publish(market_a, minutes=60, ladder=[])
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        body = new_lead(key_a, "late-log")
    timers_sweep(actor=SYSTEM, now=start + timedelta(minutes=61))
    assert clock(body["lead_id"]).state == Timer.State.BREACHED
    lead = lead_of(body["lead_id"])

    # when a call made at 10:45 is logged at 12:00
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        _activity(lead, SYSTEM, when=start + timedelta(minutes=45))

    # then the breach turns into "met late, recorded"; the breach stays in the history
    timer = clock(body["lead_id"])
    assert timer.state == Timer.State.MET_LATE
    assert timer.met_at == start + timedelta(minutes=45)
    assert timer.breached_at is not None
    assert history(body["lead_id"]) == ["started", "warned", "breached", "met_late"]


def test_a_response_after_the_deadline_answers_a_breached_clock_without_unbreaching_it(
    table, key_a, market_a, inbound
):
    from leadops.sla.sweep import timers_sweep

    sla_publish(market_a, minutes=60, ladder=[])
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        body = new_lead(key_a, "too-late")
    timers_sweep(actor=SYSTEM, now=start + timedelta(minutes=61))
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        _activity(lead_of(body["lead_id"]), SYSTEM, when=start + timedelta(minutes=90))
    timer = clock(body["lead_id"])
    assert timer.state == Timer.State.BREACHED
    assert timer.met_at == start + timedelta(minutes=90)
    assert timer.closed_reason == "responded"
    assert timer.next_at is None


@pytest.mark.parametrize("how", ["disqualified", "merged", "erased"])
def test_leads_that_need_no_response_close_their_clocks(table, key_a, market_a, inbound, how):
    from audit.services import subject_erase
    from leadops.leads.merges import leads_merge

    sla_publish(market_a, minutes=60)
    body = new_lead(key_a, "closing")
    other = new_lead(key_a, "survivor")
    lead = lead_of(body["lead_id"])

    with system_context("tests"):
        lead_hold(actor=SYSTEM, lead=lead, reason="waiting for Ada's answer")
        if how == "disqualified":
            lead_status_change(actor=SYSTEM, lead=lead, status="disqualified")
        elif how == "merged":
            leads_merge(actor=SYSTEM, survivor=lead_of(other["lead_id"]), absorbed=lead)
        else:
            subject_erase(actor=SYSTEM, identity="email:closing@example.com")

    timer = clock(body["lead_id"])
    assert timer.state == Timer.State.CLOSED
    assert timer.closed_reason == how
    assert timer.next_at is None
    assert clock(other["lead_id"]).closed_at is None
    # the hold's reason, typed by a person, goes with an erasure (and only then)
    with system_context("tests"):
        reasons = [
            timer.pause_reason,
            *timer.steps.filter(kind="paused").values_list("detail__reason", flat=True),
        ]
    erased = how == "erased"
    assert reasons == (["", "(erased)"] if erased else ["waiting for Ada's answer"] * 2)


def test_a_published_version_cannot_be_changed_even_with_raw_sql(table, market_a):
    version = sla_publish(market_a, minutes=60)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL leadops.system = 'tests'")
        with pytest.raises(Exception, match="can only be retired"):
            cursor.execute("UPDATE sla_policyversion SET minutes = 5 WHERE id = %s", [version.pk])


def test_a_policy_on_the_owners_hours_counts_only_their_working_time(
    table, key_a, market_a, inbound
):
    from leadops.leads.owners import lead_assign
    from leadops.markets.models import TeamMember
    from leadops.markets.teams import team_member_set

    # given ann works 14:00-18:00 Berlin time and a policy on the owner's hours, from assignment
    office_hours(market_a)
    with system_context("tests"):
        member = TeamMember.objects.get(user__username="ann")
        team_member_set(
            actor=SYSTEM, team=member.team, user=member.user, hours="Mon-Fri 14:00-18:00"
        )
    sla_publish(market_a, minutes=60, hours="owner", starts_on="assignment")
    with time_machine.travel(at(BERLIN, 2026, 12, 3, 9, 0), tick=False):
        body = new_lead(key_a, "owners-hours")

    # when the lead is given to ann at 10:00 (the market is open, ann is not yet)
    with time_machine.travel(at(BERLIN, 2026, 12, 3, 10, 0), tick=False), system_context("t"):
        lead_assign(
            actor=SYSTEM,
            lead=lead_of(body["lead_id"]),
            owner=UserFactory._meta.model.objects.get(username="ann"),
            reason="t",
        )

    # then the hour counts from 14:00, when ann starts
    timer = clock(body["lead_id"])
    assert timer.hours_of is not None
    assert timer.hours_of.username == "ann"
    assert timer.due_at == at(BERLIN, 2026, 12, 3, 15, 0)


def test_a_held_lead_released_starts_its_clock_then(table, key_a, market_a, inbound):
    from leadops.leads.models import Lead

    # given a lead quarantined for a broken phone (held: no clock)
    sla_publish(market_a, minutes=60)
    with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), tick=False):
        response = new_lead(key_a, "held", phone="not a phone")
    assert response["status"] == "held"
    assert response["sla"] is None
    assert clock_or_none(response["lead_id"]) is None

    # when a person releases it at 11:00
    released_at = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)
    with time_machine.travel(released_at, tick=False), system_context("tests"):
        lead_status_change(actor=SYSTEM, lead=lead_of(response["lead_id"]), status=Lead.Status.NEW)

    # then its clock starts at the release, as if it had just arrived
    assert clock(response["lead_id"]).due_at == datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_a_lead_put_in_another_market_takes_its_clocks_there_and_starts_that_markets(
    table, key_a, market_a, market_b, inbound, manager_a
):
    from leadops.core.access import market_context
    from leadops.leads.services import lead_market_set

    # given a lead of A under A's 60-minute policy, and B's 30-minute policy
    sla_publish(market_a, minutes=60)
    sla_publish(market_b, minutes=30)
    start = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        body = new_lead(key_a, "mover")

    # when a person puts it in B ten minutes later
    with time_machine.travel(start + timedelta(minutes=10), tick=False), system_context("t"):
        lead_market_set(actor=SYSTEM, lead=lead_of(body["lead_id"]), market=market_b)

    # then A's clock closed as moved, B's clock runs from now, and both live in B now
    with system_context("tests"):
        timers = list(Timer.objects.filter(lead_id=body["lead_id"]).order_by("started_at"))
    assert [(t.closed_reason, t.market_id) for t in timers] == [
        ("moved", market_b.pk),
        ("", market_b.pk),
    ]
    # (B keeps New York's office hours: 10:10 UTC is 05:10 there, so 30 minutes from 09:00)
    assert timers[1].due_at == at(NEW_YORK, 2026, 12, 3, 9, 30)
    # and A's manager sees nothing of them any more
    with market_context(market_ids=[market_a.pk]):
        assert not Timer.objects.filter(lead_id=body["lead_id"]).exists()


def test_a_lead_never_has_two_open_clocks_the_index_decides(table, key_a, market_a, inbound):
    from leadops.sla.timers import starting_leads, timers_start

    # given a lead with its open clock
    sla_publish(market_a, minutes=60)
    body = new_lead(key_a, "once")

    # when something starts its clock again (a retried call, a racing assignment)
    with system_context("tests"):
        again = timers_start(
            actor=SYSTEM,
            leads=starting_leads([body["lead_id"]]),
            now=datetime.now(UTC),
            trigger="receipt",
        )
        open_clocks = Timer.objects.filter(lead_id=body["lead_id"], closed_at__isnull=True)

        # then nothing new starts: the partial unique index on open clocks refuses it
        assert again == {}
        assert open_clocks.count() == 1
