"""Routing tasks: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from leadops.core.tasks import ContextTask


@shared_task(name="routing.tasks.waiting_wake", expires=55)
def waiting_wake() -> int:
    """Beat, every minute: route the leads whose team has opened since they began waiting."""
    from leadops.core.actors import SystemActor
    from routing.services import waiting_wake as wake

    return wake(actor=SystemActor("routing_wake"))


@shared_task(name="routing.tasks.reroute_job", base=ContextTask, own_transactions=True)
def reroute_job(job_id: int, lead_ids: list[int], user_id: int) -> dict[str, int]:
    """Route a selection of leads again as Job `job_id`, as the person who asked."""
    from django.contrib.auth.models import User

    from routing.services import reroute_job_run

    return reroute_job_run(actor=User.objects.get(pk=user_id), job_id=job_id, lead_ids=lead_ids)


@shared_task(name="routing.tasks.backtest_job", base=ContextTask, own_transactions=True)
def backtest_job(run_id: int) -> dict[str, object]:
    """Run backtest `run_id` (its job reports progress; a cancel stops it between chunks)."""
    from routing.backtests import backtest_execute

    return dict(backtest_execute(run_id=run_id))
