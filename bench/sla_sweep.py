"""SLA sweep benchmark: one `timers_sweep` call with 0, 10, 1,000 and 10,000 clocks due among
1,000,000 open ones, beside the raw limits measured in the same run.

Workload (see bench/README.md): one process, one connection; a fresh bench database set up like
production (runtime role, RLS on); one market (Europe/Berlin, open around the clock) with a
team of ten members and a manager, and a published policy: 60 minutes, warn at 75 %, ladder
notify_owner and notify_manager at the breach, file_breach 30 minutes after. 1,000,000 leads
(nine in ten owned by a member of the team) and one open timer each, inserted in SQL as the
admin, spread over the last 90 minutes as a steady state has them (75 % running and not yet
warned, 20 % warned, 5 % breached with two ladder steps taken), each with its `started` step
and the keyed steps it has taken; every `next_at` after the sweep's moment (fixed at load time,
so nothing falls due while the benchmark runs). Per figure, N timers not used before are made
due: half past `warn_at` (one warning), a quarter past `due_at` (the breach, notify_owner and
notify_manager), a quarter breached 30 minutes ago (file_breach); `VACUUM sla_timer`; then one
`timers_sweep(now=…)` call is timed (wall time, chunks of 1,000, one transaction each); the
median of `--repeat` calls, each on its own due timers. A last figure: 1,000 due without the
VACUUM, after `--dead` clocks were made due and moved on (the dead versions sweeps leave in
`sla_timer_next` until autovacuum comes). Target: 1,000 due < 1 s.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_database, django_on
from raw_limits import bench_copy, bench_executemany, bench_lookups

MEMBERS = 10
# The sweep's read, as leadops/sla/sweep.py sends it.
SWEEP_SELECT = (
    "SELECT id, lead_id, market_id, version_id, hours_of_id, state, stage, due_at, warn_at,"
    " warned_at, breached_at FROM sla_timer WHERE next_at <= {now} ORDER BY next_at"
    " LIMIT {limit} FOR UPDATE SKIP LOCKED"
)


def setup() -> tuple[int, int, int, list[int], int]:
    """The market, its calendar, team (members and a manager) and published policy; the
    market, source, team, member and version ids."""
    from django.contrib.auth.models import Group, User

    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.leads.sources import source_ensure
    from leadops.markets.calendars import calendar_version_create
    from leadops.markets.services import manager_group_name, market_create
    from leadops.markets.teams import team_ensure, team_manager_set, team_member_set
    from leadops.sla.policies import policy_draft, policy_publish

    actor = SystemActor("bench")
    source = source_ensure(actor=actor, slug="bench", name="Bench feed")
    with system_context("bench"):
        market = market_create(actor=actor, code="DE", name="DE", timezone="Europe/Berlin")
        calendar_version_create(
            actor=actor, market=market, hours="Mon-Sun 00:00-00:00", holidays=[], note="bench"
        )
        team = team_ensure(actor=actor, market=market, name="Inbound")
        members = []
        for n in range(MEMBERS):
            user, _ = User.objects.get_or_create(username=f"sla-rep-{n}")
            team_member_set(actor=actor, team=team, user=user)
            members.append(user.pk)
        # The manager holds the market (through its managers' group), as team_manager_set asks.
        manager, _ = User.objects.get_or_create(username="sla-manager")
        manager.groups.add(Group.objects.get(name=manager_group_name(market)))
        team_manager_set(actor=actor, team=team, manager=manager)
        draft = policy_draft(
            actor=actor,
            market=market,
            key="inbound",
            name="Inbound first response",
            change_note="bench",
            minutes=60,
            warn_percent=75,
            ladder=[
                {"step": "notify_owner", "after": 0},
                {"step": "notify_manager", "after": 0},
                {"step": "file_breach", "after": 30},
            ],
        )
        version = policy_publish(actor=actor, version=draft)
    return market.pk, source.pk, team.pk, members, version.pk


def load(
    conninfo: str, ids: tuple[int, int, int, list[int], int], count: int, now: datetime
) -> float:
    """The leads, their open timers and the timers' steps, in SQL as the admin (triggers
    off: bench data only). Every `next_at` is after `now`."""
    market_id, source_id, team_id, members, version_id = ids
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")
        # Nine leads in ten owned by a member of the team (assigned), one in ten new.
        admin.execute(
            "INSERT INTO leads_lead (market_id, email, email_norm, phone, phone_e164, phone_flag,"
            " first_name, last_name, company, company_domain, title, country, region,"
            " postal_code, status, score, first_source_id, created_at, updated_at, attributes,"
            " is_synthetic, name_key, owner_id, team_id)"
            " SELECT %(market)s, e, e, '', '', '', 'Open', 'Lead' || g, '', d, '', 'DE', '', '',"
            "   CASE WHEN mod(g, 10) = 0 THEN 'new' ELSE 'assigned' END, mod(g, 101), %(source)s,"
            "   %(now)s - mod(g, 5400) * interval '1 second', %(now)s, '{}', false,"
            "   'open lead' || g,"
            "   CASE WHEN mod(g, 10) = 0 THEN NULL"
            "     ELSE (%(members)s::bigint[])[1 + mod(g, %(n)s)] END,"
            "   CASE WHEN mod(g, 10) = 0 THEN NULL ELSE %(team)s::bigint END"
            " FROM generate_series(1, %(count)s) g,"
            "   LATERAL (SELECT 'lead' || g || '@co' || mod(g, 9000) || '.example' AS e,"
            "     'co' || mod(g, 9000) || '.example' AS d) x",
            {
                "market": market_id,
                "source": source_id,
                "team": team_id,
                "members": members,
                "n": len(members),
                "now": now,
                "count": count,
            },
        )
        # The steady state of a 60-minute policy: by the lead's id, 15 in 20 started in the
        # last 45 minutes (running, next: the warning), 4 in 20 45-60 minutes ago (warned,
        # next: the deadline), 1 in 20 60-90 minutes ago (breached, notify_owner and
        # notify_manager taken, next: file_breach 30 minutes after the deadline).
        admin.execute(
            "INSERT INTO sla_timer (lead_id, market_id, version_id, choice, owner_id, state,"
            " started_at, due_at, warn_at, next_at, stage, warned_at, breached_at,"
            " paused_seconds, pause_reason, closed_reason)"
            ' SELECT l.id, l.market_id, %(version)s, \'{"policy": "inbound v1"}\', l.owner_id,'
            "   CASE WHEN mod(l.id, 20) = 19 THEN 'breached' ELSE 'running' END,"
            "   s, s + interval '60 minutes', s + interval '45 minutes',"
            "   s + CASE WHEN mod(l.id, 20) < 15 THEN interval '45 minutes'"
            "     WHEN mod(l.id, 20) < 19 THEN interval '60 minutes'"
            "     ELSE interval '90 minutes' END,"
            "   CASE WHEN mod(l.id, 20) = 19 THEN 2 ELSE 0 END,"
            "   CASE WHEN mod(l.id, 20) >= 15 THEN s + interval '45 minutes' END,"
            "   CASE WHEN mod(l.id, 20) = 19 THEN s + interval '60 minutes' END,"
            "   0, '', ''"
            " FROM leads_lead l, LATERAL (SELECT %(now)s - CASE"
            "   WHEN mod(l.id, 20) < 15 THEN mod(l.id, 2699) * interval '1 second'"
            "   WHEN mod(l.id, 20) < 19"
            "     THEN interval '45 minutes' + mod(l.id, 899) * interval '1 second'"
            "   ELSE interval '60 minutes' + mod(l.id, 1799) * interval '1 second' END AS s) x"
            " WHERE l.market_id = %(market)s",
            {"version": version_id, "now": now, "market": market_id},
        )
        admin.execute(
            "INSERT INTO sla_timerstep (timer_id, market_id, kind, key, at, actor, detail)"
            " SELECT id, market_id, 'started', NULL, started_at, 'system:intake',"
            '   \'{"trigger": "receipt"}\' FROM sla_timer'
        )
        _steps_taken(admin, "WHERE warned_at IS NOT NULL")
        admin.execute("SET session_replication_role = origin")
        for table in ("leads_lead", "sla_timer", "sla_timerstep"):
            admin.execute(f"VACUUM ANALYZE {table}")
        admin.execute("CHECKPOINT")
    return time.perf_counter() - started


def _steps_taken(admin: psycopg.Connection, where: str, params: Any = None) -> None:
    """The keyed steps the timers `where` selects have already taken, as the sweep wrote them:
    the warning of a warned clock; the breach and the first two ladder steps of a breached one."""
    admin.execute(
        "INSERT INTO sla_timerstep (timer_id, market_id, kind, key, at, actor, detail)"
        " SELECT t.id, t.market_id, s.kind, s.key, CASE s.kind WHEN 'warned' THEN t.warn_at"
        "   ELSE t.due_at END, 'system:sla_sweep', jsonb_build_object('lead', t.lead_id)"
        " FROM sla_timer t, (VALUES ('warned', 'warn', 'running'), ('warned', 'warn', 'breached'),"
        "   ('breached', 'breach', 'breached'), ('escalated', 'step:0:notify_owner', 'breached'),"
        "   ('escalated', 'step:1:notify_manager', 'breached')) s (kind, key, state)"
        f" {where} AND s.state = t.state",
        params,
    )


def make_due(conninfo: str, ids: list[int], now: datetime) -> dict[str, int]:
    """Make these (running, not yet warned) timers due at `now`: by position, half past their
    warning only, a quarter past the deadline (warned before), a quarter breached 30 minutes
    ago with notify_owner and notify_manager taken (file_breach due)."""
    groups = [("warn", "breach", "ladder")[min(2, max(0, i % 4 - 1))] for i in range(len(ids))]
    with psycopg.connect(conninfo, autocommit=True) as admin, admin.transaction():
        changed = admin.execute(
            "WITH v (id, grp, n) AS (SELECT * FROM unnest(%(ids)s::bigint[], %(groups)s::text[],"
            "   %(n)s::int[])),"
            " s AS (SELECT id, grp, %(now)s - CASE grp WHEN 'warn' THEN interval '45 minutes'"
            "   WHEN 'breach' THEN interval '60 minutes' ELSE interval '90 minutes' END"
            "   - mod(n, 300) * interval '1 second' AS s FROM v)"
            " UPDATE sla_timer t SET started_at = s.s, warn_at = s.s + interval '45 minutes',"
            "   due_at = s.s + interval '60 minutes',"
            "   next_at = s.s + CASE s.grp WHEN 'warn' THEN interval '45 minutes'"
            "     WHEN 'breach' THEN interval '60 minutes' ELSE interval '90 minutes' END,"
            "   warned_at = CASE WHEN s.grp <> 'warn' THEN s.s + interval '45 minutes' END,"
            "   state = CASE s.grp WHEN 'ladder' THEN 'breached' ELSE 'running' END,"
            "   stage = CASE s.grp WHEN 'ladder' THEN 2 ELSE 0 END,"
            "   breached_at = CASE s.grp WHEN 'ladder' THEN s.s + interval '60 minutes' END"
            " FROM s WHERE t.id = s.id AND t.warned_at IS NULL AND t.state = 'running'",
            {"ids": ids, "groups": groups, "n": list(range(len(ids))), "now": now},
        ).rowcount
        if changed != len(ids):
            raise AssertionError(f"{changed} of {len(ids)} timers made due")
        _steps_taken(admin, "WHERE t.id = ANY(%s) AND t.warned_at IS NOT NULL", [ids])
        # By id only (a FILTER is no index condition), never through `sla_timer_next`: a
        # plain index scan there would mark dead entries as such, which the sweep's bitmap
        # scans never do (the sweep itself checks that it swept exactly these).
        found = admin.execute(
            "SELECT count(*) FILTER (WHERE next_at <= %s) FROM sla_timer WHERE id = ANY(%s)",
            [now, ids],
        ).fetchone()
    if found is None or found[0] != len(ids):
        raise AssertionError(f"{found} of {len(ids)} timers due")
    return {name: groups.count(name) for name in ("warn", "breach", "ladder")}


def sweep_once(now: datetime, profile: cProfile.Profile | None = None) -> tuple[float, Any]:
    from leadops.core.actors import SystemActor
    from leadops.sla.sweep import timers_sweep

    started = time.perf_counter()
    if profile is not None:
        profile.enable()
    report = timers_sweep(actor=SystemActor("bench"), now=now)
    if profile is not None:
        profile.disable()
    return time.perf_counter() - started, report


def explain(conninfo: str, ids: list[int], now: datetime) -> list[str]:
    """The sweep's read as the runtime role runs it (RLS on, a system context), executed on
    `ids` made due, in a transaction rolled back; then those timers are swept (untimed)."""
    from django.db import connection, transaction

    from leadops.core.access import system_context

    make_due(conninfo, ids, now)
    with system_context("bench_explain"), connection.cursor() as cursor:
        query = SWEEP_SELECT.format(now="%s", limit="%s")
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {query}", [now, 1000])
        lines = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)
    _, report = sweep_once(now)
    if report.looked_at != len(ids):
        raise AssertionError(f"swept {report.looked_at}, {len(ids)} due")
    return lines


def vacuum(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("VACUUM sla_timer")


def leave_dead(conninfo: str, ids: list[int], now: datetime) -> None:
    """What the sweeps of the last hours leave in `sla_timer_next` until autovacuum comes: a
    dead version under `now` for every clock they advanced. Here: each of `ids` made due and
    moved on again (two committed updates)."""
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(
            "UPDATE sla_timer SET next_at = %s - interval '1 minute' WHERE id = ANY(%s)",
            [now, ids],
        )
        admin.execute("UPDATE sla_timer SET next_at = warn_at WHERE id = ANY(%s)", [ids])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=1_000_000, help="open timers (and leads)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per figure (median)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--dead",
        type=int,
        default=100_000,
        help="dead versions under now for the last figure (autovacuum's default threshold on"
        " 1M rows is 200,000)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile one more 1,000-due sweep (cProfile)"
    )
    args = parser.parse_args()
    rounds = [0, 10, 1_000, 10_000]

    conninfo = bench_database(fresh=True)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        copy_rate = bench_copy(admin, 100_000)
        lookup_rate = bench_lookups(admin, 10_000, 100_000)
        executemany_rate = bench_executemany(admin, 50_000)
        admin.execute("DROP TABLE IF EXISTS bench_raw_lead")
    django_on(conninfo)
    ids = setup()
    # The sweep's moment: every figure sweeps at it, so no clock falls due while the
    # benchmark runs, however long it takes.
    now = datetime.now(UTC).replace(microsecond=0)
    loaded = load(conninfo, ids, args.timers, now)

    with psycopg.connect(conninfo, autocommit=True) as admin:
        fresh = [
            r[0]
            for r in admin.execute(
                "SELECT id FROM sla_timer WHERE warned_at IS NULL AND state = 'running'"
            ).fetchall()
        ]
        open_row = admin.execute(
            "SELECT count(*) FROM sla_timer WHERE closed_at IS NULL"
        ).fetchone()
        # No autovacuum in the middle of a figure: the benchmark vacuums itself.
        admin.execute("ALTER TABLE sla_timer SET (autovacuum_enabled = false)")
    opened = open_row[0] if open_row else 0
    rng = random.Random(args.seed)
    needed = 10 + args.repeat * (sum(rounds) + 1_000) + args.dead + 1_000 * (1 + args.profile)
    pool = rng.sample(fresh, needed)

    def take(n: int) -> list[int]:
        taken = pool[:n]
        del pool[:n]
        return taken

    def timed(due: int, *, clean: bool = True) -> tuple[list[float], dict[str, int], Any]:
        times: list[float] = []
        groups: dict[str, int] = {}
        report: Any = None
        for _ in range(args.repeat):
            groups = make_due(conninfo, take(due), now) if due else {}
            if clean:
                vacuum(conninfo)
            took, report = sweep_once(now)
            if report.looked_at != due:
                raise AssertionError(f"swept {report.looked_at}, {due} due")
            times.append(took)
        return times, groups, report

    # A beat worker is warm: imports, the versions and calendars read, the first plans.
    make_due(conninfo, take(10), now)
    sweep_once(now)
    load_before = os.getloadavg()
    results = []
    for due in rounds:
        results.append((f"{due:,}", due, *timed(due)))
    # Between two autovacuums: the dead versions stay in the index under `now`.
    vacuum(conninfo)
    leave_dead(conninfo, take(args.dead), now)
    dead_label = f"1,000 + {args.dead:,} dead"
    results.append((dead_label, 1_000, *timed(1_000, clean=False)))
    load_after = os.getloadavg()
    plan = explain(conninfo, take(1_000), now)
    profiled = None
    if args.profile:
        profiled = cProfile.Profile()
        make_due(conninfo, take(1_000), now)
        vacuum(conninfo)
        sweep_once(now, profiled)

    print(
        f"SLA sweep — one timers_sweep call among {opened:,} open timers, median of"
        f" {args.repeat}, {os.cpu_count()} cores (load average {load_before[0]:.1f} before,"
        f" {load_after[0]:.1f} after)"
    )
    print(
        f"{'due':>22} {'warn':>5} {'breach':>6} {'ladder':>6} {'steps':>6}"
        f" {'ms':>9} {'(min-max)':>17} {'µs a due':>8} {'due/s':>6}  of executemany"
    )
    medians = {}
    for label, due, times, groups, report in results:
        median = statistics.median(times)
        medians[label] = median
        steps = report.warned + report.breached + sum(report.steps.values())
        spread = f"({1000 * min(times):,.1f}-{1000 * max(times):,.1f})"
        per_due = f"{1e6 * median / due:8,.0f}" if due else f"{'':>8}"
        rate = due / median
        share = f"{100 * rate / executemany_rate:5.1f} %" if due else ""
        print(
            f"{label:>22} {groups.get('warn', 0):>5,} {groups.get('breach', 0):>6,}"
            f" {groups.get('ladder', 0):>6,} {steps:>6,} {1000 * median:>9,.1f} {spread:>17}"
            f" {per_due} {rate:>6,.0f}  {share}"
        )
    for name, rate, unit in [
        ("raw limit: COPY", copy_rate, "rows/s"),
        ("raw limit: indexed lookup round trips", lookup_rate, "queries/s"),
        ("raw limit: executemany, one transaction", executemany_rate, "rows/s"),
    ]:
        print(f"  {name:<41} {rate:>10,.0f}  {unit}")
    print(f"  a 10,000-due call: {results[3][4]}")
    thousand = medians["1,000"]
    print(
        f"target: 1,000 due in < 1 s: {'met' if thousand < 1 else 'NOT met'}"
        f" ({1000 * thousand:,.0f} ms; {1000 * medians[dead_label]:,.0f} ms with"
        f" {args.dead:,} dead versions under now)"
    )
    print(
        f"cost follows what is due: 0 due {1000 * medians['0']:,.1f} ms among {opened:,} open;"
        f" 1,000 / 10 due {medians['1,000'] / medians['10']:.1f} x,"
        f" 10,000 / 1,000 due {medians['10,000'] / medians['1,000']:.1f} x"
    )
    print(f"(loaded {args.timers:,} leads and timers in {loaded:.1f} s)")
    print(
        f"The sweep's read, 1,000 due, {args.dead:,} + {args.repeat * 1_000:,} dead versions"
        " under now (EXPLAIN ANALYZE as the runtime role, rolled back):"
    )
    for line in plan:
        print(f"  {line}")
    if profiled is not None:
        print("Profile of one more 1,000-due sweep, after VACUUM (cProfile):")
        stats = pstats.Stats(profiled, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
