"""CSV import benchmark: a 100,000-row list end to end (parse, map, intake through the door, in
chunks of 1,000), beside the batch rate of the intake door and the raw limits of the same run.

Workload (see bench/README.md): one process, one connection, the bench database set up like
production; a UTF-8 CSV of realistic rows (email, phone, names, company, website, country,
postal code) with a header the source's mapping needs no rule for; every row new (`created`).
The import must run at the batch rate, not per row.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_database, django_on
from ingest_batch import COUNTRIES, run_door, setup_org
from raw_limits import bench_executemany

HEADER = [
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "website",
    "country",
    "postal_code",
]


def make_csv(rows: int, run: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for n in range(rows):
        country, postal = COUNTRIES[n % len(COUNTRIES)]
        writer.writerow(
            [
                f"row.{run}.{n}@list{n % 5000}.example",
                f"+49 30 {1000000 + n % 8999999}",
                "maria" if n % 2 else "JOHN",
                f"tester{n % 977}",
                f"List {n % 5000} GmbH",
                f"https://www.list{n % 5000}.example/",
                country,
                postal,
            ]
        )
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    conninfo = bench_database()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        executemany_rate = bench_executemany(admin, 50_000)
        admin.execute("DROP TABLE IF EXISTS bench_raw_lead")
    django_on(conninfo)
    setup_org()
    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.core.services import JobScope
    from leadops.imports import import_run, import_start, import_upload_create
    from leadops.leads.models import Source
    from leadops.markets.models import Market

    actor = SystemActor("bench")
    run = hashlib.sha256(str(time.time()).encode()).hexdigest()[:6]
    door_rate, door_n = run_door(10, 1000, run + "d")

    data = make_csv(args.rows, run)
    with system_context("bench"):
        source = Source.objects.get(slug="bench")
        everything = frozenset(Market.objects.values_list("id", flat=True))
    started = time.perf_counter()
    upload = import_upload_create(
        actor=actor,
        name="bench.csv",
        data=data,
        source=source,
        options={},
        scope=JobScope(market_ids=everything, global_rows=True),
    )
    import_id = import_start(actor=actor, upload=upload, enqueue=False)
    report = import_run(run_id=import_id.pk, actor=actor)
    elapsed = time.perf_counter() - started
    rows = sum(report.counts.values())

    size = f"{len(data) / 1e6:.1f} MB"
    print(f"CSV import benchmark — {args.rows:,} rows ({size}), {os.cpu_count()} cores")
    print(f"{'measure':<52} {'rate':>12}  unit")
    for name, rate, unit in [
        (f"CSV import end to end ({rows:,} rows: {dict(report.counts)})", rows / elapsed, "rows/s"),
        (f"  intake door, batches of 1,000 ({door_n:,} items)", door_rate, "leads/s"),
        ("  ratio (target: the batch rate)", 100 * (rows / elapsed) / door_rate, "%"),
        ("  raw limit: executemany, one transaction", executemany_rate, "rows/s"),
    ]:
        print(f"{name:<52} {rate:>12,.0f}  {unit}")


if __name__ == "__main__":
    main()
