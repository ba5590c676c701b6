"""Escalation steps the SLA sweep can run, registered by the apps that provide them (routing
registers "reassign"), so `leadops.sla` never imports them (import-linter holds it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from leadops.core.actors import Actor

# step(actor=, lead_ids=): does its work in the caller's transaction.
Step = Callable[..., Any]
_steps: dict[str, Step] = {}


class UnknownStep(LookupError):
    pass


def escalation_step_register(name: str, step: Step) -> None:
    _steps[name] = step


def escalation_step_run(name: str, *, actor: Actor, lead_ids: Sequence[int]) -> Any:
    try:
        step = _steps[name]
    except KeyError:
        raise UnknownStep(
            f"escalation step {name!r} is not registered; known: {', '.join(sorted(_steps))}"
        ) from None
    return step(actor=actor, lead_ids=list(lead_ids))


def escalation_steps() -> list[str]:
    return sorted(_steps)


def escalation_step_forget(name: str) -> None:
    """Unregister a step (a test's own step must not outlive the test)."""
    _steps.pop(name, None)
