"""The sweep: each warning, breach and escalation step happens exactly once — with two sweeps
at once, a redelivered task, or a worker killed mid-step — and every ladder step acts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection, connections

from leadops.core.access import system_context
from leadops.leads.owners import lead_assign
from leadops.markets.models import Team
from leadops.queue.models import ExceptionItem, Notification
from leadops.sla.models import Timer, TimerStep
from leadops.sla.steps import escalation_step_forget, escalation_step_register
from leadops.sla.sweep import timers_sweep
from tests.sla.conftest import SYSTEM, clock, lead_of, new_lead, owner_name, sla_publish
from tests.threads import in_parallel

START = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LADDER = [
    {"step": "notify_owner", "after": 0},
    {"step": "notify_manager", "after": 0},
    {"step": "reassign", "after": 30},
    {"step": "file_breach", "after": 60},
]


def leads_with_owner(key, market, inbound, count: int, prefix: str = "swept") -> list[int]:
    """`count` leads of market A under a 60-minute policy with the full ladder, each owned by
    ann, arrived at START."""
    ann = User.objects.get(username="ann")
    ids = []
    with time_machine.travel(START, tick=False):
        for n in range(count):
            body = new_lead(key, f"{prefix}{n}")
            with system_context("tests"):
                lead_assign(actor=SYSTEM, lead=lead_of(body["lead_id"]), owner=ann, reason="t")
            ids.append(body["lead_id"])
    return ids


def steps_of(lead_ids: list[int]) -> list[tuple[int, str]]:
    with system_context("tests"):
        return sorted(
            TimerStep.objects.filter(timer__lead_id__in=lead_ids, key__isnull=False).values_list(
                "timer__lead_id", "key"
            )
        )


@pytest.mark.django_db
def test_the_ladder_warns_breaches_and_takes_every_step_at_its_time(
    table, key_a, market_a, inbound
):
    # given a manager for team Inbound and a lead owned by ann under the full ladder
    sla_publish(market_a, minutes=60, warn_percent=75, ladder=LADDER)
    boss = User.objects.create(username="boss")
    with system_context("tests"):
        Team.objects.filter(pk=inbound.pk).update(manager=boss)
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1)
    ann = User.objects.get(username="ann")

    def notices(user: User) -> list[str]:
        with system_context("tests"):
            return list(Notification.objects.filter(user=user).values_list("reason", flat=True))

    # when the sweep runs at 45 minutes: warned, the owner told
    timers_sweep(actor=SYSTEM, now=START + timedelta(minutes=45))
    assert clock(lead_id).warned_at is not None
    assert notices(ann) == ["sla_warned"]

    # at 61 minutes: breached; owner and manager told
    timers_sweep(actor=SYSTEM, now=START + timedelta(minutes=61))
    assert clock(lead_id).state == Timer.State.BREACHED
    assert sorted(notices(ann)) == ["sla_breached", "sla_warned"]
    assert notices(boss) == ["sla_team"]

    # at 91 minutes: reassigned through routing, away from ann
    from tests.routing.conftest import publish, revops, rule

    publish(market_a, [rule("all", team="Inbound")], author=revops("r1"), approver=revops("r2"))
    timers_sweep(actor=SYSTEM, now=START + timedelta(minutes=91))
    assert owner_name(lead_id) not in (None, "ann")

    # at 121 minutes: an sla_breach item in the queue
    timers_sweep(actor=SYSTEM, now=START + timedelta(minutes=121))
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="sla_breach", target_id=str(lead_id))
    assert item.status == "open"
    assert [key for _, key in steps_of([lead_id])] == [
        "breach",
        "step:0:notify_owner",
        "step:1:notify_manager",
        "step:2:reassign",
        "step:3:file_breach",
        "warn",
    ]
    # and a sweep after the last step finds nothing to do
    report = timers_sweep(actor=SYSTEM, now=START + timedelta(hours=5))
    assert report.looked_at == 0


@pytest.mark.django_db
def test_a_late_sweep_catches_up_every_step_in_one_run(table, key_a, market_a, inbound):
    sla_publish(market_a, minutes=60, ladder=[LADDER[0], LADDER[3]])
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1)
    report = timers_sweep(actor=SYSTEM, now=START + timedelta(hours=3))
    assert (report.warned, report.breached, report.steps) == (
        1,
        1,
        {"notify_owner": 1, "file_breach": 1},
    )
    assert clock(lead_id).next_at is None


@pytest.mark.django_db
def test_reassignment_restarts_the_clock_when_the_policy_says_so(table, key_a, market_a, inbound):
    sla_publish(market_a, minutes=60, restart_on_reassign=True)
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1)
    first = clock(lead_id)
    with time_machine.travel(START + timedelta(minutes=20), tick=False), system_context("t"):
        lead_assign(
            actor=SYSTEM, lead=lead_of(lead_id), owner=User.objects.get(username="ben"), reason="t"
        )
    second = clock(lead_id)
    with system_context("tests"):
        first.refresh_from_db()
    assert first.closed_reason == "reassigned"
    assert second.pk != first.pk
    assert second.due_at == START + timedelta(minutes=80)
    assert second.choice["trigger"] == "restart"


@pytest.mark.django_db
def test_without_restart_a_new_owner_inherits_the_running_clock(table, key_a, market_a, inbound):
    sla_publish(market_a, minutes=60, restart_on_reassign=False)
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1)
    with system_context("t"):
        lead_assign(
            actor=SYSTEM, lead=lead_of(lead_id), owner=User.objects.get(username="ben"), reason="t"
        )
        timers = list(Timer.objects.filter(lead_id=lead_id))
    assert len(timers) == 1
    assert timers[0].owner.username == "ben"
    assert timers[0].due_at == START + timedelta(minutes=60)


@pytest.mark.django_db
def test_a_policy_starting_on_assignment_starts_when_the_lead_gets_an_owner(
    table, key_a, market_a, inbound
):
    sla_publish(market_a, minutes=60, starts_on="assignment")
    with time_machine.travel(START, tick=False):
        body = new_lead(key_a, "unowned")
    assert body["sla"] is None
    with time_machine.travel(START + timedelta(hours=2), tick=False), system_context("t"):
        lead_assign(
            actor=SYSTEM,
            lead=lead_of(body["lead_id"]),
            owner=User.objects.get(username="cat"),
            reason="t",
        )
    assert clock(body["lead_id"]).due_at == START + timedelta(hours=3)
    assert clock(body["lead_id"]).choice["trigger"] == "assigned"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_take_each_step_once(table, key_a, market_a, inbound):
    # given 40 leads whose clocks all breached, with two notifying steps and an item each
    sla_publish(market_a, minutes=60, ladder=[LADDER[0], LADDER[3]])
    ids = leads_with_owner(key_a, market_a, inbound, 40, prefix="race")

    # when two sweeps run at the same moment on two connections, in small chunks
    in_parallel(2, lambda n: timers_sweep(actor=SYSTEM, now=START + timedelta(hours=3), chunk=7))

    # then each clock has each step once: one warning, one breach notice, one item per lead
    keys = steps_of(ids)
    assert len(keys) == 40 * 4
    assert len(set(keys)) == len(keys)
    with system_context("tests"):
        assert Notification.objects.filter(reason="sla_warned").count() == 40
        assert Notification.objects.filter(reason="sla_breached").count() == 40
        assert ExceptionItem.objects.filter(kind="sla_breach").count() == 40


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_step_loses_its_claims_and_the_redelivery_runs_each_step_once(
    request, table, key_a, market_a, inbound
):
    # given a ladder whose first step blocks until released, and a breached lead
    entered, release = threading.Event(), threading.Event()
    runs: list[list[int]] = []

    def slow(*, actor, lead_ids):
        runs.append(list(lead_ids))
        entered.set()
        release.wait(10)

    escalation_step_register("slow_for_test", slow)
    request.addfinalizer(lambda: escalation_step_forget("slow_for_test"))
    sla_publish(market_a, minutes=60, ladder=[{"step": "slow_for_test", "after": 0}])
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1, prefix="killed")
    pids: list[int] = []

    def doomed() -> None:
        try:
            with system_context("pid"):
                pids.append(connection.connection.info.backend_pid)
            timers_sweep(actor=SYSTEM, now=START + timedelta(hours=2))
        except Exception:  # the connection dies under it, as with a killed worker
            pass
        finally:
            connections.close_all()

    worker = threading.Thread(target=doomed)
    worker.start()
    assert entered.wait(10)

    # when the worker's database session dies mid-step (what a SIGKILL leaves behind)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
    release.set()
    worker.join(10)

    # then nothing of that sweep is left: no claim, no warning, the clock still due
    assert steps_of([lead_id]) == []
    assert clock(lead_id).state == Timer.State.RUNNING

    # and the redelivered sweep runs every step, the slow one once more and for good
    timers_sweep(actor=SYSTEM, now=START + timedelta(hours=2))
    timers_sweep(actor=SYSTEM, now=START + timedelta(hours=2))
    assert [key for _, key in steps_of([lead_id])] == ["breach", "step:0:slow_for_test", "warn"]
    assert runs == [[lead_id], [lead_id]]


@pytest.mark.django_db
def test_a_step_that_fails_keeps_its_claim_with_the_error_and_the_rest_of_the_sweep(
    request, table, key_a, market_a, inbound
):
    from leadops.core.errors import ApplicationError

    def refuses(*, actor, lead_ids):
        raise ApplicationError("nobody else to give it to")

    escalation_step_register("refuses_for_test", refuses)
    request.addfinalizer(lambda: escalation_step_forget("refuses_for_test"))
    sla_publish(
        market_a,
        minutes=60,
        ladder=[{"step": "refuses_for_test", "after": 0}, {"step": "file_breach", "after": 0}],
    )
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1, prefix="refused")
    timers_sweep(actor=SYSTEM, now=START + timedelta(hours=2))
    with system_context("tests"):
        failed = TimerStep.objects.get(key="step:0:refuses_for_test")
        assert ExceptionItem.objects.filter(kind="sla_breach", target_id=str(lead_id)).exists()
    assert failed.detail["error"] == "nobody else to give it to"
    assert timers_sweep(actor=SYSTEM, now=START + timedelta(hours=3)).looked_at == 0


@pytest.mark.broker
@pytest.mark.django_db(transaction=True)
def test_a_redelivered_sweep_task_through_the_broker_takes_no_step_twice(
    table, key_a, market_a, inbound
):
    import time

    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from leadops.celery import app
    from leadops.sla.tasks import sweep

    # given breached clocks (the sweep task reads the real clock: the leads arrived 3 hours ago)
    sla_publish(market_a, minutes=60, ladder=[LADDER[0], LADDER[3]])
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=3), tick=False):
        body = new_lead(key_a, "redelivered")
    lead_id = body["lead_id"]

    # when the same task message is delivered twice to a worker (as after a lost ack)
    finished: list[str] = []

    def count(sender=None, task_id=None, **_):
        if getattr(sender, "name", "") == sweep.name:
            finished.append(task_id)

    task_postrun.connect(count, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            sweep.apply_async(task_id="sla-sweep-redelivered")
            sweep.apply_async(task_id="sla-sweep-redelivered")
            deadline = time.monotonic() + 30
            while len(finished) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        task_postrun.disconnect(count)
    assert finished == ["sla-sweep-redelivered", "sla-sweep-redelivered"]

    # then the steps ran once: one breach, one notice, one item; the task acks late
    assert [key for _, key in steps_of([lead_id])] == [
        "breach",
        "step:0:notify_owner",
        "step:1:file_breach",
        "warn",
    ]
    with system_context("tests"):
        assert ExceptionItem.objects.filter(kind="sla_breach").count() == 1
    assert sweep.acks_late is True
    assert sweep.reject_on_worker_lost is True
    assert "sla-sweep" in app.conf.beat_schedule


@pytest.mark.django_db
def test_a_manager_gives_a_breached_lead_to_someone_else_from_its_queue_item(
    table, key_a, market_a, inbound, manager_a
):
    from leadops.queue.services import exception_resolve

    # given a breached lead of ann's with its sla_breach item
    sla_publish(market_a, minutes=60, ladder=[LADDER[3] | {"after": 0}])
    [lead_id] = leads_with_owner(key_a, market_a, inbound, 1, prefix="handed")
    timers_sweep(actor=SYSTEM, now=START + timedelta(hours=2))
    with system_context("tests"):
        item = ExceptionItem.objects.get(kind="sla_breach", target_id=str(lead_id))

    # when the manager resolves it by giving the lead to ben
    with system_context("tests"):
        exception_resolve(actor=manager_a, item=item, resolution="assign", value="ben")

    # then ben owns it and the item is resolved
    assert owner_name(lead_id) == "ben"
    with system_context("tests"):
        item.refresh_from_db()
    assert item.status == "resolved"
