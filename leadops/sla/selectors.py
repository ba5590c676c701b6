"""SLA reads, in the reader's markets (RLS decides what a query sees)."""

from __future__ import annotations

from typing import Any

from leadops.sla.models import Timer, TimerStep


def lead_clocks(*, lead_id: int) -> list[Timer]:
    """A lead's clocks, latest first (a restart on reassignment makes more than one)."""
    return list(
        Timer.objects.filter(lead_id=lead_id)
        .select_related("version__policy", "owner")
        .order_by("-started_at", "-id")
    )


def clock_summary(timer: Timer | None) -> dict[str, Any] | None:
    """The `sla` of the API's lead: the latest clock's policy, deadline and state."""
    if timer is None:
        return None
    return {
        "policy": f"{timer.version.policy.key} v{timer.version.number}",
        "state": timer.state,
        "started_at": timer.started_at.isoformat(),
        "due_at": timer.due_at.isoformat(),
        "warned_at": timer.warned_at.isoformat() if timer.warned_at else None,
        "breached_at": timer.breached_at.isoformat() if timer.breached_at else None,
        "met_at": timer.met_at.isoformat() if timer.met_at else None,
        "paused": timer.state == Timer.State.PAUSED,
        "pause_reason": timer.pause_reason or None,
    }


def clock_history(*, timer_ids: list[int]) -> list[TimerStep]:
    return list(TimerStep.objects.filter(timer_id__in=timer_ids).order_by("at", "id"))
