"""Single-lead HTTP benchmark: POST /api/v1/leads from 8 closed-loop clients, latency p50/p99,
beside COPY, executemany and one-commit-per-row rates measured in the same run.

Workload (see bench/README.md): gunicorn (2 workers x 4 threads, as `make run` starts it) on
127.0.0.1 against the bench database; the load generator is this process on the same 2-core
machine (so it competes with the server for CPU); each client keeps one HTTP/1.1 connection and
posts a new realistic lead (unique email), waiting for each answer before the next.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, bench_database, bench_url, django_on
from ingest_batch import setup_org
from raw_limits import bench_commit_per_row, bench_copy, bench_executemany


def start_server(conninfo: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=bench_url(conninfo),
        DJANGO_SETTINGS_MODULE="leadops.settings.base",
        LEADOPS_LOCAL_SECRETS="true",
        API_CLIENT_RATE="1000000/min",
        LOG_LEVEL="WARNING",
    )
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    server = subprocess.Popen(
        [
            gunicorn,
            "leadops.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    sys.exit("gunicorn did not start")


def client_loop(
    port: int,
    key: str,
    stop: float,
    worker: int,
    latencies: list[float],
    statuses: dict[int, int],
    lock: threading.Lock,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {key}", "Content-Type": "application/json"}
    n = 0
    mine: list[float] = []
    seen: dict[int, int] = {}
    while time.monotonic() < stop:
        n += 1
        body = json.dumps(
            {
                "source": "bench",
                "email": f"single.{os.getpid()}.{worker}.{n}@example.com",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "company": "Engines Ltd",
                "website": "https://engines.example",
                "country": "DE",
                "postal_code": "10115",
                "phone": "+49 30 1234567",
                "utm_source": "bench",
            }
        )
        started = time.perf_counter()
        conn.request("POST", "/api/v1/leads", body, headers)
        response = conn.getresponse()
        response.read()
        mine.append(time.perf_counter() - started)
        seen[response.status] = seen.get(response.status, 0) + 1
    conn.close()
    with lock:
        latencies.extend(mine)
        for status, count in seen.items():
            statuses[status] = statuses.get(status, 0) + count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()

    conninfo = bench_database()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        copy_rate = bench_copy(admin, 100_000)
        executemany_rate = bench_executemany(admin, 50_000)
        commit_rate = bench_commit_per_row(admin, 2_000)
        admin.execute("DROP TABLE IF EXISTS bench_raw_lead")
    django_on(conninfo)
    setup_org()
    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.markets.services import api_client_create

    with system_context("bench"):
        key = api_client_create(
            actor=SystemActor("bench"), name=f"bench-{time.time():.0f}", all_markets=True
        ).key
    server = start_server(conninfo, args.port)
    try:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=client_loop, args=(args.port, key, stop, w, latencies, statuses, lock)
            )
            for w in range(args.clients)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)

    ms = sorted(x * 1000 for x in latencies)
    pct = statistics.quantiles(ms, n=100)
    print(
        f"Single-lead POST /api/v1/leads — {args.clients} closed-loop clients, "
        f"{args.seconds:.0f}s, {os.cpu_count()} cores (load generator on the same machine)"
    )
    print(f"{'measure':<46} {'value':>12}  unit")
    for name, value, unit in [
        ("requests", len(ms), ""),
        ("throughput", len(ms) / elapsed, "req/s"),
        ("p50 latency (target 10)", statistics.median(ms), "ms"),
        ("p95 latency", pct[94], "ms"),
        ("p99 latency (target 30)", pct[98], "ms"),
        ("  raw limit: one commit per row", commit_rate, "rows/s"),
        ("  raw limit: executemany, one transaction", executemany_rate, "rows/s"),
        ("  raw limit: COPY", copy_rate, "rows/s"),
    ]:
        print(f"{name:<46} {value:>12,.1f}  {unit}")
    print(f"status codes: {dict(sorted(statuses.items()))}")


if __name__ == "__main__":
    main()
