"""Lead list benchmark: the admin changelist's server time with 1M leads, for a one-market
manager and for RevOps, default ordering and each filter, with its query count, beside the raw
limit of the same run (the first page read straight from the index, no RLS, no Django).

Workload (see bench/README.md): the bench database of bench/ingest_batch.py (created and
preloaded with `--existing` leads if it holds fewer); 10 % of the leads `working`, 1 % owned by
one of ten reps, 0.1 % with an open exception item. Each URL is fetched once to warm, then
`--repeat` times through Django's test client in this process (the whole request: session,
middleware, RLS context, the page's queries and the template); the median is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_database, django_on
from ingest_batch import preload, setup_org

REPS = 10


def shape_data(conninfo: str) -> None:
    """Statuses, owners and open items as a working team would have them (as the owner role:
    set-based SQL, once; a second run finds it done)."""
    from django.contrib.auth.models import Group, User

    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.markets.models import REVOPS_GROUP, Market
    from leadops.markets.services import manager_group_name
    from leadops.markets.teams import team_ensure, team_member_set

    actor = SystemActor("bench")
    with system_context("bench"):
        de = Market.objects.get(code="DE")
        team = team_ensure(actor=actor, market=de, name="Bench reps")
        reps = []
        for i in range(REPS):
            user, _ = User.objects.get_or_create(
                username=f"bench_rep{i}", defaults={"is_staff": True}
            )
            team_member_set(actor=actor, team=team, user=user)
            reps.append(user.pk)
        manager, _ = User.objects.get_or_create(
            username="bench_manager", defaults={"is_staff": True}
        )
        manager.groups.add(Group.objects.get(name=manager_group_name(de)))
        revops, _ = User.objects.get_or_create(username="bench_revops", defaults={"is_staff": True})
        revops.groups.add(Group.objects.get(name=REVOPS_GROUP))
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")
        if not _any(admin, "SELECT 1 FROM leads_lead WHERE status = 'working' LIMIT 1"):
            admin.execute("UPDATE leads_lead SET status = 'working' WHERE id % 10 = 3")
        if not _any(admin, "SELECT 1 FROM leads_lead WHERE owner_id IS NOT NULL LIMIT 1"):
            admin.execute(
                "UPDATE leads_lead SET owner_id = (%s::bigint[])[1 + (id / 100) %% %s],"
                " status = 'assigned' WHERE id %% 25 = 7",
                [reps, REPS],
            )
        if not _any(admin, "SELECT 1 FROM queue_exceptionitem WHERE summary = 'bench' LIMIT 1"):
            admin.execute(
                "INSERT INTO queue_exceptionitem (market_id, kind, target_type, target_id,"
                " summary, details, status, error_class, remediation, resolution, note,"
                " created_at, due_at, escalated_to)"
                " SELECT market_id, 'unmarketed', 'leads.lead', id::text, 'bench', '{}', 'open',"
                " 'data', '', '', '', now(), now() + interval '8 hours', ''"
                " FROM leads_lead WHERE id % 1000 = 11"
                # A lead the intake benchmarks left unmarketed has its open item already.
                " ON CONFLICT DO NOTHING"
            )
        admin.execute("SET session_replication_role = origin")
        admin.execute("ANALYZE leads_lead")
        admin.execute("ANALYZE queue_exceptionitem")


def _any(admin: psycopg.Connection, query: str) -> bool:
    return admin.execute(query).fetchone() is not None


def raw_first_page(conninfo: str, repeat: int) -> float:
    """The floor: the first 100 rows of the default order straight from the index (ms)."""
    times = []
    with psycopg.connect(conninfo, autocommit=True) as admin:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            admin.execute(
                "SELECT * FROM leads_lead ORDER BY updated_at DESC, id DESC LIMIT 100"
            ).fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def measure(client: object, url: str, repeat: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answer = client.get(url)  # type: ignore[attr-defined]
    assert answer.status_code == 200, (url, answer.status_code)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            answer = client.get(url)  # type: ignore[attr-defined]
            times.append((time.perf_counter() - started) * 1000)
    shown = answer.content.count(b'name="_selected_action"')
    return statistics.median(times), len(queries.captured_queries), shown


def prepare(existing: int) -> tuple[str, int]:
    """The bench database with at least `existing` leads, shaped (shared with dashboard.py):
    its admin conninfo and the lead count before preloading."""
    conninfo = bench_database()
    django_on(conninfo)
    setup_org()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        counted = admin.execute("SELECT count(*) FROM leads_lead").fetchone()
    have = counted[0] if counted else 0
    if have < existing:
        preload(conninfo, have, existing - have)
    shape_data(conninfo)
    return conninfo, have


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    conninfo, have = prepare(args.existing)

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from leadops.core.access import system_context
    from leadops.leads.models import Source
    from leadops.markets.models import Market

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    with system_context("bench"):
        de = Market.objects.get(code="DE").pk
        source = Source.objects.get(slug="bench").pk
        from leadops.leads.models import Lead

        # A rep who owns leads in DE, so the manager's owner filter shows rows.
        rep = Lead.objects.filter(market_id=de, owner__isnull=False).values_list(
            "owner_id", flat=True
        )[0]
        email = (
            Lead.objects.filter(market_id=de)
            .exclude(email_norm="")
            .values_list("email_norm", flat=True)[0]
        )
    week = quote((datetime.now(UTC) - timedelta(days=7)).isoformat())
    filters = [
        ("default order", ""),
        ("status working", "?status__exact=working"),
        ("market DE", f"?market__id__exact={de}"),
        ("owner: nobody", "?owner=none"),
        ("owner: one rep", f"?owner={rep}"),
        ("source", f"?first_source__id__exact={source}"),
        ("created in the last 7 days", f"?created_at__gte={week}"),
        ("has an open exception", "?open_exception=yes"),
        ("search: an exact email", f"?q={quote(email)}"),
        ("page 50 of the default order", "?p=49"),
    ]
    floor = raw_first_page(conninfo, args.repeat)
    print(f"Lead list — {have:,}+ leads, median of {args.repeat}, {os.cpu_count()} cores")
    print(f"{'who':<9} {'filter':<30} {'ms':>8} {'queries':>8} {'rows shown':>11}")
    for who in ("bench_manager", "bench_revops"):
        client = Client()
        client.force_login(User.objects.get(username=who))
        for name, query in filters:
            ms, queries, shown = measure(client, "/admin/leads/lead/" + query, args.repeat)
            print(f"{who[6:]:<9} {name:<30} {ms:>8.1f} {queries:>8} {shown:>11}")
    print(f"raw limit: first 100 rows of the default order from the index {floor:.1f} ms")
    print("target: every page under 300 ms; queries the same whatever the rows shown")


if __name__ == "__main__":
    main()
