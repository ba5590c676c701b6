"""Routing benchmark: a 500-rule version evaluated lead by lead, trace and its JSON included.

Beside it, measured in the same run: the naive loop that tries every rule in order (building the
same trace), and `json.dumps` of the traces alone.

Workload (see bench/README.md): no database, one process. A seeded, realistic version of
`--rules` (500) rules: named-account rules first (`company_domain in [...]`, one also with
`domain_in` in an `any`); then, shuffled, rules per country (`country in [...]` with a score
threshold, some with a source, a segment `not`, a title `contains` or an employee count), rules
per source (`source eq`), rules per market with a status, ~20 regex rules on email and title,
score, attribute and hour rules with no dispatch key (`any`/`not` groups, `exists`,
`within_business_hours`); a catch-all last. `--leads` (20,000) realistic leads: countries
weighted like a European SaaS inbound mix, sources, scores 0-100, emails at 20,000 company
domains (15 % freemail), titles, attributes on 60 %, each at its own moment within a week. Per
lead: `Compiled.evaluate` with its trace, then `json.dumps` of the trace; the naive loop
interprets the JSON rule by rule and builds the same trace. Each figure is the fastest of
`--repeat` (3) passes over all leads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from routing.engine import Compiled, compile_version, naive_first_match
from routing.rules import validate_content

# country, weight, market, time zone
COUNTRIES = [
    ("DE", 22, "DACH", "Europe/Berlin"),
    ("AT", 5, "DACH", "Europe/Vienna"),
    ("CH", 5, "DACH", "Europe/Zurich"),
    ("US", 18, "NA", "America/New_York"),
    ("CA", 3, "NA", "America/Toronto"),
    ("GB", 9, "UKI", "Europe/London"),
    ("IE", 2, "UKI", "Europe/Dublin"),
    ("FR", 7, "FR", "Europe/Paris"),
    ("BE", 2, "BENELUX", "Europe/Brussels"),
    ("NL", 4, "BENELUX", "Europe/Amsterdam"),
    ("LU", 1, "BENELUX", "Europe/Luxembourg"),
    ("ES", 3, "SOUTH", "Europe/Madrid"),
    ("IT", 3, "SOUTH", "Europe/Rome"),
    ("PT", 1, "SOUTH", "Europe/Lisbon"),
    ("SE", 2, "NORDICS", "Europe/Stockholm"),
    ("DK", 1, "NORDICS", "Europe/Copenhagen"),
    ("NO", 1, "NORDICS", "Europe/Oslo"),
    ("FI", 1, "NORDICS", "Europe/Helsinki"),
    ("PL", 2, "CEE", "Europe/Warsaw"),
    ("CZ", 1, "CEE", "Europe/Prague"),
    ("AU", 2, "APAC", "Australia/Sydney"),
    ("SG", 1, "APAC", "Asia/Singapore"),
    ("JP", 1, "APAC", "Asia/Tokyo"),
    ("IN", 1, "APAC", "Asia/Kolkata"),
    ("BR", 1, "LATAM", "America/Sao_Paulo"),
    ("MX", 1, "LATAM", "America/Mexico_City"),
]
SOURCES = [
    ("web", 35),
    ("webinar", 10),
    ("event", 8),
    ("partner", 6),
    ("import", 8),
    ("api", 6),
    ("chat", 7),
    ("referral", 5),
    ("ads", 10),
    ("linkedin", 5),
]
TITLES = [
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Marketing",
    "Marketing Manager",
    "Software Engineer",
    "Student",
    "Procurement Lead",
    "Director of IT",
    "Office Manager",
    "Founder",
    "Consultant",
]
COMPANIES = 20_000
SEGMENTS = ["smb", "mid", "enterprise", "partner"]
INDUSTRIES = ["software", "retail", "manufacturing", "finance", "health", "education", "public"]
FREEMAIL = ["gmail.com", "yahoo.com", "outlook.com", "gmx.de", "web.de", "hotmail.com"]
STATUSES = ["new", "new", "new", "working", "recycled"]
REGEXES = [
    ("email", r"^[a-z]+\.[a-z]+@"),
    ("email", r"@(gmail|yahoo|hotmail|outlook)\."),
    ("email", r"(?i)^(info|sales|contact|hello)@"),
    ("email", r"\.(edu|ac\.[a-z]{2})$"),
    ("email", r"[0-9]{4,}@"),
    ("title", r"(?i)\b(cto|cio|ciso)\b"),
    ("title", r"(?i)^(vp|vice president)\b"),
    ("title", r"(?i)head of (sales|marketing|it)"),
    ("title", r"(?i)\b(student|intern)\b"),
    ("title", r"(?i)(founder|owner)"),
]


def _weighted(rng: random.Random, pairs: list[Any]) -> Any:
    return rng.choices(pairs, weights=[p[1] for p in pairs])[0]


def company_domain(n: int) -> str:
    return f"company{n}.example"


def build_version(count: int, rng: random.Random) -> dict[str, Any]:
    """A version shaped like a grown one: named accounts first, then the rules people added
    over time in no particular order, and a catch-all that files an exception last."""
    codes = [c[0] for c in COUNTRIES]
    markets = sorted({c[2] for c in COUNTRIES})
    sources = [s[0] for s in SOURCES]
    rules: list[dict[str, Any]] = []

    def add(when: dict[str, Any] | None, team: str, **then: Any) -> None:
        rule: dict[str, Any] = {"id": f"r{len(rules):04d}", "name": f"Rule {len(rules)}"}
        if when:
            rule["when"] = when
        rule["then"] = {"team": team, **then}
        rules.append(rule)

    n_named = max(1, count // 150)  # named accounts
    n_regex = max(1, count // 25)  # ~20 regex rules
    n_unkeyed = max(1, count // 12)  # score / attribute / hours rules with no dispatch key
    n_market = max(1, count // 12)
    n_source = max(1, count // 6)
    n_country = max(1, count - 1 - n_named - n_regex - n_unkeyed - n_market - n_source)

    for i in range(n_named):
        # Named accounts: a list of company domains (a dispatch key); the last one also takes
        # the accounts' subsidiaries by email domain, an `any` group with no key.
        domains = [company_domain(rng.randrange(COMPANIES)) for _ in range(rng.randint(20, 100))]
        named: dict[str, Any] = {"field": "company_domain", "op": "in", "value": domains}
        if i == n_named - 1:
            named = {"any": [{"field": "email", "op": "domain_in", "value": domains[:20]}, named]}
        add(named, f"Named accounts {i}", pick="least_loaded")
    kinds = (
        ["country"] * n_country
        + ["source"] * n_source
        + ["market"] * n_market
        + ["regex"] * n_regex
        + ["unkeyed"] * n_unkeyed
    )
    rng.shuffle(kinds)
    for kind in kinds:
        if kind == "country":
            group = rng.sample(codes[:12], rng.randint(1, 3)) if rng.random() < 0.7 else None
            group = group or rng.sample(codes, rng.randint(1, 4))
            conds: list[dict[str, Any]] = [{"field": "country", "op": "in", "value": group}]
            conds.append({"field": "score", "op": "gte", "value": rng.choice([30, 50, 60, 70, 80])})
            extra = rng.random()
            if extra < 0.25:
                conds.append({"field": "source", "op": "in", "value": rng.sample(sources, 2)})
            elif extra < 0.45:
                conds.append(
                    {"not": {"field": "attributes.segment", "op": "eq", "value": "partner"}}
                )
            elif extra < 0.6:
                conds.append(
                    {
                        "field": "title",
                        "op": "contains",
                        "value": rng.choice(["head", "vp", "director"]),
                    }
                )
            elif extra < 0.75:
                conds.append(
                    {
                        "field": "attributes.employees",
                        "op": "gte",
                        "value": rng.choice([50, 200, 1000]),
                    }
                )
            add(
                {"all": conds},
                f"Inbound {group[0]}",
                when_closed=rng.choice(["wait", "fall_through"]),
            )
        elif kind == "source":
            source = rng.choice(sources)
            conds = [{"field": "source", "op": "eq", "value": source}]
            if rng.random() < 0.6:
                op = rng.choice(["gte", "lt"])
                conds.append({"field": "score", "op": op, "value": rng.choice([20, 40, 60, 85])})
            if rng.random() < 0.4:
                conds.append(
                    {
                        "any": [
                            {"op": "within_business_hours", "value": True},
                            {"field": "score", "op": "gte", "value": 90},
                        ]
                    }
                )
            add({"all": conds}, f"Source {source}", tags=[source])
        elif kind == "market":
            market = rng.choice(markets)
            add(
                {
                    "all": [
                        {"field": "market", "op": "eq", "value": market},
                        {"field": "status", "op": "in", "value": ["recycled", "working"]},
                    ]
                },
                f"Recycle {market}",
                status="working",
            )
        elif kind == "regex":
            name, pattern = rng.choice(REGEXES)
            leaf: dict[str, Any] = {"field": name, "op": "regex", "value": pattern}
            when: dict[str, Any]
            if rng.random() < 0.5:
                when = {
                    "all": [{"field": "source", "op": "eq", "value": rng.choice(sources)}, leaf]
                }
            else:
                when = {
                    "all": [
                        {"field": "score", "op": "gte", "value": rng.choice([60, 80, 95])},
                        leaf,
                    ]
                }
            add(when, "Regex desk")
        else:
            shape = rng.random()
            if shape < 0.3:
                when = {
                    "all": [
                        {"field": "score", "op": "gte", "value": rng.randint(90, 100)},
                        {"field": "attributes.segment", "op": "eq", "value": "enterprise"},
                    ]
                }
            elif shape < 0.55:
                when = {
                    "any": [
                        {
                            "field": "attributes.industry",
                            "op": "in",
                            "value": rng.sample(INDUSTRIES, 2),
                        },
                        {"field": "attributes.employees", "op": "gt", "value": 5000},
                    ]
                }
            elif shape < 0.75:
                when = {"not": {"field": "email", "op": "exists", "value": True}}
            elif shape < 0.9:
                when = {
                    "all": [
                        {"op": "within_business_hours", "value": False},
                        {"field": "score", "op": "gte", "value": 97},
                    ]
                }
            else:
                when = {
                    "all": [
                        {"field": "hour", "op": "in", "value": [0, 1, 2, 3, 4]},
                        {"field": "weekday", "op": "in", "value": ["sat", "sun"]},
                        {"field": "score", "op": "gte", "value": 90},
                    ]
                }
            add(when, "Specialists", notify=["revops"])
    add(None, "Triage", exception="No rule placed this lead.")
    return {"rules": rules}


def build_leads(count: int, rng: random.Random) -> list[tuple[dict[str, Any], datetime]]:
    start = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
    leads = []
    for i in range(count):
        code, _weight, market, zone = _weighted(rng, COUNTRIES)
        n = rng.randrange(COMPANIES)
        domain = company_domain(n)
        first, last = rng.choice(["anna", "ben", "chloe", "david", "eva"]), f"miller{i % 997}"
        mailbox = domain if rng.random() > 0.15 else rng.choice(FREEMAIL)
        facts: dict[str, Any] = {
            "email": f"{first}.{last}@{mailbox}" if rng.random() > 0.1 else f"info@{mailbox}",
            "email_domain": mailbox,
            "first_name": first.title(),
            "last_name": last.title(),
            "company": f"Company {n} GmbH",
            "company_domain": domain,
            "title": rng.choice(TITLES),
            "country": code,
            "market": market,
            "source": _weighted(rng, SOURCES)[0],
            "score": min(100, max(0, int(rng.gauss(50, 25)))),
            "status": rng.choice(STATUSES),
            "timezone": zone,
        }
        if rng.random() < 0.6:
            facts["attributes"] = {
                "segment": rng.choice(SEGMENTS),
                "employees": int(rng.lognormvariate(4, 1.5)),
                "industry": rng.choice(INDUSTRIES),
            }
        at = start + timedelta(seconds=rng.randrange(7 * 86400))
        leads.append((facts, at))
    return leads


def is_open(at: datetime) -> bool:
    return at.weekday() < 5 and 8 <= at.hour < 18


def run_compiled(compiled: Compiled, leads: list[Any]) -> tuple[float, list[tuple[Any, ...]]]:
    """µs per lead for evaluate + json.dumps(trace), and per lead (rule id, rules tried,
    skipped by the index, trace bytes). Traces are not kept: a caller stores and drops them,
    and keeping 20,000 of them alive would time the garbage collector instead."""
    seen = []
    started = time.perf_counter()
    for facts, at in leads:
        ev = compiled.evaluate(facts, at=at, is_open=is_open)
        encoded = json.dumps(ev.trace)
        rule = ev.rule.id if ev.rule else None
        seen.append((rule, len(ev.trace), ev.skipped_by_index, len(encoded)))
    return 1e6 * (time.perf_counter() - started) / len(leads), seen


def run_traced_only(compiled: Compiled, leads: list[Any]) -> float:
    started = time.perf_counter()
    for facts, at in leads:
        compiled.evaluate(facts, at=at, is_open=is_open)
    return 1e6 * (time.perf_counter() - started) / len(leads)


def run_untraced(compiled: Compiled, leads: list[Any]) -> float:
    started = time.perf_counter()
    for facts, at in leads:
        compiled.evaluate(facts, at=at, is_open=is_open, trace=False)
    return 1e6 * (time.perf_counter() - started) / len(leads)


def run_dumps(compiled: Compiled, leads: list[Any]) -> float:
    """The floor under the traced figure: encoding the same traces, built beforehand (in
    slices, so few are alive at once)."""
    total = 0.0
    for i in range(0, len(leads), 1000):
        traces = [
            compiled.evaluate(f, at=at, is_open=is_open).trace for f, at in leads[i : i + 1000]
        ]
        started = time.perf_counter()
        for trace in traces:
            json.dumps(trace)
        total += time.perf_counter() - started
    return 1e6 * total / len(leads)


def run_naive(content: dict[str, Any], leads: list[Any]) -> tuple[float, list[str | None]]:
    found = []
    started = time.perf_counter()
    for facts, at in leads:
        trace: list[dict[str, Any]] = []
        found.append(naive_first_match(content, facts, at=at, is_open=is_open, trace=trace))
        json.dumps(trace)
    return 1e6 * (time.perf_counter() - started) / len(leads), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=3, help="passes per figure; the fastest is printed"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    content = build_version(args.rules, rng)
    problems = validate_content(content)
    if problems:
        sys.exit(f"the generated version is invalid: {problems[:3]}")
    leads = build_leads(args.leads, rng)
    started = time.perf_counter()
    compiled = compile_version(content)
    compile_ms = 1e3 * (time.perf_counter() - started)

    run_compiled(compiled, leads[:500])  # warm: time zones, re2, the allocator
    # Passes interleave, so a slow phase of the machine hits every figure alike.
    passes = []
    for _ in range(max(1, args.repeat)):
        passes.append(
            (
                run_compiled(compiled, leads),
                run_traced_only(compiled, leads),
                run_untraced(compiled, leads),
                run_dumps(compiled, leads),
                run_naive(content, leads),
            )
        )
    traced, seen = min(p[0] for p in passes)
    trace_only = min(p[1] for p in passes)
    untraced = min(p[2] for p in passes)
    dumps = min(p[3] for p in passes)
    naive, found = min(p[4] for p in passes)

    n = len(rules := compiled.rules)
    got = [s[0] for s in seen]
    agree = sum(a == b for a, b in zip(got, found, strict=True))
    tried = [s[1] for s in seen]
    skipped = [s[2] for s in seen]
    first10 = {r.id for r in rules[:10]}
    catch_all = rules[-1].id

    print(
        f"Routing — {n} rules, {len(leads):,} leads, seed {args.seed}, one process, "
        f"fastest of {args.repeat} passes, {os.cpu_count()} cores"
    )
    print(f"{'measure':<58} {'µs/lead':>9}  of naive")
    for name, micros in [
        ("compiled: evaluate + trace + json.dumps(trace)", traced),
        ("compiled: evaluate + trace, no JSON", trace_only),
        ("compiled: evaluate, no trace", untraced),
        ("  raw: json.dumps of the same traces alone", dumps),
        ("  raw: naive, every rule in order, traced + json.dumps", naive),
    ]:
        print(f"{name:<58} {micros:>9.1f}  {100 * micros / naive:5.1f} %")
    print(f"speed-up over naive: {naive / traced:.1f} times; compile once: {compile_ms:.1f} ms")
    print(
        f"rules tried per lead: mean {statistics.fmean(tried):.1f}, max {max(tried)};"
        f" skipped by the index: mean {statistics.fmean(skipped):.1f};"
        f" trace JSON: mean {statistics.fmean(s[3] for s in seen):,.0f} bytes"
    )
    share = {
        "first 10 rules": sum(g in first10 for g in got),
        "the catch-all": sum(g == catch_all for g in got),
        "no rule": sum(g is None for g in got),
    }
    print(
        "matched by: "
        + ", ".join(f"{k} {100 * v / len(got):.1f} %" for k, v in share.items())
        + f"; same rule as naive: {agree:,} / {len(got):,}"
    )
    print("target: ≤ 50 µs/lead for 500 rules, trace and its JSON included")


if __name__ == "__main__":
    main()
