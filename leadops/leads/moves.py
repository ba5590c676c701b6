"""Moving leads to another market: one set-based service for a person's "put in market" and for
a retag of thousands.

A moved lead takes its submissions, touches, activities, external ids and its open exception
items (and their notices) along, so every row stays readable by whoever may read the lead; a
history row records each move. A lead whose email already lives in the target market stays put:
that is one person twice, for a person to review, not a move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from audit.services import Entry, audit_record_many
from leadops.core.actors import Actor
from leadops.core.sql import sql_run
from leadops.leads.history import history_insert_sql
from leadops.leads.hooks import lead_change_announce, reroute_request
from leadops.leads.rollups import hours_mark_dirty

# The rows that live in their lead's market.
DEPENDENTS = ["leads_submission", "leads_sourcetouch", "leads_activity", "leads_leadexternalid"]


@dataclass(frozen=True)
class Move:
    lead_id: int
    to_market_id: int
    # A retag also records the table version and row that decided the new market.
    market_row_id: int | None = None
    table_version: int | None = None


@dataclass(frozen=True)
class MoveReport:
    moved: list[int]
    blocked: list[int]  # their email already lives in the target market


def leads_move(
    *, actor: Actor, moves: Sequence[Move], reason: str, trigger: str = "market"
) -> MoveReport:
    """Move leads (with their rows and open items) to other markets: a fixed number of
    statements whatever the number of leads. Runs in the caller's transaction and context
    (system context for a retag; the person's markets for "put in market")."""
    if not moves:
        return MoveReport(moved=[], blocked=[])
    ids = [m.lead_id for m in moves]
    targets = [m.to_market_id for m in moves]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.id, me.market_id, EXISTS (SELECT 1 FROM leads_lead other"
            "   WHERE other.market_id = k.m AND other.email_norm = me.email_norm"
            "   AND me.email_norm <> '' AND other.id <> me.id)"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS k(id, m)"
            " JOIN leads_lead me ON me.id = k.id FOR UPDATE OF me",
            [ids, targets],
        )
        found = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
        go = [m for m in moves if m.lead_id in found and not found[m.lead_id][1]]
        blocked = [m.lead_id for m in moves if m.lead_id in found and found[m.lead_id][1]]
        if not go:
            return MoveReport(moved=[], blocked=blocked)
        now = timezone.now()
        moved = [m.lead_id for m in go]
        markets = [m.to_market_id for m in go]
        cursor.execute(
            # The owner and team were the old market's: they would not see the lead. It is
            # routed again in its new market (below).
            "UPDATE leads_lead l SET market_id = k.m, updated_at = %s,"
            " owner_id = NULL, team_id = NULL,"
            " status = CASE WHEN l.status = 'assigned' THEN 'new' ELSE l.status END,"
            " market_row_id = CASE WHEN k.v IS NULL THEN l.market_row_id ELSE k.r END,"
            " market_table_version = coalesce(k.v, l.market_table_version)"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::int[]) AS k(id, m, r, v)"
            " WHERE l.id = k.id",
            [
                now,
                moved,
                markets,
                [m.market_row_id for m in go],
                [m.table_version for m in go],
            ],
        )
        for table in DEPENDENTS:
            cursor.execute(
                f"UPDATE {table} t SET market_id = k.m"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS k(id, m) WHERE t.lead_id = k.id",
                [moved, markets],
            )
        # Open items about a lead go where the lead goes, with their notices.
        cursor.execute(
            "UPDATE queue_exceptionitem i SET market_id = k.m"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS k(id, m)"
            " WHERE i.target_type = 'leads.lead' AND i.target_id = k.id::text"
            " AND i.status IN ('open', 'claimed')",
            [moved, markets],
        )
        cursor.execute(
            "UPDATE queue_notification n SET market_id = i.market_id FROM queue_exceptionitem i"
            " WHERE n.item_id = i.id AND i.target_type = 'leads.lead'"
            " AND i.target_id = ANY(%s) AND n.market_id <> i.market_id",
            [[str(i) for i in moved]],
        )
    # The dashboard's rollup counted these rows under their old market.
    hours_mark_dirty(lead_ids=moved)
    sql_run(
        history_insert_sql("leads_lead") + " WHERE id = ANY(%b::bigint[])",
        [now, reason[:100], "~", moved],
    )
    audit_record_many(
        actor=actor,
        entries=[
            Entry(
                action="lead.moved",
                target=("leads.lead", str(m.lead_id)),
                market_id=m.to_market_id,
                data={
                    "from": found[m.lead_id][0],
                    "to": m.to_market_id,
                    "reason": reason,
                    "table_version": m.table_version,
                    "row": m.market_row_id,
                },
            )
            for m in go
        ],
    )
    lead_change_announce("moved", actor=actor, lead_ids=moved, now=now)
    reroute_request(actor=actor, lead_ids=moved, trigger=trigger)
    return MoveReport(moved=moved, blocked=blocked)
