"""`leads_ingest(items=…, actor=…)`: one lead or a thousand, in one set-based call.

Only the intake door (`leadops.intake`) calls it (an import-linter contract says so). Two steps:

1. Decide, in Python: normalize each item, tag its market with the published table, look up the
   leads it may be (two index lookups for the whole call), and decide per item: create, merge
   (the same normalized email in the same market, or the same source's external id), quarantine
   (doubtful data, or an email and an external id pointing at two leads) or reject (no usable
   identity at all).
2. Write, set-based: a fixed number of statements whatever the number of items (ids allocated up
   front, rows through `unnest` arrays, since COPY is refused on RLS tables). The partial unique
   index on (market, email_norm) and `ON CONFLICT DO NOTHING` decide races, so parallel
   submissions of one identity make one lead.

Runs in system context: dedupe and tagging must see every market.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.utils import timezone

from audit.services import Entry, audit_record_many
from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.core.config import config_snapshot
from leadops.core.sql import sql_run, unnest_arrays
from leadops.leads.dedupe import (
    Earlier,
    Found,
    Review,
    max_candidates,
    review_find,
    shared_phone_limit,
)
from leadops.leads.fields import (
    ALTERNATE_COLUMNS,
    FACT_COLUMNS,
    LEAD_COLUMNS,
    UTM_FIELDS,
    lead_facts,
)
from leadops.leads.history import history_insert_sql
from leadops.leads.hooks import Clock, NewLead, Placed, Placement, Router, StartingLead
from leadops.leads.models import Lead, Source, Submission
from leadops.leads.prepare import (
    NORMALIZER_VERSION,
    IngestItem,
    Normalized,
    normalize_item,
    storable,
)
from leadops.leads.scoring import score
from leadops.markets.market_table import TableIndex, Tag, market_table_in_force, tag_market
from leadops.markets.selectors import markets_by_id

Outcome = Submission.Outcome

# What json.dumps(value, default=str) writes, without building an encoder for every payload.
_payload_json = json.JSONEncoder(default=str).encode


@dataclass
class IngestResult:
    index: int
    outcome: str
    submission_id: int
    lead_id: int | None
    market: str
    market_id: int
    status: str | None
    reason: str = ""
    duplicate_of: int | None = None
    # The market of `duplicate_of` (an answer names it only to a caller holding that market).
    duplicate_market_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    owner: str | None = None
    routing: dict[str, Any] | None = None
    sla: dict[str, Any] | None = None


@dataclass(eq=False)  # compared and hashed by identity: items are candidates of later items
class _Item:
    """One item on its way through a call: what it is, then what was decided for it."""

    index: int
    item: IngestItem
    norm: Normalized
    attributes: dict[str, Any]
    tag: Tag
    outcome: str = ""
    reason: str = ""
    create: bool = False
    # The existing lead it merges into, or the item of this same call whose new lead it joins.
    lead_id: int | None = None
    joins: _Item | None = None
    alternates: dict[str, Any] = field(default_factory=dict)
    review: Review | None = None
    # Conflicting identity: the lead the email names and the one the external id names.
    conflict: tuple[dict[str, Any], dict[str, Any]] | None = None

    @property
    def lead(self) -> dict[str, str]:
        return self.norm.lead

    @cached_property
    def points(self) -> int:
        """The lead's score (routing reads it before the insert writes it)."""
        return score(self.lead)

    @property
    def email_key(self) -> tuple[int, str] | None:
        email = self.lead["email_norm"]
        return (self.tag.market_id, email) if email else None

    @property
    def ext_key(self) -> tuple[int, str] | None:
        return (self.item.source.id, self.item.external_id) if self.item.external_id else None


# --- step 1: decide ---------------------------------------------------------------------


LOOKUP_COLUMNS = ["id", "market_id", "status", "attributes", "merged_into_id", *LEAD_COLUMNS]


@dataclass
class _Lookup:
    """What intake's one lookup statement found: exact matches by (market, email) and by
    (source, external id), the rows for the review tiers, and every lead row seen."""

    by_email: dict[tuple[int, str], dict[str, Any]]
    by_ext: dict[tuple[int, str], int]
    found: Found
    leads: dict[int, dict[str, Any]]


def _existing(items: list[_Item]) -> _Lookup:
    """Leads by email (every market: the same market is the exact tier, another one a review),
    external ids by (source, id), leads by phone (at most the switchboard limit + 1 each) and by
    name at a company domain, and the survivors of merged leads found: one statement of index
    lookups (an OR across them would scan the whole table)."""
    ext = [i.ext_key for i in items if i.ext_key]
    emails = sorted({i.lead["email_norm"] for i in items if i.lead["email_norm"]})
    phones = sorted({i.lead["phone_e164"] for i in items if i.lead["phone_e164"]})
    names = sorted(
        {
            (i.lead["name_key"], i.lead["company_domain"])
            for i in items
            if i.lead["name_key"] and i.lead["company_domain"]
        }
    )
    columns = ", ".join(f"l.{name}" for name in LOOKUP_COLUMNS)
    rows = sql_run(
        "WITH ext AS (SELECT e.source_id, e.external_id, e.lead_id FROM leads_leadexternalid e"
        "   JOIN unnest(%b::bigint[], %b::varchar[]) AS k(s, x)"
        "   ON e.source_id = k.s AND e.external_id = k.x),"
        " em AS (SELECT * FROM leads_lead WHERE email_norm = ANY(%b::varchar[]))"
        f" SELECT 'x', ext.source_id::text, ext.external_id, {columns} FROM ext"
        "   JOIN leads_lead l ON l.id = ext.lead_id"
        f" UNION ALL SELECT 'e', NULL, NULL, {columns} FROM em l WHERE l.email_norm <> ''"
        f" UNION ALL SELECT 's', NULL, NULL, {columns} FROM leads_lead l"
        "   WHERE l.id IN (SELECT merged_into_id FROM em)"
        f" UNION ALL SELECT 'p', NULL, NULL, {columns} FROM unnest(%b::varchar[]) AS p(ph)"
        # No ORDER BY here: with it, a table where most leads have no phone makes the planner
        # walk the primary key for every phone (bench/ingest_batch.py at 1M leads).
        "   CROSS JOIN LATERAL (SELECT * FROM leads_lead l WHERE l.phone_e164 = p.ph"
        "   AND l.phone_e164 <> '' AND l.merged_into_id IS NULL LIMIT %b::int) l"
        f" UNION ALL SELECT 'n', NULL, NULL, {columns}"
        "   FROM unnest(%b::varchar[], %b::varchar[]) AS n(nk, dom)"
        "   CROSS JOIN LATERAL (SELECT * FROM leads_lead l WHERE l.name_key = n.nk"
        "   AND l.company_domain = n.dom AND l.name_key <> '' AND l.company_domain <> ''"
        "   AND l.merged_into_id IS NULL ORDER BY l.id LIMIT %b::int) l",
        [
            [s for s, _ in ext],
            [x for _, x in ext],
            emails,
            phones,
            shared_phone_limit() + 1,
            [k for k, _ in names],
            [d for _, d in names],
            max_candidates_per_key(),
        ],
    )
    leads: dict[int, dict[str, Any]] = {}
    by_ext: dict[tuple[int, str], int] = {}
    found = Found()
    for kind, source_id, external_id, *values in rows:
        lead = dict(zip(LOOKUP_COLUMNS, values, strict=True))
        # Django's connection hands jsonb over as text (JSONField decodes it itself).
        if isinstance(lead["attributes"], str):
            lead["attributes"] = json.loads(lead["attributes"])
        leads[lead["id"]] = lead
        if kind == "x":
            by_ext[(int(source_id), external_id)] = lead["id"]
        elif kind == "e":
            found.by_email.setdefault(lead["email_norm"], []).append(lead["id"])
        elif kind == "p":
            found.by_phone.setdefault(lead["phone_e164"], []).append(lead["id"])
        elif kind == "n":
            key = (lead["name_key"], lead["company_domain"])
            found.by_name.setdefault(key, []).append(lead["id"])
    for ids in found.by_phone.values():
        ids.sort()  # candidates in a stable order: the oldest first
    # The exact tier: the lead with that email in that market, or the lead a person merged it
    # into (its email still finds the survivor).
    by_email = {}
    for ids in found.by_email.values():
        for lead_id in ids:
            lead = leads[lead_id]
            survivor = leads.get(lead["merged_into_id"]) if lead["merged_into_id"] else lead
            if survivor is not None:
                by_email[(lead["market_id"], lead["email_norm"])] = survivor
    return _Lookup(by_email=by_email, by_ext=by_ext, found=found, leads=leads)


def max_candidates_per_key() -> int:
    """Rows read per name key: enough to fill an item after leaving some out."""
    return max_candidates() * 2


def _decide(
    it: _Item,
    look: _Lookup,
    planned: dict[tuple[Any, ...], _Item],
    made: Earlier,
) -> None:
    """What becomes of `it`: `planned` holds the new identities of this call so far, so the
    same new person twice in one call makes one lead; `made`, the new leads so far, which the
    review tiers compare with like stored leads."""
    if it.norm.unusable:
        it.outcome, it.reason = Outcome.REJECTED, "no usable email or phone"
        return
    by_mail = look.by_email[it.email_key]["id"] if it.email_key in look.by_email else None
    by_id = look.by_ext.get(it.ext_key) if it.ext_key else None
    if by_mail and by_id and by_mail != by_id:
        it.outcome, it.reason = Outcome.QUARANTINED, "conflicting_identity"
        it.conflict = (look.leads[by_mail], look.leads[by_id])
        return
    match = by_mail or by_id
    earlier = planned.get(("e", it.email_key)) or planned.get(("x", it.ext_key))
    if it.norm.quarantine:
        # Doubtful data never merges into a lead; a new identity becomes a held lead.
        it.outcome, it.reason = Outcome.QUARANTINED, "; ".join(it.norm.quarantine)
        it.create = match is None and earlier is None
    elif match:
        it.outcome, it.lead_id = Outcome.MERGED, match
    elif earlier is not None:  # the same new identity twice in one call
        it.outcome, it.joins = Outcome.MERGED, earlier
    else:
        it.outcome, it.create = Outcome.CREATED, True
        # Nothing proves who it is: the review tiers may still say who it might be.
        it.review = review_find(
            lead=it.lead,
            market_id=it.tag.market_id,
            found=look.found,
            leads=look.leads,
            earlier=made,
        )
        if it.review is not None:
            it.outcome = Outcome.REVIEW
    if it.create:
        made.add(it, it.lead, it.tag.market_id)
        for key in (("e", it.email_key), ("x", it.ext_key)):
            if key[1]:
                planned[key] = it


def _prepare(items: Sequence[IngestItem], index: TableIndex) -> list[_Item]:
    work = []
    for i, item in enumerate(items):
        norm = normalize_item(item)
        tag = tag_market(
            {
                "source": item.source.slug,
                **{k: norm.lead[k] for k in ("country", "region", "postal_code")},
            },
            index,
        )
        attributes = storable(item.fields.get("attributes") or {})
        work.append(_Item(index=i, item=item, norm=norm, attributes=attributes, tag=tag))
    return work


def _decide_all(work: list[_Item]) -> dict[int, dict[str, Any]]:
    look = _existing(work)
    planned: dict[tuple[Any, ...], _Item] = {}
    made = Earlier()
    for it in work:
        _decide(it, look, planned, made)
    return look.leads


def leads_ingest(
    *,
    items: Sequence[IngestItem],
    actor: Actor,
    router: Router | None = None,
    clock: Clock | None = None,
) -> list[IngestResult]:
    """Ingest `items` in one transaction; results come back in input order. `router` places
    the new leads before they are inserted and records its decisions after; `clock` starts
    their first-response clocks once they have ids and owners (leads/hooks.py)."""
    now = timezone.now()
    with config_snapshot(), system_context("ingest"):
        version, index = market_table_in_force()
        codes = {market.id: market.code for market in markets_by_id().values()}
        work = _prepare(items, index)
        existing = _decide_all(work)
        return _write(work, existing, version, codes, now, actor, router, clock)


@dataclass(frozen=True)
class Prediction:
    """What ingesting an item would do, decided exactly as `leads_ingest` decides, with
    nothing written."""

    outcome: str
    market_id: int
    market: str
    lead: dict[str, str]
    reason: str
    errors: dict[str, list[str]]


def leads_predict(*, items: Sequence[IngestItem]) -> list[Prediction]:
    """The outcome each item would have now (a preview): the same normalization, tagging and
    lookups as `leads_ingest`, read-only."""
    with config_snapshot(), system_context("ingest_preview"):
        _version, index = market_table_in_force()
        codes = {market.id: market.code for market in markets_by_id().values()}
        work = _prepare(items, index)
        existing = _decide_all(work)
    unassigned = next(i for i, code in codes.items() if code == "UNASSIGNED")
    predictions = []
    for it in work:
        if it.create:
            market_id = it.tag.market_id
        elif it.lead_id is not None:
            market_id = existing[it.lead_id]["market_id"]
        elif it.joins is not None:
            market_id = it.joins.tag.market_id
        else:
            market_id = unassigned
        predictions.append(
            Prediction(
                outcome=it.outcome,
                market_id=market_id,
                market=codes[market_id],
                lead=dict(it.lead),
                reason=it.reason,
                errors=it.norm.unusable,
            )
        )
    return predictions


# --- step 2: write ------------------------------------------------------------------------


def _numbered(
    table: str, columns: Sequence[tuple[str, str]], rows: list[list[Any]]
) -> tuple[str, list[list[Any]]]:
    """`SELECT <new id>, u.*` over `rows` (with their 1-based `ord`): each row's id drawn from
    `table`'s sequence, in input order, by the statement that inserts it (one statement fewer
    than allocating first). Use it as a CTE, which PostgreSQL evaluates once."""
    typed, arrays = unnest_arrays(columns, rows)
    names = ", ".join(name for name, _ in columns)
    return (
        f"SELECT nextval((SELECT pg_get_serial_sequence('{table}', 'id'))::regclass) AS id, u.*"
        f" FROM unnest({typed}) WITH ORDINALITY AS u({names}, ord)",
        arrays,
    )


def _join_planned(work: list[_Item]) -> None:
    """Items joining a lead made earlier in this call fill its empty fields and keep differing
    values as alternates (they take its id once it is inserted)."""
    for it in work:
        if it.joins is None:
            continue
        target = it.joins
        for name in LEAD_COLUMNS:
            new, old = it.lead[name], target.lead[name]
            if new and not old:
                target.lead[name] = new
            elif new and old and new != old and name in ALTERNATE_COLUMNS:
                it.alternates[name] = new
        target.attributes = _attributes_merge(it, target.attributes)


def _write(
    work: list[_Item],
    existing: dict[int, dict[str, Any]],
    version: int | None,
    codes: dict[int, str],
    now: datetime,
    actor: Actor,
    router: Router | None = None,
    clock: Clock | None = None,
) -> list[IngestResult]:
    creates = [it for it in work if it.create]
    _join_planned(work)
    placements = router.place(_new_leads(creates, router)) if router is not None else {}
    lost = _insert_leads(creates, version, now, placements)
    for it in work:
        if it.joins is not None:
            it.lead_id = it.joins.lead_id
    if lost:  # a parallel call created the same identity first: merge into its lead instead
        look = _existing(lost)
        existing.update(look.leads)
        for it in lost:
            it.create, it.review = False, None
            winner = look.by_email.get(it.email_key) if it.email_key else None
            it.lead_id = (
                winner["id"] if winner else look.by_ext.get(it.ext_key) if it.ext_key else None
            )
            if not it.norm.quarantine:
                it.outcome = Outcome.MERGED
        for it in work:  # whoever joined a lost lead goes with it to the winner
            if it.joins is not None:
                it.lead_id = it.joins.lead_id
    _merge(work, existing, now)
    _insert_external_ids(work)
    unassigned = next(i for i, code in codes.items() if code == "UNASSIGNED")
    # Each lead's market and status: the tag for leads made now, the stored ones for existing
    # leads; no lead (a conflicting identity, a rejection) files under UNASSIGNED.
    market_of: dict[int | None, int] = {None: unassigned}
    status_of: dict[int | None, str | None] = {None: None}
    for it in creates:
        if it.lead_id is not None:
            market_of[it.lead_id] = it.tag.market_id
            status_of[it.lead_id] = Lead.Status.HELD if it.norm.quarantine else Lead.Status.NEW
    for it in work:
        if it.lead_id is not None and it.lead_id not in market_of:
            market_of[it.lead_id] = existing[it.lead_id]["market_id"]
            status_of[it.lead_id] = existing[it.lead_id]["status"]
    submission_ids = _insert_submissions_and_touches(work, market_of, version, now)
    audit: list[Entry] = []
    _file_exceptions(work, submission_ids, market_of, actor, audit)
    placed: dict[int, Placed] = {}
    if router is not None:
        made = {it.index: it.lead_id for it in creates if it.create and it.lead_id is not None}
        placed = router.record(made, audit)
        for lead_id, p in placed.items():
            status_of[lead_id] = p.status
    clocks = (
        clock.start(_starting_leads(creates, placements, clock), now) if clock is not None else {}
    )
    audit_record_many(
        actor=actor,
        entries=[
            Entry(
                action=f"submission.{it.outcome}",
                target=("leads.submission", str(sid)),
                market_id=market_of[it.lead_id],
                data={
                    "source": it.item.source.slug,
                    "channel": it.item.channel,
                    "lead": it.lead_id,
                    "reason": it.reason,
                    "market_table_version": version,
                    "market_row": it.tag.row_id if it.create else None,
                },
                personal={
                    k: v
                    for k, v in (("email", it.lead["email_norm"]), ("phone", it.lead["phone_e164"]))
                    if v
                },
            )
            for it, sid in zip(work, submission_ids, strict=True)
        ]
        + audit,
    )
    return [
        IngestResult(
            index=it.index,
            outcome=it.outcome,
            submission_id=sid,
            lead_id=it.lead_id,
            market=codes[market_of[it.lead_id]],
            market_id=market_of[it.lead_id],
            status=status_of[it.lead_id],
            reason=it.reason,
            duplicate_of=_duplicate_of(it)[0],
            duplicate_market_id=_duplicate_of(it)[1],
            errors=it.norm.unusable,
            owner=placed[it.lead_id].owner if it.lead_id in placed else None,
            routing=placed[it.lead_id].routing if it.lead_id in placed else None,
            sla=clocks.get(it.lead_id) if it.create and it.lead_id is not None else None,
        )
        for it, sid in zip(work, submission_ids, strict=True)
    ]


def _starting_leads(
    creates: list[_Item], placements: dict[int, Placement], clock: Clock
) -> list[StartingLead]:
    """The new leads whose first-response clock may start now (not held, not test leads)."""
    starting = []
    for it in creates:
        if not it.create or it.lead_id is None or it.norm.quarantine or it.item.synthetic:
            continue
        if not clock.wants(market_id=it.tag.market_id):
            continue
        placement = placements.get(it.index)
        starting.append(
            StartingLead(
                lead_id=it.lead_id,
                market_id=it.tag.market_id,
                source=it.item.source.slug,
                score=it.points,
                owner_id=placement.owner_id if placement else None,
                team_id=placement.team_id if placement else None,
                fields={name: str(it.lead.get(name) or "") for name in FACT_COLUMNS},
            )
        )
    return starting


def _new_leads(creates: list[_Item], router: Router) -> list[NewLead]:
    """The leads this call is about to make that the router routes, as it sees them."""
    markets = markets_by_id()
    made = []
    for it in creates:
        market_id = it.tag.market_id
        status = str(Lead.Status.HELD if it.norm.quarantine else Lead.Status.NEW)
        if not router.wants(market_id=market_id, status=status, synthetic=it.item.synthetic):
            continue
        made.append(
            NewLead(
                key=it.index,
                market_id=market_id,
                status=status,
                synthetic=it.item.synthetic,
                facts=lead_facts(
                    values=it.lead,
                    market=markets.get(market_id),
                    source=it.item.source.slug,
                    score=it.points,
                    status=status,
                    attributes=it.attributes,
                ),
            )
        )
    return made


def _duplicate_of(it: _Item) -> tuple[int | None, int | None]:
    """The lead an item merged into, or the first candidate of its review, with its market."""
    if it.outcome == Outcome.MERGED:
        return it.lead_id, None
    if it.outcome == Outcome.REVIEW and it.review is not None:
        first = it.review.candidates[0]
        return first.lead_id, first.market_id
    return None, None


LEAD_INSERT_COLUMNS = [
    ("market_id", "bigint"),
    ("status", "varchar"),
    ("score", "int"),
    ("market_table_version", "int"),
    ("market_row_id", "bigint"),
    ("first_source_id", "bigint"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("attributes", "jsonb"),
    ("is_synthetic", "boolean"),
    ("owner_id", "bigint"),
    ("team_id", "bigint"),
    # An array literal ('{vip,dach}'): one-dimensional arrays per row cannot travel in one
    # unnest()ed parameter, so the insert casts it.
    ("tags", "varchar"),
    *[(name, "varchar") for name in LEAD_COLUMNS],
]


def _insert_leads(
    creates: list[_Item], version: int | None, now: datetime, placements: dict[int, Placement]
) -> list[_Item]:
    """The new leads (with the owner, team, status and tags routing placed them with) and their
    history rows, in one statement that also draws their ids. The items that lost: a parallel
    call made the same identity first (ON CONFLICT DO NOTHING)."""
    if not creates:
        return []
    unplaced = Placement(None, None, "")
    rows = []
    for it in creates:
        placed = placements.get(it.index, unplaced)
        held = Lead.Status.HELD if it.norm.quarantine else Lead.Status.NEW
        rows.append(
            [
                it.tag.market_id,
                placed.status or str(held),
                it.points,
                version,
                it.tag.row_id,
                it.item.source.id,
                now,
                now,
                json.dumps(it.attributes),
                it.item.synthetic,
                placed.owner_id,
                placed.team_id,
                "{" + ",".join(placed.tags) + "}",  # tags are slugs: nothing to quote
                *[it.lead[name] for name in LEAD_COLUMNS],
            ]
        )
    numbered, arrays = _numbered("leads_lead", LEAD_INSERT_COLUMNS, rows)
    names = ", ".join(name for name, _ in LEAD_INSERT_COLUMNS)
    chosen = names.replace("tags,", "tags::varchar[],", 1)
    made = sql_run(
        f"WITH v AS ({numbered}),"
        f" ins AS (INSERT INTO leads_lead (id, {names}) SELECT id, {chosen} FROM v"
        "   ON CONFLICT DO NOTHING RETURNING *),"
        f" hist AS ({history_insert_sql('ins')})"
        " SELECT v.id, ins.id IS NOT NULL FROM v LEFT JOIN ins ON ins.id = v.id ORDER BY v.ord",
        [*arrays, now, "ingested", "+"],
    )
    lost = []
    for it, (lead_id, inserted) in zip(creates, made, strict=True):
        it.lead_id = lead_id
        if not inserted:
            lost.append(it)
    return lost


def _attributes_merge(it: _Item, attributes: dict[str, Any]) -> dict[str, Any]:
    """A merge adds the attributes the lead lacks; a differing value stays on the touch."""
    merged = dict(attributes)
    for key, value in it.attributes.items():
        if key not in merged:
            merged[key] = value
        elif merged[key] != value:
            it.alternates.setdefault("attributes", {})[key] = value
    return merged


def _merge(work: list[_Item], existing: dict[int, dict[str, Any]], now: datetime) -> None:
    """Fill only the empty fields (and absent attributes) of merged-into leads that existed
    before this call, and write their history rows, in one statement; differing values stay on
    the touch as alternates."""
    fills: dict[int, dict[str, Any]] = {}
    for it in work:
        if it.outcome != Outcome.MERGED or it.lead_id is None or it.joins is not None:
            continue
        current = {**existing.get(it.lead_id, {}), **fills.get(it.lead_id, {})}
        if not current:  # merged into a lead that lost its race within this call
            continue
        for name in LEAD_COLUMNS:
            new, old = it.lead[name], current.get(name) or ""
            if new and not old:
                fills.setdefault(it.lead_id, {})[name] = new
            elif new and old and new != old and name in ALTERNATE_COLUMNS:
                it.alternates[name] = new
        attributes = current.get("attributes") or {}
        merged = _attributes_merge(it, attributes)
        if merged != attributes:
            fills.setdefault(it.lead_id, {})["attributes"] = merged
    if not fills:
        return
    ids = list(fills)
    arrays = [[fills[i].get(name, "") for i in ids] for name in LEAD_COLUMNS]
    sets = ", ".join(
        f"{name} = CASE WHEN l.{name} = '' THEN v.{name} ELSE l.{name} END" for name in LEAD_COLUMNS
    )
    texts = ", ".join(["%b::varchar[]"] * len(LEAD_COLUMNS))
    sql_run(
        f"WITH upd AS (UPDATE leads_lead l SET {sets},"
        " attributes = v.attrs || l.attributes, updated_at = %b"
        f" FROM unnest(%b::bigint[], %b::jsonb[], {texts})"
        f" AS v(id, attrs, {', '.join(LEAD_COLUMNS)}) WHERE l.id = v.id RETURNING l.*) "
        + history_insert_sql("upd"),
        [
            now,
            ids,
            [json.dumps(fills[i].get("attributes", {})) for i in ids],
            *arrays,
            now,
            "merged",
            "~",
        ],
    )


def _insert_external_ids(work: list[_Item]) -> None:
    """Remember each source's id for its lead (not for doubtful data merged nowhere)."""
    rows = [
        (it.item.source.id, it.item.external_id, it.lead_id)
        for it in work
        if it.item.external_id and it.lead_id and (it.create or it.outcome == Outcome.MERGED)
    ]
    if not rows:
        return
    sql_run(
        "INSERT INTO leads_leadexternalid (source_id, external_id, lead_id, market_id)"
        " SELECT k.s, k.x, k.l, l.market_id"
        " FROM unnest(%b::bigint[], %b::varchar[], %b::bigint[]) AS k(s, x, l)"
        " JOIN leads_lead l ON l.id = k.l ON CONFLICT DO NOTHING",
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )


SUBMISSION_COLUMNS = [
    ("market_id", "bigint"),
    ("source_id", "bigint"),
    ("external_id", "varchar"),
    ("idempotency_key", "varchar"),
    ("client", "varchar"),
    ("channel", "varchar"),
    ("payload", "jsonb"),
    ("received_at", "timestamptz"),
    ("normalizer_version", "varchar"),
    ("trace", "jsonb"),
    ("outcome", "varchar"),
    ("reason", "varchar"),
    ("errors", "jsonb"),
    ("lead_id", "bigint"),
    ("mapping_version", "int"),
    ("size_bytes", "int"),
]


TOUCH_COLUMNS = [
    ("lead_id", "bigint"),
    ("source_id", "bigint"),
    ("market_id", "bigint"),
    ("campaign", "varchar"),
    *[(name, "varchar") for name in UTM_FIELDS],
    ("occurred_at", "timestamptz"),
    ("alternates", "jsonb"),
]


def _insert_submissions(rows: list[list[Any]], touches: Sequence[list[Any]] = ()) -> list[int]:
    """Submissions (rows of SUBMISSION_COLUMNS), and source touches (rows of TOUCH_COLUMNS
    then the 1-based position of their submission), in one statement that draws the
    submissions' ids; the ids in input order. The touches' foreign keys are checked at the
    statement's end, when their submissions exist."""
    numbered, arrays = _numbered("leads_submission", SUBMISSION_COLUMNS, rows)
    names = ", ".join(name for name, _ in SUBMISSION_COLUMNS)
    sql = (
        f"WITH v AS ({numbered}),"
        f" s AS (INSERT INTO leads_submission (id, {names}) SELECT id, {names} FROM v)"
    )
    if touches:
        typed, more = unnest_arrays([*TOUCH_COLUMNS, ("ord", "bigint")], list(touches))
        touch_names = [name for name, _ in TOUCH_COLUMNS]
        sql += (
            f", t AS (INSERT INTO leads_sourcetouch (submission_id, {', '.join(touch_names)})"
            f" SELECT v.id, {', '.join(f't.{n}' for n in touch_names)}"
            f" FROM unnest({typed}) AS t({', '.join(touch_names)}, ord)"
            " JOIN v ON v.ord = t.ord)"
        )
        arrays = [*arrays, *more]
    return [row[0] for row in sql_run(sql + " SELECT id FROM v ORDER BY ord", arrays)]


def _insert_submissions_and_touches(
    work: list[_Item], market_of: dict[Any, Any], version: int | None, now: datetime
) -> list[int]:
    """Every submission of the call, and a source touch for each that reached a lead; the
    submissions' ids in input order."""
    submissions = [
        [
            # A conflicting identity reached no lead: it is kept in the market of the lead its
            # email names, beside the item about it (the answer still says UNASSIGNED).
            it.conflict[0]["market_id"] if it.conflict else market_of[it.lead_id],
            it.item.source.id,
            it.item.external_id,
            it.item.idempotency_key,
            it.item.client,
            it.item.channel,
            _payload_json(storable(it.item.payload)),
            now,
            NORMALIZER_VERSION,
            json.dumps(it.norm.trace),
            str(it.outcome),
            it.reason[:200],
            json.dumps(it.norm.unusable),
            it.lead_id,
            it.item.mapping_version,
            None,
        ]
        for it in work
    ]
    touches = [
        [
            it.lead_id,
            it.item.source.id,
            market_of[it.lead_id],
            _text(it.item.fields.get("utm_campaign")),
            *[_text(it.item.fields.get(k)) for k in UTM_FIELDS],
            it.item.fields.get("occurred_at") or now,
            json.dumps(it.alternates),
            position,
        ]
        for position, it in enumerate(work, start=1)
        if it.lead_id
    ]
    return _insert_submissions(submissions, touches)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _file_exceptions(
    work: list[_Item],
    submission_ids: list[int],
    market_of: dict[Any, Any],
    actor: Actor,
    audit: list[Entry],
) -> None:
    """Quarantined items and leads that matched no market-table row each file an exception:
    all of them in one INSERT, their audit entries added to the call's own (`audit`)."""
    from leadops.queue.services import Filing, exceptions_file_many

    filings = []
    for it, sid in zip(work, submission_ids, strict=True):
        market_id = market_of[it.lead_id]
        if it.outcome == Outcome.QUARANTINED:
            target = (
                ("leads.lead", str(it.lead_id)) if it.lead_id else ("leads.submission", str(sid))
            )
            second, details = None, {}
            if it.conflict is not None:
                # About two leads: filed in both their markets, so only a reader holding both
                # sees it (and the page that lets them choose).
                by_mail, by_id = it.conflict
                market_id = by_mail["market_id"]
                if by_id["market_id"] != market_id:
                    second = by_id["market_id"]
                details = {"email_lead": by_mail["id"], "external_id_lead": by_id["id"]}
            filings.append(
                Filing(
                    kind="quarantined",
                    market_id=market_id,
                    second_market_id=second,
                    target=(target[0], str(target[1])),
                    summary=f"Submission #{sid} quarantined: {it.reason}",
                    details={
                        "submission": sid,
                        "lead": it.lead_id,
                        "reason": it.reason,
                        "trace": it.norm.trace,
                        **details,
                    },
                    error_class="data",
                    remediation="Fix the fields and release the lead, or dismiss it.",
                )
            )
            continue
        if it.outcome == Outcome.REVIEW and it.review is not None and it.lead_id:
            filings.append(_review_filing(it.review, it.lead_id, market_id))
        if it.create and it.tag.row_id is None:
            filings.append(
                Filing(
                    kind="unmarketed",
                    market_id=market_id,
                    target=("leads.lead", str(it.lead_id)),
                    summary=f"Lead #{it.lead_id} matched no market-table row",
                    details={
                        "lead": it.lead_id,
                        "country": it.lead["country"],
                        "region": it.lead["region"],
                        "postal_code": it.lead["postal_code"],
                        "source": it.item.source.slug,
                    },
                    error_class="data",
                    remediation="Add a market-table row for this place or source, then retag.",
                )
            )
    exceptions_file_many(actor=actor, filings=filings, audit_into=audit)


def _review_filing(review: Review, lead_id: int, market_id: int) -> Any:
    """One `duplicate_review` item for a new lead and every candidate (capped): in the lead's
    market and, when candidates are in another, that one too, so only a reader holding both
    sees it."""
    from leadops.queue.services import Filing

    others = {c.market_id for c in review.candidates} - {market_id}
    return Filing(
        kind="duplicate_review",
        market_id=market_id,
        second_market_id=next(iter(others), None),
        target=("leads.lead", str(lead_id)),
        summary=review.summary(lead_id),
        details=review.details(lead_id),
        error_class="data",
        remediation="Compare the leads side by side: merge them, or keep them separate.",
    )


@dataclass(frozen=True)
class Refused:
    """A submission refused before intake: what was sent, why, and through which door."""

    source: Source | None
    payload: Any
    errors: dict[str, Any]
    client: str = ""
    channel: str = "api"
    size_bytes: int | None = None


def submissions_reject(*, actor: Actor, refused: Sequence[Refused]) -> list[int]:
    """Store submissions refused at the door (400 or 413), in UNASSIGNED, so nothing sent goes
    unrecorded: set-based, a fixed number of statements for any number of them."""
    if not refused:
        return []
    now = timezone.now()
    with system_context("ingest_reject"):
        unassigned = next(m.id for m in markets_by_id().values() if m.is_unassigned)
        rows = [
            [
                unassigned,
                r.source.id if r.source else None,
                "",
                "",
                r.client,
                r.channel,
                # A body of JSON `null` is kept as JSON null (the text 'null').
                _payload_json(storable(r.payload)),
                now,
                NORMALIZER_VERSION,
                "{}",
                str(Outcome.REJECTED),
                "",
                _payload_json(storable(r.errors)),
                None,
                None,
                r.size_bytes,
            ]
            for r in refused
        ]
        ids = _insert_submissions(rows)
        audit_record_many(
            actor=actor,
            entries=[
                Entry(
                    action="submission.rejected",
                    target=("leads.submission", str(sid)),
                    market_id=unassigned,
                    data={
                        "source": r.source.slug if r.source else None,
                        "channel": r.channel,
                        "fields": sorted(r.errors),
                        "size_bytes": r.size_bytes,
                    },
                )
                for sid, r in zip(ids, refused, strict=True)
            ],
        )
    return ids
