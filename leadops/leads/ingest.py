"""The one intake path: `leads_ingest(items=…, actor=…)` for one lead or a thousand.

Normalization and decisions happen in Python; the writes are set-based: a fixed number of
statements per call whatever the number of items (ids are allocated up front, rows go in through
`unnest` arrays, since COPY is refused on RLS tables). Exact-tier dedupe: the same normalized
email in the same market, or the same source's external id, merges into the existing lead; the
partial unique index on (market, email_norm) and `ON CONFLICT DO NOTHING` decide races, so
parallel submissions of one identity make one lead. Runs in system context: dedupe and tagging
must see every market.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import JSONField, Value
from django.utils import timezone

from audit.services import Entry, audit_record_many
from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.leads import normalize as n
from leadops.leads.models import Lead, Source, Submission
from leadops.leads.scoring import score
from leadops.markets.market_table import (
    TableIndex,
    Tag,
    market_table_published,
    table_index,
    tag_market,
)
from leadops.markets.models import Market

NORMALIZER_VERSION = "2026.11.1"
LEAD_FIELDS = [
    "email",
    "email_norm",
    "phone",
    "phone_e164",
    "phone_flag",
    "first_name",
    "last_name",
    "company",
    "company_domain",
    "title",
    "country",
    "region",
    "postal_code",
]
# The lead fields a submission may carry (as sent, before normalization).
INPUT_FIELDS = [
    "email",
    "phone",
    "first_name",
    "last_name",
    "company",
    "website",
    "title",
    "country",
    "region",
    "postal_code",
]
# Raw email and phone differ in spelling only; their normalized forms carry the meaning.
ALTERNATE_FIELDS = [name for name in LEAD_FIELDS if name not in ("email", "phone")]
# Raw email and phone differ in spelling only; their normalized forms carry the meaning.
UTM_FIELDS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]


@dataclass
class IngestItem:
    """One validated submission: `fields` holds the canonical input (strings, `occurred_at`,
    `attributes`); `payload` is exactly what was received."""

    source: Source
    payload: dict[str, Any]
    fields: dict[str, Any]
    external_id: str = ""
    idempotency_key: str = ""
    client: str = ""
    mapping_version: int | None = None


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


@dataclass
class _Prepared:
    index: int
    item: IngestItem
    lead: dict[str, str]
    trace: dict[str, list[str]]
    quarantine: list[str]
    tag: Tag | None = None
    # decisions
    outcome: str = ""
    lead_id: int | None = None
    create: bool = False
    reason: str = ""
    alternates: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


def storable(value: Any) -> Any:
    """The payload as PostgreSQL can keep it: NUL cannot live in text or jsonb, so it becomes
    U+FFFD (visible, not silently dropped), and a number JSON cannot hold (1e999 parses as
    infinity) is kept as its text; everything else is kept as sent."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def normalize_item(item: IngestItem) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    """Lead fields, the per-field trace (raw, normalized, problem) and quarantine reasons."""
    raw = {key: _text(item.fields.get(key)) for key in INPUT_FIELDS}
    country = n.normalize_country(raw["country"])
    region = (
        n.normalize_region(raw["region"], country=country.value)
        if country.value
        else n.Normalized("")
    )
    postal = n.normalize_postal_code(raw["postal_code"], country=country.value)
    phone = n.normalize_phone(
        raw["phone"], region=country.value or item.source.default_region or None
    )
    email = n.normalize_email(raw["email"])
    lead = {
        "email": raw["email"],
        "email_norm": email.value,
        "phone": raw["phone"],
        "phone_e164": phone.value,
        "phone_flag": phone.problem if phone.severity == "flag" else "",
        "first_name": n.normalize_name(raw["first_name"]),
        "last_name": n.normalize_name(raw["last_name"]),
        "company": " ".join(raw["company"].split()),
        "company_domain": n.company_domain(website=raw["website"], email=email.value),
        "title": " ".join(raw["title"].split()),
        "country": country.value,
        "region": region.value,
        "postal_code": postal.value,
    }
    checked = {
        "email": email,
        "phone": phone,
        "country": country,
        "region": region,
        "postal_code": postal,
    }
    trace = {
        name: [raw[name], result.value, result.problem]
        for name, result in checked.items()
        if raw[name]
    }
    quarantine = [r.problem for r in checked.values() if r.severity == "quarantine"]
    if not quarantine and not (lead["email_norm"] or lead["phone_e164"]):
        quarantine.append("neither the email nor the phone is usable")
    return lead, trace, quarantine


# One index per published version (keyed by row id and publish time, which never repeat).
_index_cache: dict[tuple[int, Any], TableIndex] = {}


def _table() -> tuple[int | None, TableIndex]:
    version = market_table_published()
    if version is None:
        unassigned = Market.objects.get(code="UNASSIGNED")
        return None, TableIndex([], unassigned_id=unassigned.id)
    key = (version.pk, version.published_at)
    if key not in _index_cache:
        _index_cache.clear()
        _index_cache[key] = table_index(version)
    return version.number, _index_cache[key]


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _execute(sql: str, params: Sequence[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _ids(table: str, count: int) -> list[int]:
    if not count:
        return []
    rows = _fetch(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
        [count],
    )
    return [row[0] for row in rows]


def _existing(
    prepared: list[_Prepared],
) -> tuple[
    dict[tuple[int, str], dict[str, Any]], dict[tuple[int, str], int], dict[int, dict[str, Any]]
]:
    """Leads matching by (market, email) and external ids matching by (source, id): 2 statements."""
    ext_sources = [p.item.source.id for p in prepared if p.item.external_id]
    ext_ids = [p.item.external_id for p in prepared if p.item.external_id]
    by_ext = {
        (source_id, external_id): lead_id
        for source_id, external_id, lead_id in _fetch(
            "SELECT e.source_id, e.external_id, e.lead_id FROM leads_leadexternalid e"
            " JOIN unnest(%s::bigint[], %s::varchar[]) AS k(s, x)"
            " ON e.source_id = k.s AND e.external_id = k.x",
            [ext_sources, ext_ids],
        )
    }
    pairs = [
        (p.tag.market_id, p.lead["email_norm"]) for p in prepared if p.lead["email_norm"] and p.tag
    ]
    columns = ", ".join(
        ["l.id", "l.market_id", "l.status", "l.attributes", *[f"l.{name}" for name in LEAD_FIELDS]]
    )
    rows = _fetch(
        # Two index lookups in one statement; an OR across them would scan the whole table.
        f"SELECT {columns} FROM leads_lead l WHERE l.id = ANY(%s)"
        f" UNION SELECT {columns} FROM leads_lead l"
        " JOIN unnest(%s::bigint[], %s::varchar[]) AS k(m, e)"
        " ON l.market_id = k.m AND l.email_norm = k.e AND l.email_norm <> ''",
        [list(by_ext.values()), [m for m, _ in pairs], [e for _, e in pairs]],
    )
    leads = {}
    for row in rows:
        lead = dict(
            zip(["id", "market_id", "status", "attributes", *LEAD_FIELDS], row, strict=True)
        )
        # Django's cursors hand jsonb over as text (JSONField decodes it itself).
        if isinstance(lead["attributes"], str):
            lead["attributes"] = json.loads(lead["attributes"])
        leads[lead["id"]] = lead
    by_email = {
        (lead["market_id"], lead["email_norm"]): lead
        for lead in leads.values()
        if lead["email_norm"]
    }
    return by_email, by_ext, leads


def leads_ingest(*, items: Sequence[IngestItem], actor: Actor) -> list[IngestResult]:
    """Ingest `items` in one transaction; results come back in input order."""
    now = timezone.now()
    with system_context("ingest"):
        version, index = _table()
        codes = dict(Market.objects.values_list("id", "code"))
        prepared = []
        for i, item in enumerate(items):
            lead, trace, quarantine = normalize_item(item)
            p = _Prepared(
                index=i,
                item=item,
                lead=lead,
                trace=trace,
                quarantine=quarantine,
                attributes=storable(item.fields.get("attributes") or {}),
            )
            p.tag = tag_market(
                {
                    "source": item.source.slug,
                    **{k: lead[k] for k in ("country", "region", "postal_code")},
                },
                index,
            )
            prepared.append(p)
        by_email, by_ext, existing = _existing(prepared)
        planned: dict[tuple[Any, ...], _Prepared] = {}
        for p in prepared:
            _decide(p, by_email, by_ext, existing, planned)
        return _write(prepared, existing, version, codes, now, actor)


def _decide(
    p: _Prepared,
    by_email: dict[tuple[int, str], dict[str, Any]],
    by_ext: dict[tuple[int, str], int],
    existing: dict[int, dict[str, Any]],
    planned: dict[tuple[Any, ...], _Prepared],
) -> None:
    assert p.tag is not None
    email_key = (p.tag.market_id, p.lead["email_norm"]) if p.lead["email_norm"] else None
    ext_key = (p.item.source.id, p.item.external_id) if p.item.external_id else None
    by_mail = by_email[email_key]["id"] if email_key and email_key in by_email else None
    by_id = by_ext.get(ext_key) if ext_key else None
    if by_mail and by_id and by_mail != by_id:
        p.outcome, p.reason = Submission.Outcome.QUARANTINED, "conflicting_identity"
        return
    match = by_mail or by_id
    if p.quarantine:
        p.outcome, p.reason = Submission.Outcome.QUARANTINED, "; ".join(p.quarantine)
        # Doubtful data never merges into a lead; a new identity becomes a held lead.
        p.create = match is None and not any(
            k in planned for k in (("e", email_key), ("x", ext_key))
        )
        if p.create:
            _plan(p, email_key, ext_key, planned)
        return
    if match:
        p.outcome, p.lead_id = Submission.Outcome.MERGED, match
        return
    earlier = planned.get(("e", email_key)) or planned.get(("x", ext_key))
    if earlier is not None:  # the same new identity twice in one call
        p.outcome, p.lead_id = Submission.Outcome.MERGED, -earlier.index - 1
        return
    p.outcome, p.create = Submission.Outcome.CREATED, True
    _plan(p, email_key, ext_key, planned)


def _plan(
    p: _Prepared, email_key: Any, ext_key: Any, planned: dict[tuple[Any, ...], _Prepared]
) -> None:
    if email_key:
        planned[("e", email_key)] = p
    if ext_key:
        planned[("x", ext_key)] = p


def _write(
    prepared: list[_Prepared],
    existing: dict[int, dict[str, Any]],
    version: int | None,
    codes: dict[int, str],
    now: datetime,
    actor: Actor,
) -> list[IngestResult]:
    creates = [p for p in prepared if p.create]
    for p, lead_id in zip(creates, _ids("leads_lead", len(creates)), strict=True):
        p.lead_id = lead_id
    for p in prepared:  # in-batch merges fill the planned lead, then point at it
        if p.lead_id is not None and p.lead_id < 0:
            target = prepared[-p.lead_id - 1]
            for name in LEAD_FIELDS:
                new, old = p.lead[name], target.lead[name]
                if new and not old:
                    target.lead[name] = new
                elif new and old and new != old and name in ALTERNATE_FIELDS:
                    p.alternates[name] = new
            target.attributes = _attributes_merge(p, target.attributes)
            p.lead_id = target.lead_id
    inserted = _insert_leads(creates, version, now)
    lost = [p for p in creates if p.lead_id not in inserted]
    if lost:  # a parallel call created the same identity first: merge into its lead instead
        by_email, by_ext, more = _existing(lost)
        existing.update(more)
        for p in lost:
            p.create = False
            email_key = (p.tag.market_id, p.lead["email_norm"]) if p.tag else None
            winner = by_email.get(email_key) if email_key else None
            p.lead_id = (
                winner["id"] if winner else by_ext.get((p.item.source.id, p.item.external_id))
            )
            if not p.quarantine:
                p.outcome = Submission.Outcome.MERGED
    merges = _merge(prepared, existing, now)
    _insert_external_ids(prepared)
    submission_ids = _ids("leads_submission", len(prepared))
    unassigned = next(i for i, code in codes.items() if code == "UNASSIGNED")
    # Each lead's market: the tag for leads made now, the stored market for existing ones; no
    # lead (a conflicting identity) files under UNASSIGNED.
    market_of: dict[int | None, int] = {None: unassigned}
    for p in prepared:
        if p.create and p.tag is not None and p.lead_id is not None:
            market_of[p.lead_id] = p.tag.market_id
    for p in prepared:
        if p.lead_id is not None and p.lead_id not in market_of:
            market_of[p.lead_id] = existing[p.lead_id]["market_id"]
    _insert_submissions(prepared, submission_ids, market_of, version, now)
    _insert_touches(prepared, submission_ids, market_of, now)
    _history(creates, merges, now)
    audit_record_many(
        actor=actor,
        entries=[
            Entry(
                action=f"submission.{p.outcome}",
                target=("leads.submission", str(sid)),
                market_id=market_of[p.lead_id],
                data={
                    "source": p.item.source.slug,
                    "lead": p.lead_id,
                    "reason": p.reason,
                    "market_table_version": version,
                    "market_row": p.tag.row_id if p.tag and p.create else None,
                },
                personal={
                    k: v
                    for k, v in (("email", p.lead["email_norm"]), ("phone", p.lead["phone_e164"]))
                    if v
                },
            )
            for p, sid in zip(prepared, submission_ids, strict=True)
        ],
    )
    _file_exceptions(prepared, submission_ids, market_of, actor)
    statuses = dict(
        _fetch(
            "SELECT id, status FROM leads_lead WHERE id = ANY(%s)",
            [[p.lead_id for p in prepared if p.lead_id]],
        )
    )
    return [
        IngestResult(
            index=p.index,
            outcome=p.outcome,
            submission_id=sid,
            lead_id=p.lead_id,
            market=codes[market_of[p.lead_id]],
            market_id=market_of[p.lead_id],
            status=statuses.get(p.lead_id),
            reason=p.reason,
            duplicate_of=p.lead_id if p.outcome == Submission.Outcome.MERGED else None,
        )
        for p, sid in zip(prepared, submission_ids, strict=True)
    ]


def _insert_leads(creates: list[_Prepared], version: int | None, now: datetime) -> set[int]:
    if not creates:
        return set()
    columns = [
        "id",
        "market_id",
        "status",
        "score",
        "market_table_version",
        "market_row_id",
        "first_source_id",
        "created_at",
        "updated_at",
        "attributes",
        *LEAD_FIELDS,
    ]
    values: list[list[Any]] = [[] for _ in columns]
    for p in creates:
        assert p.tag is not None
        row = [
            p.lead_id,
            p.tag.market_id,
            Lead.Status.HELD if p.quarantine else Lead.Status.NEW,
            score(p.lead),
            version,
            p.tag.row_id,
            p.item.source.id,
            now,
            now,
            json.dumps(p.attributes),
            *[p.lead[name] for name in LEAD_FIELDS],
        ]
        for column, value in zip(values, row, strict=True):
            column.append(value)
    types = [
        "bigint",
        "bigint",
        "varchar",
        "int",
        "int",
        "bigint",
        "bigint",
        "timestamptz",
        "timestamptz",
        "jsonb",
        *["varchar"] * len(LEAD_FIELDS),
    ]
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    rows = _fetch(
        f"INSERT INTO leads_lead ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        " ON CONFLICT DO NOTHING RETURNING id",
        values,
    )
    return {row[0] for row in rows}


def _merge(
    prepared: list[_Prepared], existing: dict[int, dict[str, Any]], now: datetime
) -> dict[int, dict[str, Any]]:
    """Fill only the empty fields (and absent attributes) of merged-into leads; differing values
    stay on the touch as alternates."""
    fills: dict[int, dict[str, Any]] = {}
    for p in prepared:
        if p.outcome != Submission.Outcome.MERGED or p.lead_id is None:
            continue
        current = {**existing.get(p.lead_id, {}), **fills.get(p.lead_id, {})}
        if not current:  # merged into a lead created in this same call
            continue
        for name in LEAD_FIELDS:
            new, old = p.lead[name], current.get(name) or ""
            if new and not old:
                fills.setdefault(p.lead_id, {})[name] = new
            elif new and old and new != old and name in ALTERNATE_FIELDS:
                p.alternates[name] = new
        attributes = current.get("attributes") or {}
        merged = _attributes_merge(p, attributes)
        if merged != attributes:
            fills.setdefault(p.lead_id, {})["attributes"] = merged
    if not fills:
        return {}
    ids = list(fills)
    arrays = [[fills[i].get(name, "") for i in ids] for name in LEAD_FIELDS]
    sets = ", ".join(
        f"{name} = CASE WHEN l.{name} = '' THEN v.{name} ELSE l.{name} END" for name in LEAD_FIELDS
    )
    texts = ", ".join(["%s::varchar[]"] * len(LEAD_FIELDS))
    _execute(
        f"UPDATE leads_lead l SET {sets}, attributes = v.attrs || l.attributes, updated_at = %s"
        f" FROM unnest(%s::bigint[], %s::jsonb[], {texts})"
        f" AS v(id, attrs, {', '.join(LEAD_FIELDS)}) WHERE l.id = v.id",
        [now, ids, [json.dumps(fills[i].get("attributes", {})) for i in ids], *arrays],
    )
    return {i: {**existing[i], **fills[i]} for i in ids}


def _attributes_merge(p: _Prepared, attributes: dict[str, Any]) -> dict[str, Any]:
    """A merge adds the attributes the lead lacks; a differing value stays on the touch."""
    merged = dict(attributes)
    for key, value in p.attributes.items():
        if key not in merged:
            merged[key] = value
        elif merged[key] != value:
            p.alternates.setdefault("attributes", {})[key] = value
    return merged


def _insert_external_ids(prepared: list[_Prepared]) -> None:
    """Remember each source's id for its lead (not for doubtful data merged nowhere)."""
    rows = [
        (p.item.source.id, p.item.external_id, p.lead_id)
        for p in prepared
        if p.item.external_id and p.lead_id and (p.create or p.outcome == Submission.Outcome.MERGED)
    ]
    if not rows:
        return
    _execute(
        "INSERT INTO leads_leadexternalid (source_id, external_id, lead_id, market_id)"
        " SELECT k.s, k.x, k.l, l.market_id"
        " FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[]) AS k(s, x, l)"
        " JOIN leads_lead l ON l.id = k.l ON CONFLICT DO NOTHING",
        [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
    )


def _insert_submissions(
    prepared: list[_Prepared],
    ids: list[int],
    market_of: dict[Any, Any],
    version: int | None,
    now: datetime,
) -> None:

    columns = [
        "id",
        "market_id",
        "source_id",
        "external_id",
        "idempotency_key",
        "client",
        "payload",
        "received_at",
        "normalizer_version",
        "trace",
        "outcome",
        "reason",
        "errors",
        "lead_id",
        "mapping_version",
    ]
    types = [
        "bigint",
        "bigint",
        "bigint",
        "varchar",
        "varchar",
        "varchar",
        "jsonb",
        "timestamptz",
        "varchar",
        "jsonb",
        "varchar",
        "varchar",
        "jsonb",
        "bigint",
        "int",
    ]
    values: list[list[Any]] = [[] for _ in columns]
    for p, sid in zip(prepared, ids, strict=True):
        row = [
            sid,
            market_of[p.lead_id],
            p.item.source.id,
            p.item.external_id,
            p.item.idempotency_key,
            p.item.client,
            json.dumps(storable(p.item.payload), default=str),
            now,
            NORMALIZER_VERSION,
            json.dumps(p.trace),
            p.outcome,
            p.reason[:200],
            "{}",
            p.lead_id,
            p.item.mapping_version,
        ]
        for column, value in zip(values, row, strict=True):
            column.append(value)
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    _execute(
        f"INSERT INTO leads_submission ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
        values,
    )


def _insert_touches(
    prepared: list[_Prepared], submission_ids: list[int], market_of: dict[Any, Any], now: datetime
) -> None:

    rows = [(p, sid) for p, sid in zip(prepared, submission_ids, strict=True) if p.lead_id]
    if not rows:
        return
    columns = [
        "lead_id",
        "submission_id",
        "source_id",
        "market_id",
        "campaign",
        *UTM_FIELDS,
        "occurred_at",
        "alternates",
    ]
    types = [
        "bigint",
        "bigint",
        "bigint",
        "bigint",
        "varchar",
        *["varchar"] * 5,
        "timestamptz",
        "jsonb",
    ]
    values: list[list[Any]] = [[] for _ in columns]
    for p, sid in rows:
        f = p.item.fields
        row = [
            p.lead_id,
            sid,
            p.item.source.id,
            market_of[p.lead_id],
            _text(f.get("utm_campaign")),
            *[_text(f.get(k)) for k in UTM_FIELDS],
            f.get("occurred_at") or now,
            json.dumps(p.alternates),
        ]
        for column, value in zip(values, row, strict=True):
            column.append(value)
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    _execute(
        f"INSERT INTO leads_sourcetouch ({', '.join(columns)}) SELECT * FROM unnest({arrays})",
        values,
    )


def _history(creates: list[_Prepared], merges: dict[int, dict[str, Any]], now: datetime) -> None:
    """simple-history rows for what changed: bulk paths do not send signals, so write them."""
    history = Lead.history.model
    rows = []
    for p in creates:
        if p.tag is None or p.lead_id is None:
            continue
        rows.append(
            history(
                id=p.lead_id,
                market_id=p.tag.market_id,
                first_source_id=p.item.source.id,
                status=Lead.Status.HELD if p.quarantine else Lead.Status.NEW,
                score=score(p.lead),
                created_at=now,
                history_date=now,
                history_type="+",
                history_change_reason="ingested",
                attributes=p.attributes,
                **p.lead,
            )
        )
    for lead_id, lead in merges.items():
        rows.append(
            history(
                id=lead_id,
                market_id=lead["market_id"],
                status=lead["status"],
                first_source_id=None,
                created_at=now,
                history_date=now,
                history_type="~",
                history_change_reason="merged",
                attributes=lead.get("attributes") or {},
                **{k: lead[k] for k in LEAD_FIELDS},
            )
        )
    if rows:
        history.objects.bulk_create(rows)


def _file_exceptions(
    prepared: list[_Prepared],
    submission_ids: list[int],
    market_of: dict[Any, Any],
    actor: Actor,
) -> None:
    """Quarantined and unmarketed items each file an exception (rare, so one by one)."""
    from leadops.queue.services import exception_file

    wanted = [
        p
        for p in prepared
        if p.outcome == Submission.Outcome.QUARANTINED
        or (p.create and p.tag is not None and p.tag.row_id is None)
    ]
    if not wanted:
        return
    markets = {
        m.id: m for m in Market.objects.filter(id__in={market_of[p.lead_id] for p in wanted})
    }
    for p, sid in zip(prepared, submission_ids, strict=True):
        if p not in wanted:
            continue
        market = markets[market_of[p.lead_id]]
        if p.outcome == Submission.Outcome.QUARANTINED:
            target: Any = Lead(pk=p.lead_id) if p.lead_id else Submission(pk=sid)
            exception_file(
                actor=actor,
                kind="quarantined",
                market=market,
                target=target,
                summary=f"Submission #{sid} quarantined: {p.reason}"[:300],
                details={
                    "submission": sid,
                    "lead": p.lead_id,
                    "reason": p.reason,
                    "trace": p.trace,
                },
                error_class="data",
                remediation="Fix the fields and release the lead, or dismiss it.",
            )
        elif p.create and p.tag is not None and p.tag.row_id is None:
            exception_file(
                actor=actor,
                kind="unmarketed",
                market=market,
                target=Lead(pk=p.lead_id),
                summary=f"Lead #{p.lead_id} matched no market-table row",
                details={
                    "lead": p.lead_id,
                    "country": p.lead["country"],
                    "region": p.lead["region"],
                    "postal_code": p.lead["postal_code"],
                    "source": p.item.source.slug,
                },
                error_class="data",
                remediation="Add a market-table row for this place or source, then retag.",
            )


def submission_reject(
    *,
    actor: Actor,
    source: Source | None,
    payload: Any,
    errors: dict[str, Any],
    client: str = "",
    size_bytes: int | None = None,
) -> int:
    """Store a submission refused at ingress (400, or 413 with only its size), in UNASSIGNED,
    so nothing sent goes unrecorded."""

    with system_context("ingest_reject"):
        unassigned = Market.objects.get(code="UNASSIGNED")
        kept = json.loads(json.dumps(storable(payload), default=str))
        submission = Submission.objects.create(
            market=unassigned,
            source=source,
            client=client,
            # A body of JSON `null` is kept as JSON null (a bare None would be SQL NULL).
            payload=kept if kept is not None else Value(None, output_field=JSONField()),
            normalizer_version=NORMALIZER_VERSION,
            outcome=Submission.Outcome.REJECTED,
            errors=storable(errors),
            size_bytes=size_bytes,
        )
        audit_record_many(
            actor=actor,
            entries=[
                Entry(
                    action="submission.rejected",
                    target=("leads.submission", str(submission.pk)),
                    market_id=unassigned.id,
                    data={
                        "source": source.slug if source else None,
                        "fields": sorted(errors),
                        "size_bytes": size_bytes,
                    },
                )
            ],
        )
    return submission.pk
