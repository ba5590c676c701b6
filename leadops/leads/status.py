"""Lead status transitions, in one place. `held` leads (quarantined) are never routed."""

from __future__ import annotations

from leadops.leads.models import Lead

S = Lead.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.HELD: frozenset({S.NEW, S.DISQUALIFIED}),
    S.NEW: frozenset({S.ASSIGNED, S.WORKING, S.DISQUALIFIED}),
    S.ASSIGNED: frozenset({S.WORKING, S.QUALIFIED, S.DISQUALIFIED, S.RECYCLED}),
    S.WORKING: frozenset({S.QUALIFIED, S.DISQUALIFIED, S.RECYCLED}),
    S.QUALIFIED: frozenset({S.CONVERTED, S.DISQUALIFIED, S.RECYCLED}),
    S.CONVERTED: frozenset(),
    S.DISQUALIFIED: frozenset({S.RECYCLED}),
    S.RECYCLED: frozenset({S.NEW}),
}


def allowed_next(status: str) -> list[str]:
    return sorted(TRANSITIONS.get(status, frozenset()))


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())
