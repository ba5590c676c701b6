"""Core tasks and the base class every LeadOps task uses. Tasks are thin: they take plain
values and call one service."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from leadops.core.access import market_context, system_context
from leadops.core.actors import origin_context


class ContextTask(DjangoTask):
    """Runs the task body in a transaction with an access context, cleared when it ends.

    A task called with `market_ids=[...]` sees exactly those markets (work on behalf of a
    person); otherwise it runs in `system_context("task:<name>")`. Because the context lives
    only as long as the task's transaction, the next task on the same worker connection starts
    with none (research/technical.md §2.2: thread-local tenants leaking between tasks).
    """

    # Long jobs that commit in steps (so pages can poll their progress) open their own
    # system_context per step instead of one transaction around the whole task.
    own_transactions = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        market_ids = kwargs.pop("market_ids", None)
        with origin_context("task"):
            if self.own_transactions:
                return super().__call__(*args, **kwargs)
            if market_ids is not None:
                with market_context(market_ids=market_ids):
                    return super().__call__(*args, **kwargs)
            with system_context(f"task:{self.name}"):
                return super().__call__(*args, **kwargs)


@shared_task(name="leadops.core.tasks.heartbeat")
def heartbeat() -> str:
    """Scheduled by beat; /healthz reports when a worker last ran it."""
    from leadops.core.services import heartbeat_record

    return heartbeat_record().isoformat()
