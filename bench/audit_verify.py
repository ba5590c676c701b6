"""Audit benchmark: verification speed over a large chain, and appends under 16 writers.

Workload (see bench/README.md): a scratch database `<name>_bench` on the DATABASE_URL server,
set up like production (roles, migrations as leadops_owner); N events (default 1,000,000) of a
realistic ~300-byte canonical body are loaded with COPY and linked exactly as the sealer links
them; then `audit_verify_run()` (links + entry hashes) runs as the runtime role, beside the
sha256 rate and the raw fetch rate of the same rows measured in the same run. Appends: 16
threads, each its own connection, each transaction doing 3 ms of other work and then one
`audit_record`, for a fixed time; beside the same loop inserting into an unchained table.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
from datetime import UTC, datetime

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_database, django_on


def _body(i: int) -> bytes:
    return (
        '{"action":"lead.routed","actor":{"id":"routing","kind":"system","label":"system:routing"},'
        f'"at":"2026-11-25T09:{(i // 60) % 60:02d}:{i % 60:02d}.000000Z","data":{{"rule":{i % 500},'
        f'"team":{i % 12},"version":{i % 7}}},"market":{i % 40},"origin":"task",'
        f'"personal":{{"email":"{hashlib.sha256(str(i).encode()).hexdigest()}"}},'
        f'"target":{{"id":"{i}","type":"leads.lead"}},"v":1}}'
    ).encode()


def load_chain(admin: psycopg.Connection, count: int) -> float:
    """COPY `count` events and their links (computed as the sealer would) into empty tables."""
    started = time.perf_counter()
    admin.execute("SET session_replication_role = replica")
    admin.execute("TRUNCATE audit_link, audit_event_scope, audit_event, audit_checkpoint")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    prev = bytes(32)
    with admin.transaction():
        with admin.cursor().copy(
            "COPY audit_event (id, occurred_at, actor_kind, actor_id, actor_label, origin, action,"
            " target_type, target_id, market_id, body, entry_hash) FROM STDIN"
        ) as copy:
            for i in range(1, count + 1):
                body = _body(i)
                copy.write_row(
                    (
                        i,
                        now,
                        "system",
                        "routing",
                        "system:routing",
                        "task",
                        "lead.routed",
                        "leads.lead",
                        str(i),
                        i % 40,
                        body,
                        hashlib.sha256(body).digest(),
                    )
                )
        with admin.cursor().copy(
            "COPY audit_link (seq, event_id, prev_hash, chain_hash) FROM STDIN"
        ) as copy:
            for i in range(1, count + 1):
                entry = hashlib.sha256(_body(i)).digest()
                chain = hashlib.sha256(prev + entry).digest()
                copy.write_row((i, i, prev, chain))
                prev = chain
        admin.execute("UPDATE audit_chain_head SET seq = %s, head = %s WHERE id = 1", [count, prev])
        admin.execute("SELECT setval(pg_get_serial_sequence('audit_event', 'id'), %s)", [count])
    admin.execute("SET session_replication_role = origin")
    admin.execute("VACUUM ANALYZE audit_event")
    admin.execute("VACUUM ANALYZE audit_link")
    return time.perf_counter() - started


def raw_fetch_rate() -> float:
    from audit.verification import chain_rows

    started = time.perf_counter()
    count = sum(1 for _ in chain_rows())
    return count / (time.perf_counter() - started)


def sha256_rate(count: int) -> float:
    bodies = [_body(i) for i in range(1, min(count, 200_000) + 1)]
    started = time.perf_counter()
    prev = bytes(32)
    for body in bodies:
        entry = hashlib.sha256(body).digest()
        prev = hashlib.sha256(prev + entry).digest()
    return len(bodies) / (time.perf_counter() - started)


def appends(seconds: float, writers: int, chained: bool) -> float:
    from django.db import connection, connections, transaction

    from audit.services import audit_record
    from leadops.core.actors import SystemActor

    actor = SystemActor("bench")
    done = [0] * writers
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(writers)

    def run(n: int) -> None:
        barrier.wait()
        try:
            while time.monotonic() < stop:
                with transaction.atomic():
                    time.sleep(0.003)  # the business part of the transaction
                    if chained:
                        audit_record(actor=actor, action="bench.append", data={"w": n})
                    else:
                        with connection.cursor() as cursor:
                            cursor.execute("INSERT INTO bench_plain (body) VALUES ('x')")
                done[n] += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description="Audit verify and append benchmark.")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per append run")
    parser.add_argument("--writers", type=int, default=16)
    args = parser.parse_args()

    bench = bench_database()
    django_on(bench)
    from django.db import connection

    from audit.verification import audit_verify_run

    with psycopg.connect(bench, autocommit=True) as admin:
        load_seconds = load_chain(admin, args.events)
        admin.execute("DROP TABLE IF EXISTS bench_plain")
        admin.execute("CREATE TABLE bench_plain (id bigserial, body bytea)")
        admin.execute("GRANT INSERT ON bench_plain TO leadops_app")
        admin.execute("GRANT USAGE ON SEQUENCE bench_plain_id_seq TO leadops_app")

    fetch = raw_fetch_rate()
    hashing = sha256_rate(args.events)
    connection.close()
    started = time.perf_counter()
    result = audit_verify_run()
    verify_seconds = time.perf_counter() - started
    assert result.ok, result.summary()
    verify_rate = result.checked / verify_seconds

    plain = appends(args.seconds, args.writers, chained=False)
    chained = appends(args.seconds, args.writers, chained=True)
    after = audit_verify_run()
    assert after.ok, after.summary()

    print(
        f"Audit benchmark — {args.events:,} events (loaded in {load_seconds:.1f}s), "
        f"{os.cpu_count()} cores"
    )
    print(f"{'measure':<46} {'rate':>14}  unit")
    rows = [
        ("audit_verify: links + entry hashes (target 200k)", verify_rate, "events/s"),
        ("  raw limit: fetch the same rows, no hashing", fetch, "rows/s"),
        ("  raw limit: 2x sha256 per event, no fetch", hashing, "events/s"),
        (f"appends, {args.writers} writers x 3 ms work, chained", chained, "commits/s"),
        ("  raw limit: same loop, plain table, no chain", plain, "commits/s"),
    ]
    for name, rate, unit in rows:
        print(f"{name:<46} {rate:>14,.0f}  {unit}")
    print(f"chain after the append runs verifies: {after.summary()}")


if __name__ == "__main__":
    main()
