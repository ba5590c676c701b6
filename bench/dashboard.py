"""Dashboard benchmark: the dashboard's server time with 1M leads and 1M submissions, for a
one-market manager and for RevOps, with the page's query count, beside the raw limit of the
same run (counting the period's submissions straight from the table, no RLS, no Django).

Workload (see bench/README.md): the bench database of bench/ingest_batch.py and
bench/admin_leads.py (leads preloaded to `--existing`), plus `--submissions` (1,000,000)
submissions COPYed in time order over the last 90 days (mixed outcomes and sources) and 50,000
exception items resolved over the same days (a third by a person), once. The default period
(the last 14 days) then holds about 155,000 submissions. Each page is fetched once to warm, then
`--repeat` times through Django's test client in this process; the median is printed.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from admin_leads import measure, prepare

OUTCOMES = (
    ["created"] * 70 + ["merged"] * 15 + ["review"] * 5 + ["quarantined"] * 5 + ["rejected"] * 5
)


def preload_submissions(conninfo: str, count: int) -> None:
    """Submissions and resolved items as the owner (COPY, triggers off), in time order."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        have_row = admin.execute("SELECT count(*) FROM leads_submission").fetchone()
        have = have_row[0] if have_row else 0
        if have < count:
            _copy_submissions(admin, count - have, rng, now)
        spread = admin.execute(
            "SELECT count(DISTINCT date_trunc('day', created_at)) FROM leads_lead"
        ).fetchone()
        if spread and spread[0] < 30:
            # Preloaded leads all carry one moment: spread them over the 90 days, in id order
            # (as they would have arrived), and let the rollup be rebuilt.
            admin.execute("SET session_replication_role = replica")
            admin.execute(
                "UPDATE leads_lead SET created_at = now() - (interval '90 days')"
                " * (1 - (id - b.lo)::float / greatest(b.hi - b.lo, 1))"
                " FROM (SELECT min(id) AS lo, max(id) AS hi FROM leads_lead) b"
            )
            admin.execute("SET session_replication_role = origin")
            admin.execute("DELETE FROM leads_intakehour")
            admin.execute("VACUUM ANALYZE leads_lead")
        done = admin.execute(
            "SELECT 1 FROM queue_exceptionitem WHERE summary = 'bench resolved' LIMIT 1"
        ).fetchone()
        if done is None:
            _resolved_items(admin)
        admin.execute("ANALYZE leads_submission")
        admin.execute("ANALYZE queue_exceptionitem")


def _copy_submissions(
    admin: psycopg.Connection, count: int, rng: random.Random, now: datetime
) -> None:
    markets = [r[0] for r in admin.execute("SELECT id FROM markets_market").fetchall()]
    sources = [r[0] for r in admin.execute("SELECT id FROM leads_source").fetchall()]
    span = admin.execute("SELECT min(id), max(id) FROM leads_lead").fetchone()
    assert span is not None
    first, last = span
    admin.execute("SET session_replication_role = replica")
    start = now - timedelta(days=90)
    step = timedelta(days=90) / count
    with admin.cursor().copy(
        "COPY leads_submission (market_id, source_id, external_id, idempotency_key, client,"
        " channel, payload, received_at, normalizer_version, trace, outcome, reason, errors,"
        " lead_id) FROM STDIN"
    ) as copy:
        for i in range(count):
            outcome = rng.choice(OUTCOMES)
            copy.write_row(
                (
                    rng.choice(markets),
                    rng.choice(sources),
                    "",
                    "",
                    "bench",
                    "batch",
                    "{}",
                    start + step * i,
                    "bench",
                    "{}",
                    outcome,
                    "",
                    "{}",
                    None if outcome == "rejected" else rng.randint(first, last),
                )
            )
    admin.execute("SET session_replication_role = origin")


def _resolved_items(admin: psycopg.Connection) -> None:
    """50,000 items resolved over the last three months, a third of them by a person."""
    span = admin.execute("SELECT min(id) FROM leads_lead").fetchone()
    assert span is not None
    first = span[0]
    admin.execute(
        "INSERT INTO queue_exceptionitem (market_id, kind, target_type, target_id, summary,"
        " details, status, error_class, remediation, resolution, note, created_at, due_at,"
        " escalated_to, resolved_at, resolved_by_id)"
        " SELECT l.market_id, 'quarantined', 'leads.lead', l.id::text, 'bench resolved', '{}',"
        " 'resolved', 'data', '', 'release', '', t.at, t.at + interval '8 hours', '',"
        " t.at + (random() * interval '6 hours'),"
        " CASE WHEN g %% 3 = 0 THEN (SELECT min(id) FROM auth_user) END"
        " FROM generate_series(1, 50000) AS g"
        " JOIN leads_lead l ON l.id = %s + g * 17"
        " CROSS JOIN LATERAL (SELECT now() - (g * interval '155 seconds') AS at) t",
        [first],
    )


def fold_rollup(conninfo: str) -> tuple[float, float]:
    """The rollup as beat keeps it: a backfill when it is empty (COPY bypassed intake), then
    one steady fold; their times (s, ms)."""
    from leadops.leads.rollups import intake_hours_fold

    backfill = 0.0
    with psycopg.connect(conninfo, autocommit=True) as admin:
        empty = admin.execute("SELECT NOT EXISTS (SELECT 1 FROM leads_intakehour)").fetchone()
        if empty and empty[0]:
            admin.execute(
                "INSERT INTO leads_rollupdirtyhour (hour)"
                " SELECT date_trunc('hour', received_at) FROM leads_submission"
                " UNION SELECT date_trunc('hour', created_at) FROM leads_lead"
                " ON CONFLICT DO NOTHING"
            )
            started = time.perf_counter()
            intake_hours_fold(everything=True)
            backfill = time.perf_counter() - started
    started = time.perf_counter()
    intake_hours_fold()
    return backfill, (time.perf_counter() - started) * 1000


def raw_period_count(conninfo: str, repeat: int) -> float:
    """The floor: counting the default period's submissions per outcome, as the owner (ms)."""
    since = datetime.now(UTC) - timedelta(days=14)
    times = []
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            admin.execute(
                "SELECT outcome, count(*) FROM leads_submission WHERE received_at >= %s"
                " GROUP BY outcome",
                [since],
            ).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", type=int, default=1_000_000)
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    conninfo, have = prepare(args.existing)
    preload_submissions(conninfo, args.submissions)
    backfill_s, steady_ms = fold_rollup(conninfo)

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    with psycopg.connect(conninfo, autocommit=True) as admin:
        subs = admin.execute("SELECT count(*) FROM leads_submission").fetchone()
    floor = raw_period_count(conninfo, args.repeat)
    print(
        f"Dashboard — {have:,}+ leads, {subs[0] if subs else 0:,} submissions, median of"
        f" {args.repeat}, {os.cpu_count()} cores"
    )
    print(f"{'who':<9} {'page':<34} {'ms':>8} {'queries':>8}")
    pages = [
        ("dashboard, last 14 days", "/admin/dashboard/"),
        ("dashboard, last 90 days", f"/admin/dashboard/?since={_days_ago(89)}"),
        ("dashboard, one market, 14 days", "/admin/dashboard/?market=DE"),
        ("home (manager's landing)", "/admin/home/"),
    ]
    for who in ("bench_manager", "bench_revops"):
        client = Client()
        client.force_login(User.objects.get(username=who))
        for name, url in pages:
            ms, queries, _shown = measure(client, url, args.repeat)
            print(f"{who[6:]:<9} {name:<34} {ms:>8.1f} {queries:>8}")
    print(f"raw limit: counting the 14-day period's submissions per outcome {floor:.1f} ms")
    if backfill_s:
        print(f"rollup backfill of every hour (once): {backfill_s:.1f} s")
    print(f"rollup fold as beat runs it (current and previous hour): {steady_ms:.1f} ms")
    print("target: under 300 ms each")


def _days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).date().isoformat()


if __name__ == "__main__":
    main()
