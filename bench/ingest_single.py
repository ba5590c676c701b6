"""Single-lead HTTP benchmark: POST /api/v1/leads from one client and from 8 closed-loop
clients, with the database cache and with Redis, on an empty database and with 100k existing
leads; the statement budget of one request; beside COPY, executemany and one-commit-per-row
rates measured in the same run.

Workload (see bench/README.md): gunicorn started exactly as `make run` starts it (2 workers x 4
threads, access log on) on 127.0.0.1 against a fresh bench database; the load generator is this
process on the same machine (it competes with the server and PostgreSQL for the CPU); each
client keeps one HTTP/1.1 connection and posts a new realistic lead (unique email), waiting for
each answer before the next; no Idempotency-Key; the throttle on (the client's limit is high
enough never to refuse, but every request is counted).
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
from dataclasses import dataclass

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ROOT, bench_database, bench_url, django_on
from ingest_batch import preload, setup_org
from raw_limits import bench_commit_per_row, bench_copy, bench_executemany


def start_server(conninfo: str, port: int, cache_url: str) -> subprocess.Popen[bytes]:
    from leadops.launch import web_command

    env = dict(os.environ)
    env.update(
        DATABASE_URL=bench_url(conninfo),
        DJANGO_SETTINGS_MODULE="leadops.settings.base",
        LEADOPS_LOCAL_SECRETS="true",
        LOG_LEVEL="WARNING",
    )
    env.pop("CACHE_URL", None)
    if cache_url:
        env["CACHE_URL"] = cache_url
    argv = web_command("127.0.0.1", str(port))
    gunicorn = os.path.join(os.path.dirname(sys.executable), argv[0])
    server = subprocess.Popen(
        [gunicorn, *argv[1:]],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        # The access log is written, as in `make run`, and dropped; gunicorn's own log too.
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=15)


def lead(tag: str, n: int, country: str = "DE") -> dict[str, str]:
    """A new person each time: one name at one company twice would be a dedupe review."""
    return {
        "source": "bench",
        "email": f"single.{tag}.{n}@example.com",
        "first_name": "Ada",
        "last_name": f"Lovelace-{tag}-{n}",
        "company": "Engines Ltd",
        "website": "https://engines.example",
        "country": country,
        "postal_code": "10115",
        "phone": f"+49 30 {1000000 + hash((tag, n)) % 8999999}",
        "utm_source": "bench",
    }


def client_loop(
    port: int,
    key: str,
    stop: float,
    tag: str,
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
        body = json.dumps(lead(tag, n))
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


@dataclass
class Run:
    clients: int
    requests: int
    rate: float
    p50: float
    p99: float
    statuses: dict[int, int]


def load(port: int, key: str, clients: int, seconds: float, tag: str) -> Run:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=client_loop, args=(port, key, stop, f"{tag}.{w}", latencies, statuses, lock)
        )
        for w in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    pct = statistics.quantiles(ms, n=100)
    return Run(clients, len(ms), len(ms) / elapsed, statistics.median(ms), pct[98], statuses)


def statement_budget(key: str, run: str) -> dict[str, tuple[int, int]]:
    """Statements of one warm request in this process (the server's code, Django's test
    client, real commits): typical, and with the throttle syncing and `last_used_at` due."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from leadops.api import auth

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    def post(body: dict[str, str]) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/api/v1/leads", body, content_type="application/json")
        assert response.status_code in (200, 201, 202), response.content
        return len(captured)

    # Warm: the key, its markets, the config, and one of each outcome.
    for body in (lead(run, 1), lead(run, 1), lead(run, 2, country="BR"), lead(run, 3)):
        post(body)
    cases = {
        "new lead in a market": lambda n: lead(run, 100 + n),
        "repeat": lambda n: lead(run, 3),
        "unmarketed lead + its exception": lambda n: lead(run, 200 + n, country="BR"),
    }
    counts = {}
    for name, make in cases.items():
        typical = post(make(0))
        settings.API_THROTTLE_SYNC_SECONDS = 0
        auth._last_used_written.clear()
        worst = post(make(1))
        settings.API_THROTTLE_SYNC_SECONDS = 1.0
        counts[name] = (typical, worst)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"),
        help="Redis for the CACHE_URL runs ('' to skip them)",
    )
    args = parser.parse_args()

    conninfo = bench_database(fresh=True)
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
            actor=SystemActor("bench"),
            name=f"bench-{time.time():.0f}",
            all_markets=True,
            rate_limit="10000000/min",
        ).key
    budget = statement_budget(key, f"budget{time.time():.0f}")

    caches = [("database cache", "")] + ([("Redis cache", args.redis)] if args.redis else [])
    results: list[tuple[str, Run]] = []
    for existing in (0, args.existing):
        if existing:
            with psycopg.connect(conninfo, autocommit=True) as admin:
                row = admin.execute("SELECT count(*) FROM leads_lead").fetchone()
            have = row[0] if row else 0
            if have < existing:
                preload(conninfo, have, existing - have)
        for label, cache_url in caches:
            server = start_server(conninfo, args.port, cache_url)
            try:
                tag = f"{time.time():.0f}.{existing}.{bool(cache_url)}"
                load(args.port, key, 1, 2, tag + ".warm")
                where = "empty database" if not existing else f"{existing:,} existing"
                for clients in (1, args.clients):
                    run = load(args.port, key, clients, args.seconds, f"{tag}.{clients}")
                    results.append((f"{label}, {where}", run))
            finally:
                stop_server(server)

    print(
        f"Single-lead POST /api/v1/leads — gunicorn as `make run` starts it, {args.seconds:.0f}s"
        f" per run, {os.cpu_count()} cores (load generator and PostgreSQL on the same machine)"
    )
    print(
        f"{'run':<44} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}  {'% 1-commit':>10}"
    )
    for name, run in results:
        print(
            f"{name:<44} {run.clients:>7} {run.rate:>8,.0f} {run.p50:>7.1f} {run.p99:>7.1f}"
            f"  {100 * run.rate / commit_rate:>9.1f}%  {dict(sorted(run.statuses.items()))}"
        )
    print(f"{'  raw limit: one commit per row':<44} {commit_rate:>16,.0f} rows/s")
    print(f"{'  raw limit: executemany, one transaction':<44} {executemany_rate:>16,.0f} rows/s")
    print(f"{'  raw limit: COPY':<44} {copy_rate:>16,.0f} rows/s")
    print(
        "targets: 1 client p50 ≤ 10 ms; 8 clients ≥ 5 % of one commit per row"
        f" ({0.05 * commit_rate:,.0f} req/s) with p99 ≤ 4 x p50"
    )
    print("statements per request (warm process; BEGIN and COMMIT counted; budget 12):")
    for name, (typical, worst) in budget.items():
        print(f"  {name:<34} {typical:>3}   with a throttle sync and last_used_at due: {worst}")


if __name__ == "__main__":
    main()
