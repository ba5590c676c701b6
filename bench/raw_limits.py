"""Raw limits of this machine, measured in one run: the ceilings every other benchmark is read
against. Run with `make bench` (embedded PostgreSQL unless DATABASE_URL is set).

Workload (also in bench/README.md): one client process on this machine; a lead-shaped row
(bigint id, email, first and last name, market id, timestamptz, 64-byte payload text) into a
fresh table with a primary key and a btree index on email, like the leads table will have.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from leadops.settings.env import database_from_url

TABLE = "bench_raw_lead"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _rows(count: int, offset: int = 0) -> Iterator[tuple[object, ...]]:
    for i in range(offset, offset + count):
        yield (
            i,
            f"person{i}@example{i % 997}.test",
            f"First{i % 1000}",
            f"Last{i % 3000}",
            i % 40,
            START + timedelta(seconds=i),
            "x" * 64,
        )


def _connect() -> psycopg.Connection:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is unset: run through `make bench`.")
    db = database_from_url(url)
    return psycopg.connect(
        dbname=str(db["NAME"]),
        user=str(db["USER"]) or None,
        password=str(db["PASSWORD"]) or None,
        host=str(db["HOST"]) or None,
        port=str(db["PORT"]) or None,
        autocommit=True,
    )


def _reset(conn: psycopg.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(
        f"""CREATE TABLE {TABLE} (
            id bigint PRIMARY KEY, email text NOT NULL, first_name text, last_name text,
            market_id int NOT NULL, created_at timestamptz NOT NULL, payload text)"""
    )
    conn.execute(f"CREATE INDEX {TABLE}_email ON {TABLE} (email)")


def _timed(count: int, work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def bench_copy(conn: psycopg.Connection, n: int) -> float:
    _reset(conn)

    def work() -> None:
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY {TABLE} FROM STDIN") as copy,
        ):
            for row in _rows(n):
                copy.write_row(row)

    return _timed(n, work)


def bench_executemany(conn: psycopg.Connection, n: int) -> float:
    _reset(conn)

    def work() -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {TABLE} VALUES (%s,%s,%s,%s,%s,%s,%s)", _rows(n))

    return _timed(n, work)


def bench_commit_per_row(conn: psycopg.Connection, n: int) -> float:
    _reset(conn)

    def work() -> None:
        for row in _rows(n):
            conn.execute(f"INSERT INTO {TABLE} VALUES (%s,%s,%s,%s,%s,%s,%s)", row)

    return _timed(n, work)


def bench_lookups(conn: psycopg.Connection, n: int, table_rows: int) -> float:
    # Runs on the table bench_copy filled; every lookup hits the email index once.
    def work() -> None:
        with conn.cursor() as cur:
            for i in range(n):
                key = (i * 7919) % table_rows
                cur.execute(
                    f"SELECT id FROM {TABLE} WHERE email = %s",
                    (f"person{key}@example{key % 997}.test",),
                )
                if cur.fetchone() is None:
                    raise AssertionError("lookup missed a row it inserted")

    return _timed(n, work)


def bench_sha256(n: int) -> float:
    body = json.dumps({"lead": 123456, "email_hmac": "ab" * 32, "market": "DE"}).encode() * 4

    def work() -> None:
        for i in range(n):
            hashlib.sha256(body + i.to_bytes(8, "big")).digest()

    return _timed(n, work)


def bench_json(n: int) -> float:
    sample = {
        "email": "person@example.test",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines Ltd",
        "country": "GB",
        "postal_code": "SW1A 1AA",
        "utm": {"source": "google", "medium": "cpc", "campaign": "q4"},
        "market_id": 7,
    }

    def work() -> None:
        for i in range(n):
            sample["market_id"] = i
            json.dumps(sample, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    return _timed(n, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every row count")
    args = parser.parse_args()

    def scaled(n: int) -> int:
        return max(100, int(n * args.scale))

    conn = _connect()
    version = conn.execute("SHOW server_version").fetchone()
    results: list[tuple[str, int, float, str]] = []
    try:
        n = scaled(200_000)
        results.append(("PostgreSQL COPY", n, bench_copy(conn, n), "rows/s"))
        results.append(
            (
                "indexed lookup round trips",
                scaled(20_000),
                bench_lookups(conn, scaled(20_000), n),
                "queries/s",
            )
        )
        n = scaled(100_000)
        results.append(("executemany, one transaction", n, bench_executemany(conn, n), "rows/s"))
        n = scaled(3_000)
        results.append(("one commit per row", n, bench_commit_per_row(conn, n), "rows/s"))
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.close()
    n = scaled(1_000_000)
    results.append(("sha256 of a 300-byte body", n, bench_sha256(n), "hashes/s"))
    n = scaled(300_000)
    results.append(("JSON encode (sorted, compact)", n, bench_json(n), "docs/s"))

    print(
        f"Raw limits — PostgreSQL {version[0] if version else '?'}, one client, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'measure':<32} {'n':>10} {'rate':>14}  unit")
    for name, count, rate, unit in results:
        print(f"{name:<32} {count:>10,} {rate:>14,.0f}  {unit}")


if __name__ == "__main__":
    main()
