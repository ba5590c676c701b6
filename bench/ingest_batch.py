"""Batch intake benchmark: 1,000-item calls through the intake door (what POST
/api/v1/leads/batch runs, without HTTP), on an empty database and with 1M existing leads, for
a clean batch, for one where half the leads are unmarketed or quarantined, and for one where
30 % of the leads may be someone known (a dedupe review: the phone of an earlier lead), beside
COPY and executemany rows/s measured in the same run.

Workload (see bench/README.md): one process, one connection; a fresh bench database set up like
production (runtime role, RLS on); 4 markets with a 5-row market table; each item a realistic
lead (email, phone, names, company, website, country, postal code, UTMs) with a unique email
(`created`), 10% of them repeating an earlier email (`merged`). Per lead: validation,
normalization, tagging, dedupe lookup, submission + lead + touch + history + one audit event,
in the mixed batch an exception for each unmarketed or quarantined lead, in the review batch a
`duplicate_review` item for each lead sharing a phone with a lead of the clean run.

Routed: the same clean batch into a fifth market (NL) that has published routing rules (a
50-rule version: country, source and score conditions, a regex, a catch-all last) and a team of
four always-available members, round robin: per lead also rule evaluation, the pointer, the
assignment with its history row, the decision and two more audit events — and NL has a published
SLA policy (60 business minutes, warn at 75 %), so each lead also starts its first-response
clock (one INSERT of timers and their history rows per call). The other markets have no rules
and no policy, so the other figures are intake alone.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_database, django_on
from raw_limits import bench_copy, bench_executemany

COUNTRIES = [("DE", "10115"), ("FR", "75001"), ("US", "10001"), ("AU", "2000"), ("DE", "80331")]


def setup_org() -> None:
    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.leads.sources import source_ensure
    from leadops.markets import market_table
    from leadops.markets.models import Market
    from leadops.markets.services import market_create

    actor = SystemActor("bench")
    source_ensure(actor=actor, slug="bench", name="Bench feed")
    with system_context("bench"):
        markets = {m.code: m for m in Market.objects.all()}
        for code, zone in [
            ("DE", "Europe/Berlin"),
            ("FR", "Europe/Paris"),
            ("US", "America/New_York"),
            ("AU", "Australia/Sydney"),
            ("NL", "Europe/Amsterdam"),
        ]:
            if code not in markets:
                markets[code] = market_create(actor=actor, code=code, name=code, timezone=zone)
        if market_table.market_table_published() is None:
            draft = market_table.market_table_draft_create(actor=actor, note="bench")
            for code in ["DE", "FR", "US", "AU"]:
                market_table.market_table_row_add(
                    actor=actor,
                    version=draft,
                    kind="country",
                    key=code,
                    country=code,
                    market=markets[code],
                )
            market_table.market_table_row_add(
                actor=actor,
                version=draft,
                kind="postal",
                key="8",
                country="DE",
                market=markets["FR"],
            )
            market_table.market_table_row_add(
                actor=actor,
                version=draft,
                kind="country",
                key="NL",
                country="NL",
                market=markets["NL"],
            )
            market_table.market_table_publish(actor=actor, version=draft)
        setup_routing(markets["NL"])


def setup_routing(market: Any) -> None:
    """NL's team, an always-open calendar and a 50-rule version, published by import."""
    from django.contrib.auth.models import User

    from leadops.core.actors import SystemActor
    from leadops.markets.calendars import calendar_version_create
    from leadops.markets.teams import team_ensure, team_member_set
    from routing.models import RuleSet
    from routing.versions import rule_set_ensure, version_import_publish

    actor = SystemActor("bench")
    if RuleSet.objects.filter(market=market).exists():
        return
    calendar_version_create(
        actor=actor, market=market, hours="Mon-Sun 00:00-00:00", holidays=[], note="bench"
    )
    team = team_ensure(actor=actor, market=market, name="Inbound")
    for n in range(4):
        user, _ = User.objects.get_or_create(username=f"bench-owner-{n}")
        team_member_set(actor=actor, team=team, user=user)
    rules = [
        {
            "id": f"c{n}",
            "when": {
                "all": [
                    {"field": "country", "op": "in", "value": [f"X{n}", f"Y{n}"]},
                    {"field": "score", "op": "gte", "value": n},
                ]
            },
            "then": {"team": "Inbound", "pick": "weighted"},
        }
        for n in range(30)
    ] + [
        {
            "id": f"s{n}",
            "when": {"field": "source", "op": "eq", "value": f"partner-{n}"},
            "then": {"team": "Inbound"},
        }
        for n in range(18)
    ]
    rules.append(
        {
            "id": "ceo",
            "when": {"field": "title", "op": "regex", "value": "(?i)^(ceo|founder)"},
            "then": {"team": "Inbound", "tags": ["exec"]},
        }
    )
    rules.append({"id": "everyone", "then": {"team": "Inbound"}})
    version_import_publish(
        actor=actor,
        rule_set=rule_set_ensure(actor=actor, market=market),
        content={"rules": rules},
        change_note="bench rules",
    )
    from leadops.sla.policies import policy_draft, policy_publish

    draft = policy_draft(
        actor=actor, market=market, key="inbound", name="Inbound", change_note="bench policy"
    )
    policy_publish(actor=actor, version=draft)


def items(
    start: int,
    count: int,
    run: str,
    *,
    mixed: bool = False,
    review_of: str = "",
    routed: bool = False,
) -> list:
    """`mixed`: of every four leads, one matches no market-table row (BR) and one has a phone
    that is not a phone (quarantined): half the batch files exceptions. `review_of`: three
    leads in ten take the phone lead n had in that earlier run: 30 % review matches."""
    from leadops.leads.models import Source
    from leadops.leads.prepare import IngestItem

    source = Source.objects.get(slug="bench")
    offset = int(hashlib.sha256(run.encode()).hexdigest()[:6], 16)  # phones differ per run
    made = []
    for i in range(start, start + count):
        n = i - count // 10 if i % 10 == 9 and i >= count else i  # every tenth repeats an email
        country, postal = ("NL", "1011") if routed else COUNTRIES[n % len(COUNTRIES)]
        phone = f"+49 30 {1000000 + (n + offset) % 8999999}"
        if review_of and n % 10 < 3:
            earlier = int(hashlib.sha256(review_of.encode()).hexdigest()[:6], 16)
            phone = f"+49 30 {1000000 + (n + earlier) % 8999999}"
        if mixed and n % 4 == 1:
            country, postal = "BR", "01310-100"
        elif mixed and n % 4 == 3:
            phone = "12"
        fields = {
            "email": f"Person.{run}.{n}@Company{n % 5000}.example",
            "phone": phone,
            "first_name": "maria" if n % 2 else "JOHN",
            # Names differ per run: the same name at the same company would be a review.
            "last_name": f"Tester-{run}-{n % 977}",
            "company": f"Company {n % 5000} GmbH",
            "website": f"https://www.company{n % 5000}.example/",
            "country": country,
            "postal_code": postal,
            "utm_source": "google",
            "utm_campaign": "q4",
        }
        made.append(IngestItem(source=source, payload=fields, fields=fields))
    return made


def run_door(
    batches: int,
    size: int,
    run: str,
    *,
    mixed: bool = False,
    review_of: str = "",
    routed: bool = False,
) -> tuple[float, int]:
    """Batches through the intake door (validation, answers, the scope rule), as the batch
    endpoint calls it, without HTTP; the rate and how many answers were reviews."""
    from leadops.core.actors import SystemActor
    from leadops.intake import Submitted, intake_submit

    actor = SystemActor("bench")
    prepared = [
        [
            Submitted(payload={**i.fields, "source": "bench"})
            for i in items(b * size, size, run, mixed=mixed, review_of=review_of, routed=routed)
        ]
        for b in range(batches)
    ]
    started = time.perf_counter()
    total = reviews = 0
    for batch in prepared:
        answers = intake_submit(actor=actor, channel="batch", items=batch)
        total += len(answers)
        reviews += sum(a.outcome == "review" for a in answers)
    return total / (time.perf_counter() - started), reviews


def preload(conninfo: str, start: int, count: int) -> float:
    """Existing leads straight into the table (COPY as the admin, triggers off)."""
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        market_ids = [
            r[0]
            for r in admin.execute(
                "SELECT id FROM markets_market WHERE code <> 'UNASSIGNED'"
            ).fetchall()
        ]
        source_row = admin.execute("SELECT id FROM leads_source WHERE slug = 'bench'").fetchone()
        assert source_row is not None
        source_id = source_row[0]
        admin.execute("SET session_replication_role = replica")
        now = datetime.now(UTC)
        with admin.cursor().copy(
            "COPY leads_lead (market_id, email, email_norm, phone, phone_e164, phone_flag,"
            " first_name, last_name, company, company_domain, title, country, region,"
            " postal_code, status, score, first_source_id, created_at, updated_at, attributes,"
            " is_synthetic, name_key) FROM STDIN"
        ) as copy:
            for i in range(start, start + count):
                email = f"existing{i}@old{i % 9000}.example"
                copy.write_row(
                    (
                        market_ids[i % len(market_ids)],
                        email,
                        email,
                        "",
                        "",
                        "",
                        "Old",
                        f"Lead{i}",
                        "",
                        f"old{i % 9000}.example",
                        "",
                        "DE",
                        "",
                        "",
                        "new",
                        0,
                        source_id,
                        now,
                        now,
                        "{}",
                        False,
                        f"old lead{i}",
                    )
                )
        admin.execute("SET session_replication_role = origin")
        # What a database that has held these leads for a while looks like: vacuumed (hint
        # bits set, the visibility map built) and analyzed. Without the VACUUM, autovacuum
        # starts on the million fresh rows during the next measurement and takes one of the
        # two cores from it.
        admin.execute("VACUUM (ANALYZE) leads_lead")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--existing", type=int, default=1_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="reuse the bench database instead of a fresh one"
    )
    args = parser.parse_args()

    conninfo = bench_database(fresh=not args.keep)
    with psycopg.connect(conninfo, autocommit=True) as admin:
        copy_rate = bench_copy(admin, 100_000)
        executemany_rate = bench_executemany(admin, 50_000)
        admin.execute("DROP TABLE IF EXISTS bench_raw_lead")
    django_on(conninfo)
    setup_org()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        counted = admin.execute("SELECT count(*) FROM leads_lead").fetchone()
    have = counted[0] if counted else 0
    run = hashlib.sha256(str(time.time()).encode()).hexdigest()[:6]
    run_door(1, 100, run + "w")  # a web process is warm: imports, caches, the first plans
    from leadops.core.collector import collector_tune

    collector_tune()  # as leadops/wsgi.py tunes a web worker once it has started
    clean_empty, _ = run_door(args.batches, args.size, run + "a")
    mixed_empty, _ = run_door(args.batches, args.size, run + "b", mixed=True)
    review_empty, reviewed = run_door(args.batches, args.size, run + "e", review_of=run + "a")
    routed_empty, _ = run_door(args.batches, args.size, run + "g", routed=True)
    loaded = 0.0
    with psycopg.connect(conninfo, autocommit=True) as admin:
        counted = admin.execute("SELECT count(*) FROM leads_lead").fetchone()
    now_have = counted[0] if counted else 0
    if now_have < args.existing:
        loaded = preload(conninfo, now_have, args.existing - now_have)
    clean_full, _ = run_door(args.batches, args.size, run + "c")
    mixed_full, _ = run_door(args.batches, args.size, run + "d", mixed=True)
    review_full, _ = run_door(args.batches, args.size, run + "f", review_of=run + "c")
    routed_full, _ = run_door(args.batches, args.size, run + "h", routed=True)

    print(
        f"Batch intake — {args.batches} calls x {args.size} items through the intake door, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'measure':<64} {'rate':>10}  unit  of executemany")
    for name, rate, unit in [
        (f"clean batch, empty database ({have:,} leads before)", clean_empty, "leads/s"),
        ("half unmarketed or quarantined, same database", mixed_empty, "leads/s"),
        (f"30 % review matches ({reviewed:,} reviews), same database", review_empty, "leads/s"),
        ("clean batch routed + SLA clock (50 rules, 4 owners), same db", routed_empty, "leads/s"),
        (f"clean batch, {args.existing:,}+ existing leads", clean_full, "leads/s"),
        (f"half unmarketed or quarantined, {args.existing:,}+ existing", mixed_full, "leads/s"),
        (f"30 % review matches, {args.existing:,}+ existing", review_full, "leads/s"),
        (f"clean batch routed + SLA clock, {args.existing:,}+ existing", routed_full, "leads/s"),
        ("  raw limit: COPY", copy_rate, "rows/s"),
        ("  raw limit: executemany, one transaction", executemany_rate, "rows/s"),
    ]:
        share = 100 * rate / executemany_rate
        print(f"{name:<64} {rate:>10,.0f}  {unit:<7} {share:5.1f} %")
    print(
        f"targets: ≥ 4,000 leads/s or ≥ 4.5 % of executemany ({0.045 * executemany_rate:,.0f});"
        f" with {args.existing:,} existing ≥ 90 % of the empty figure"
    )
    print(
        f"  with 1M existing / empty: clean {100 * clean_full / clean_empty:.0f} %,"
        f" mixed {100 * mixed_full / mixed_empty:.0f} %,"
        f" review {100 * review_full / review_empty:.0f} %"
    )
    print(f"  30 % review matches / clean, empty: {100 * review_empty / clean_empty:.0f} %")
    print(
        f"  routed + clock / clean: empty {100 * routed_empty / clean_empty:.0f} %,"
        f" {args.existing:,} existing {100 * routed_full / clean_full:.0f} %"
        " (DESIGN.md: the whole pipeline ≥ 2,000 leads/s)"
    )
    if loaded:
        print(f"(preloaded existing leads in {loaded:.1f}s)")


if __name__ == "__main__":
    main()
