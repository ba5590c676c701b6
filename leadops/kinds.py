"""Exception kinds that belong to no single app below: registered here, in the composition layer.

`note_flagged` and `notes_conflict` prove the queue end to end on market notes: a person flags a
note, a manager of its market resolves it (keep, or delete the note through its service); two
notes of different markets that contradict each other go to whoever holds both markets.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from leadops.core.actors import Actor
from leadops.markets.models import MarketNote
from leadops.markets.services import market_note_delete
from leadops.queue.models import ExceptionItem
from leadops.queue.registry import ExceptionKind, Resolution, kind_register
from leadops.queue.services import Filed, exception_file


def _delete_flagged_note(*, item: ExceptionItem, actor: Actor, note: str, **_: Any) -> None:
    flagged = MarketNote.objects.filter(pk=item.target_id).first()
    if flagged is not None:
        market_note_delete(actor=actor, note=flagged)


NOTE_FLAGGED = ExceptionKind(
    key="note_flagged",
    label="Flagged market note",
    owner_group="Managers {market}",
    recovery=timedelta(hours=4),
    resolutions=(
        Resolution("keep", "Keep the note", help="The note is fine as it is."),
        Resolution(
            "delete_note", "Delete the note", _delete_flagged_note, help="Removes the note."
        ),
    ),
)
NOTES_CONFLICT = ExceptionKind(
    key="notes_conflict",
    label="Conflicting notes across markets",
    owner_group="RevOps",
    recovery=timedelta(days=1),
    resolutions=(Resolution("keep_both", "Keep both notes"),),
)


def kinds_register() -> None:
    kind_register(NOTE_FLAGGED)
    kind_register(NOTES_CONFLICT)


def note_flag(*, actor: Actor, note: MarketNote, reason: str) -> Filed:
    """Flag a note for its market's managers to review."""
    return exception_file(
        actor=actor,
        kind=NOTE_FLAGGED.key,
        market=note.market,
        target=note,
        summary=f"Note #{note.pk} flagged: {reason}",
        details={"reason": reason, "note_id": note.pk},
        error_class="data",
        remediation="Read the note; keep it or delete it.",
    )


def notes_conflict_file(*, actor: Actor, first: MarketNote, second: MarketNote) -> Filed:
    """Two notes in different markets that contradict each other: visible to holders of both."""
    return exception_file(
        actor=actor,
        kind=NOTES_CONFLICT.key,
        market=first.market,
        second_market=second.market,
        target=first,
        summary=f"Note #{first.pk} ({first.market}) contradicts #{second.pk} ({second.market})",
        details={"first": first.pk, "second": second.pk},
    )
