"""A lead's timeline, newest first: what came in, what people did, what the system decided.

Read in the reader's access context (RLS and the ORM guard apply): an exception item or audit
event that also names a market the reader lacks stays out, like everywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from leadops.leads.models import Activity, Lead, SourceTouch, Submission
from leadops.leads.selectors import lead_audit_events
from leadops.queue.models import ExceptionItem

# Audit actions shown as their own richer entries (submissions, activities, items).
SHOWN_OTHERWISE = ("submission.", "activity.", "exception.")


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # submission, touch, activity, change, exception
    what: str
    who: str
    door: str  # the channel or origin: api, batch, form, csv, admin, worker, system…


def lead_timeline(
    *, lead: Lead, market_ids: Iterable[int], see_global: bool, limit: int = 200
) -> list[Entry]:
    """At most `limit` entries, newest first."""
    entries: list[Entry] = []
    submissions = Submission.objects.filter(lead=lead).select_related("source")
    for s in submissions.order_by("-received_at")[:limit]:
        why = f" ({s.reason})" if s.reason else ""
        entries.append(
            Entry(
                s.received_at,
                "submission",
                f"Submission #{s.pk} from {s.source or 'unknown source'}: {s.outcome}{why}",
                s.client or "—",
                s.channel or "—",
            )
        )
    moved = SourceTouch.objects.filter(lead=lead).exclude(submission__lead=lead)
    for t in moved.select_related("source", "submission")[:limit]:
        entries.append(
            Entry(
                t.occurred_at,
                "touch",
                f"Touch from {t.source} (submission #{t.submission_id}, came with a merge)",
                t.submission.client or "—",
                t.submission.channel or "—",
            )
        )
    for a in Activity.objects.filter(lead=lead).order_by("-occurred_at")[:limit]:
        note = f": {a.note[:120]}" if a.note else ""
        entries.append(
            Entry(a.occurred_at, "activity", f"{a.get_kind_display()}{note}", a.actor, "—")
        )
    items = ExceptionItem.objects.filter(target_type="leads.lead", target_id=str(lead.pk))
    for item in items.select_related("resolved_by").order_by("-created_at")[:limit]:
        entries.append(Entry(item.created_at, "exception", f"Filed: {item.summary}", "system", "—"))
        if item.resolved_at:
            how = item.resolution or item.get_status_display().lower()
            entries.append(
                Entry(
                    item.resolved_at,
                    "exception",
                    f"{item.get_status_display()} ({how}): {item.summary}",
                    str(item.resolved_by or "—"),
                    "admin",
                )
            )
    events = lead_audit_events(lead=lead, market_ids=market_ids, see_global=see_global)
    for event in events.filter(target_type="leads.lead").order_by("-id")[:limit]:
        if event.action.startswith(SHOWN_OTHERWISE):
            continue
        entries.append(
            Entry(
                event.occurred_at,
                "change",
                describe(event.action, event.body),
                event.actor_label,
                event.origin,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def describe(action: str, body: bytes | memoryview) -> str:
    """An audit event in words: its action and the values that say what changed."""
    try:
        data = json.loads(bytes(body)).get("data") or {}
    except (ValueError, AttributeError):
        data = {}
    words = action.replace("lead.", "").replace("_", " ").replace(".", " ").capitalize()
    if action == "lead.status_changed":
        return f"Status {data.get('from')} → {data.get('to')}"
    if action == "lead.assigned":
        return f"Owner {_who(data.get('from'))} → {_who(data.get('to'))}: {data.get('reason', '')}"
    if action == "routing.decided":
        rule = f" by rule {data['rule']} (v{data.get('version')})" if data.get("rule") else ""
        owner = f": owner {_who(data.get('from'))} → {_who(data['to'])}" if "to" in data else ""
        return f"Routed, {data.get('outcome')}{rule}{owner}. {data.get('reason', '')}".strip()
    if action in ("lead.merged", "lead.unmerged"):
        return f"{words}: lead #{data.get('absorbed')} and lead #{data.get('survivor')}"
    return words


def _who(user_id: object) -> str:
    if not isinstance(user_id, int):
        return "nobody"
    from django.contrib.auth.models import User

    user = User.objects.filter(pk=user_id).only("username").first()
    return user.username if user else f"user #{user_id}"
