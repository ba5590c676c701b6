"""Retagging: what a market-table version would change, and applying it on purpose.

Publishing a table never moves existing leads. A preview lists the leads a version would move;
the retag action moves them (with their submissions, touches, activities and external ids, so
each row stays in its lead's market), skipping any lead whose email already exists in the target
market (that is a duplicate for a person, not a move). Both run as Jobs; every move is audited.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.core.services import JobScope, job_finish, job_progress, job_start
from leadops.leads.models import Lead
from leadops.leads.moves import Move, leads_move
from leadops.markets.market_table import table_index, tag_market
from leadops.markets.models import Market, MarketTableVersion

CHUNK = 5_000


def _changes(version: MarketTableVersion, start_after: int) -> tuple[list[dict[str, Any]], int]:
    index = table_index(version)
    leads = list(
        Lead.objects.filter(id__gt=start_after)
        .order_by("id")
        .values("id", "market_id", "first_source__slug", "country", "region", "postal_code")[:CHUNK]
    )
    moves = []
    for lead in leads:
        tag = tag_market(
            {
                "source": lead["first_source__slug"],
                "country": lead["country"],
                "region": lead["region"],
                "postal_code": lead["postal_code"],
            },
            index,
        )
        if tag.market_id != lead["market_id"]:
            moves.append({**lead, "to": tag.market_id, "row": tag.row_id})
    return moves, (leads[-1]["id"] if leads else start_after)


def retag_run(
    *, actor: Actor, version: MarketTableVersion, apply: bool, job_id: int | None = None
) -> dict[str, Any]:
    """Preview (apply=False) or apply the moves `version` implies; returns counts and a sample."""
    if job_id is not None:
        job_start(job_id=job_id)
    with system_context("retag_count"):
        total = Lead.objects.count() or 1
        codes = dict(Market.objects.values_list("id", "code"))
    last, seen, moved, skipped = 0, 0, 0, 0
    flows: Counter[str] = Counter()
    touched: set[int] = set()
    sample: list[dict[str, Any]] = []
    while True:
        with system_context("retag"):
            moves, next_last = _changes(version, last)
            if next_last == last:
                break
            seen += CHUNK
            if apply and moves:
                done, conflicts = _apply(actor, version, moves)
                moved += done
                skipped += conflicts
            else:
                moved += len(moves) if not apply else 0
        for move in moves:
            touched.update((move["market_id"], move["to"]))
            flows[f"{codes[move['market_id']]} → {codes[move['to']]}"] += 1
            if len(sample) < 20:
                sample.append(
                    {"lead": move["id"], "from": codes[move["market_id"]], "to": codes[move["to"]]}
                )
        last = next_last
        if job_id is not None:
            job_progress(
                job_id=job_id,
                progress=min(99, seen * 100 // total),
                message=f"checked leads up to #{last}",
            )
    result = {
        "version": version.number,
        "applied": apply,
        "would_move" if not apply else "moved": moved,
        "skipped_duplicates": skipped,
        "flows": dict(flows.most_common()),
        "sample": sample,
    }
    if job_id is not None:
        verb = "moved" if apply else "would move"
        # The result names leads of these markets only: that is who may read it.
        job_finish(
            job_id=job_id,
            ok=True,
            result=result,
            message=f"{verb} {moved} lead(s); {skipped} skipped as duplicates",
            scope=JobScope(market_ids=frozenset(touched)),
        )
    return result


def _apply(
    actor: Actor, version: MarketTableVersion, moves: list[dict[str, Any]]
) -> tuple[int, int]:
    report = leads_move(
        actor=actor,
        moves=[
            Move(
                lead_id=m["id"],
                to_market_id=m["to"],
                market_row_id=m["row"],
                table_version=version.number,
            )
            for m in moves
        ],
        reason=f"retag to market table v{version.number}",
        trigger="retag",
    )
    return len(report.moved), len(report.blocked)
