"""Backtest benchmark: a draft routing version replayed over 100,000 past leads of one market,
beside the compiled evaluation of the same version on the same leads in the same run.

Workload (see bench/README.md): one process, one connection; a fresh bench database set up like
production (runtime role, RLS on); one market (DE, open around the clock) with two teams (four
and two members); a published 50-rule version (country, source and score conditions, a title
regex, a catch-all) and a draft that sends a third of the countries to the other team. 100,000
leads COPYed into the market (countries of DACH and beyond, scores 0 to 100, titles, created over
30 days) with one history row each, as intake writes them. `routing.backtest.backtest_run`:
for each lead, its values then (history), the members and calendars then, the version published
then and the draft, both evaluated (no traces), counted into the summary, matrix and rule hits.
Target: 100k leads in < 20 s.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import bench_database, django_on

COUNTRIES = ["DE", "DE", "DE", "AT", "CH", "NL", "BE", "FR", "PL", "DK"]
TITLES = ["CEO", "CTO", "Head of Sales", "Engineer", "Marketing Manager", "Founder", ""]


def rules(second: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for n in range(40):
        country = COUNTRIES[n % len(COUNTRIES)]
        team = second if (second and n % 3 == 0) else "Inbound"
        found.append(
            {
                "id": f"c{n}",
                "when": {
                    "all": [
                        {"field": "country", "op": "in", "value": [country, f"X{n}"]},
                        {"field": "score", "op": "gte", "value": 90 - 2 * n},
                    ]
                },
                "then": {"team": team},
            }
        )
    found += [
        {
            "id": f"s{n}",
            "when": {"field": "source", "op": "eq", "value": f"partner-{n}"},
            "then": {"team": "Inbound"},
        }
        for n in range(8)
    ]
    found.append(
        {
            "id": "exec",
            "when": {"field": "title", "op": "regex", "value": "(?i)^(ceo|cto|founder)"},
            "then": {"team": "Inbound", "tags": ["exec"]},
        }
    )
    found.append({"id": "everyone", "then": {"team": "Inbound"}})
    return found


def setup(count: int, seed: int) -> tuple[Any, Any]:
    from django.contrib.auth.models import User

    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.leads.history import history_insert_sql
    from leadops.leads.sources import source_ensure
    from leadops.markets.calendars import calendar_version_create
    from leadops.markets.services import market_create
    from leadops.markets.teams import team_ensure, team_member_set
    from routing.versions import rule_set_ensure, version_draft_create, version_import_publish

    actor = SystemActor("bench")
    source = source_ensure(actor=actor, slug="bench", name="Bench feed")
    with system_context("bench"):
        market = market_create(actor=actor, code="DE", name="DE", timezone="Europe/Berlin")
        calendar_version_create(
            actor=actor, market=market, hours="Mon-Sun 00:00-00:00", holidays=[], note="bench"
        )
        for name, size in (("Inbound", 4), ("Partners", 2)):
            team = team_ensure(actor=actor, market=market, name=name)
            for n in range(size):
                user, _ = User.objects.get_or_create(username=f"{name.lower()}-{n}")
                team_member_set(actor=actor, team=team, user=user)
        rule_set = rule_set_ensure(actor=actor, market=market)
        version_import_publish(
            actor=actor, rule_set=rule_set, content={"rules": rules("")}, change_note="bench v1"
        )
        draft = version_draft_create(
            actor=User.objects.get(username="inbound-0"),
            rule_set=rule_set,
            content={"rules": rules("Partners")},
            change_note="a third of the countries to Partners",
        )
    return market, (draft, source, random.Random(seed), datetime.now(UTC), history_insert_sql)


def load(conninfo: str, market_id: int, source_id: int, count: int, rng: Any, now: Any) -> float:
    """The leads by COPY as the admin (triggers off), then one history row each."""
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SET session_replication_role = replica")
        with admin.cursor().copy(
            "COPY leads_lead (market_id, email, email_norm, phone, phone_e164, phone_flag,"
            " first_name, last_name, company, company_domain, title, country, region,"
            " postal_code, status, score, first_source_id, created_at, updated_at, attributes,"
            " is_synthetic, name_key) FROM STDIN"
        ) as copy:
            for i in range(count):
                email = f"past{i}@co{i % 9000}.example"
                created = now - timedelta(minutes=rng.randrange(30 * 24 * 60))
                copy.write_row(
                    (
                        market_id,
                        email,
                        email,
                        "",
                        "",
                        "",
                        "Past",
                        f"Lead{i}",
                        "",
                        f"co{i % 9000}.example",
                        rng.choice(TITLES),
                        rng.choice(COUNTRIES),
                        "",
                        "",
                        "new",
                        rng.randrange(101),
                        source_id,
                        created,
                        created,
                        "{}",
                        False,
                        f"past lead{i}",
                    )
                )
        admin.execute("SET session_replication_role = origin")
        admin.execute("ANALYZE leads_lead")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    conninfo = bench_database(fresh=True)
    django_on(conninfo)
    from leadops.core.access import system_context
    from leadops.core.sql import sql_run
    from leadops.leads.fields import FACT_COLUMNS, lead_facts
    from leadops.leads.models import Lead
    from leadops.markets.selectors import markets_by_id
    from routing.backtest import backtest_run
    from routing.engine import compile_version

    market, (draft, source, rng, now, history_insert_sql) = setup(args.leads, args.seed)
    loaded = load(conninfo, market.pk, source.pk, args.leads, rng, now)
    with system_context("bench"):
        # One history row a lead, dated at its creation, as intake writes them.
        sql_run(
            history_insert_sql("leads_lead").replace("%b, %b, %b", "created_at, %b, %b")
            + " WHERE market_id = %b",
            ["ingested", "+", market.pk],
        )
    with psycopg.connect(conninfo, autocommit=True) as admin:
        # The organisation as it stood before the first lead: members and the published
        # version dated 31 days back (as the admin, triggers off: bench data only).
        admin.execute("SET session_replication_role = replica")
        admin.execute(
            "UPDATE markets_historicalteammember SET history_date = history_date - interval"
            " '31 days'"
        )
        admin.execute(
            "UPDATE markets_calendarversion SET created_at = created_at - interval '31 days'"
        )
        admin.execute(
            "UPDATE routing_ruleversion SET published_at = published_at - interval '31 days'"
            " WHERE state = 'published'"
        )
        admin.execute("SET session_replication_role = origin")
        admin.execute("ANALYZE leads_historicallead")

    with system_context("bench"):
        started = time.perf_counter()
        result = backtest_run(version=draft, market_ids=[market.pk])
        took = time.perf_counter() - started
        # The raw limit of the same run: the draft's compiled evaluation alone, on the same
        # leads' facts (no history, no world, no baseline).
        compiled = compile_version(draft.content)
        ref = markets_by_id()[market.pk]
        rows = Lead.objects.filter(market=market).values(
            "email_norm", "phone_e164", *FACT_COLUMNS, "score", "attributes"
        )
        facts = [
            lead_facts(
                values=r,
                market=ref,
                source="bench",
                score=r["score"],
                status="new",
                attributes=r["attributes"],
            )
            for r in rows.iterator(chunk_size=5000)
        ]
        started = time.perf_counter()
        for f in facts:
            compiled.evaluate(f, at=now, is_open=lambda _at: True, trace=False)
        evaluate_only = time.perf_counter() - started

    summary = result.summary()
    n = summary["evaluated"]
    print(f"Backtest — a 50-rule draft over {n:,} past leads of one market, {os.cpu_count()} cores")
    print(
        f"  backtest_run                                {took:8.2f} s  {n / took:10,.0f} leads/s"
        f"  {1e6 * took / n:7.1f} µs/lead"
    )
    print(
        f"  raw limit: compiled evaluation only         {evaluate_only:8.2f} s"
        f"  {n / evaluate_only:10,.0f} leads/s  {1e6 * evaluate_only / n:7.1f} µs/lead"
    )
    print("  (the backtest evaluates twice a lead: the draft and the version published then)")
    print(
        f"  unchanged {summary['unchanged']:,} · moved {summary['moved']:,} · newly unroutable"
        f" {summary['newly_unroutable']:,} · newly routable {summary['newly_routable']:,}"
    )
    print(
        f"  target: {args.leads:,} leads in < 20 s: {'met' if took < 20 else 'NOT met'}"
        f" (loaded in {loaded:.1f} s)"
    )


if __name__ == "__main__":
    main()
