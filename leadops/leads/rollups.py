"""The dashboard's intake rollup (`IntakeHour`): per market, hour and source, submissions by
outcome and leads created — recomputed per hour, never counted up inside intake (a hot row
updated by every submission would serialise intake).

- Beat runs `intake_hours_fold` every minute: it recomputes the current and the previous hour
  and up to `FOLD_BATCH` hours marked stale, each from the source rows of that hour alone.
  Recomputing is idempotent: an unchanged hour writes nothing.
- Marked stale (`hours_mark_dirty`) by the changes that move counted rows between markets or in
  and out of the counts outside intake: a retag or "put in market" (`leads_move`), a merge and
  an unmerge (a merged-away lead stops counting as a lead created). Erasure scrubs personal data
  and leaves every row, so no count changes.
- Backfill: migration leads 0012 marks every hour that already held submissions as stale; the folds
  work through them oldest first, `FOLD_BATCH` hours per run (`manage.py rollups_fold --all`
  does it at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from leadops.core.access import system_context

FOLD_BATCH = 48
# One fold at a time: two beats, or a fold and a backfill, never recompute the same hour at once.
LOCK_KEY = 7_310_001


def hours_mark_dirty(*, lead_ids: Iterable[int]) -> None:
    """Mark stale the hours of these leads' submissions (their creation is the first of them),
    in one statement. Call it in the transaction of the change."""
    ids = sorted(set(lead_ids))
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leads_rollupdirtyhour (hour)"
            " SELECT DISTINCT date_trunc('hour', received_at) FROM leads_submission"
            "  WHERE lead_id = ANY(%s)"
            " ON CONFLICT DO NOTHING",
            [ids],
        )


RECOMPUTE = (
    "WITH fresh AS ("
    " SELECT s.market_id, date_trunc('hour', s.received_at) AS hour, s.source_id,"
    "  s.outcome AS kind, count(*)::int AS n"
    " FROM leads_submission s LEFT JOIN leads_lead l ON l.id = s.lead_id"
    " WHERE s.received_at >= %(start)s AND s.received_at < %(end)s"
    "  AND NOT coalesce(l.is_synthetic, false)"
    " GROUP BY 1, 2, 3, 4"
    " UNION ALL"
    # A lead is created by its first submission, in the same moment: the leads of an hour
    # are found through that hour's submissions (appended in time order, read by a block-range
    # index), never by scanning the leads, whose rows move as they are updated.
    " SELECT l.market_id, date_trunc('hour', l.created_at), l.first_source_id, 'lead',"
    "  count(DISTINCT l.id)::int"
    " FROM leads_submission s JOIN leads_lead l ON l.id = s.lead_id"
    " WHERE s.received_at >= %(start)s AND s.received_at < %(end)s"
    "  AND l.created_at >= %(start)s AND l.created_at < %(end)s AND NOT l.is_synthetic"
    "  AND l.merged_into_id IS NULL"
    " GROUP BY 1, 2, 3),"
    " gone AS (DELETE FROM leads_intakehour r WHERE r.hour >= %(start)s AND r.hour < %(end)s"
    "  AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.market_id = r.market_id"
    "  AND f.hour = r.hour AND f.source_id IS NOT DISTINCT FROM r.source_id AND f.kind = r.kind))"
    " INSERT INTO leads_intakehour (market_id, hour, source_id, kind, count)"
    " SELECT market_id, hour, source_id, kind, n FROM fresh"
    " ON CONFLICT (market_id, hour, source_id, kind)"
    " DO UPDATE SET count = EXCLUDED.count WHERE leads_intakehour.count <> EXCLUDED.count"
)


def _recompute(start: datetime, end: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(RECOMPUTE, {"start": start, "end": end})


def intake_hours_fold(*, now: datetime | None = None, everything: bool = False) -> int:
    """Recompute the current and previous hour and the stale ones (`FOLD_BATCH` at most, or
    all with `everything`); the number of hours recomputed (0 when another fold runs)."""
    moment = now or timezone.now()
    current = moment.replace(minute=0, second=0, microsecond=0)
    with transaction.atomic(), system_context("intake_rollup"), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        row = cursor.fetchone()
        if not (row and row[0]):
            return 0
        limit = "" if everything else f" LIMIT {FOLD_BATCH}"
        cursor.execute(
            "DELETE FROM leads_rollupdirtyhour WHERE hour IN"
            f" (SELECT hour FROM leads_rollupdirtyhour ORDER BY hour{limit}) RETURNING hour"
        )
        hours = {h for (h,) in cursor.fetchall()} | {current, current - timedelta(hours=1)}
        for hour in sorted(hours):
            _recompute(hour, hour + timedelta(hours=1))
    return len(hours)
