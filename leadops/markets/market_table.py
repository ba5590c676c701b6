"""The market table: versions, publishing with overlap checks, and tagging.

`tag_market` is a pure function of the normalized fields and one version's rows: the same input
and version always give the same market and the same deciding row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.config import config_cached
from leadops.core.errors import ApplicationError
from leadops.markets.models import UNASSIGNED_CODE, Market, MarketTableRow, MarketTableVersion

Kind = MarketTableRow.Kind
SourceSlugValidator = Callable[[str], str | None]
_source_validators: list[SourceSlugValidator] = []


def source_slug_validator_register(validator: SourceSlugValidator) -> None:
    """`leads` registers a check that a source slug exists; it returns a problem or None."""
    _source_validators.append(validator)


@dataclass(frozen=True)
class Row:
    id: int
    kind: str
    key: str
    country: str
    market_id: int


@dataclass(frozen=True)
class Tag:
    market_id: int
    row_id: int | None  # None: nothing matched, the market is UNASSIGNED


class TableIndex:
    """One version's rows, indexed for tagging."""

    def __init__(self, rows: Iterable[Row], *, unassigned_id: int) -> None:
        self.unassigned_id = unassigned_id
        self.sources: dict[str, Row] = {}
        self.regions: dict[str, Row] = {}
        self.countries: dict[str, Row] = {}
        self.postal: dict[str, list[Row]] = {}
        for row in rows:
            if row.kind == Kind.SOURCE:
                self.sources[row.key] = row
            elif row.kind == Kind.REGION:
                self.regions[row.key] = row
            elif row.kind == Kind.COUNTRY:
                self.countries[row.key] = row
            else:
                self.postal.setdefault(row.country, []).append(row)
        for prefixes in self.postal.values():
            prefixes.sort(key=lambda r: (-len(r.key), r.key))


def tag_market(fields: Mapping[str, str | None], index: TableIndex) -> Tag:
    """Source override, then region, then the longest postal prefix in the country, then the
    country; no match → UNASSIGNED."""
    source = fields.get("source") or ""
    if source in index.sources:
        return _tag(index.sources[source])
    region = fields.get("region") or ""
    if region in index.regions:
        return _tag(index.regions[region])
    country = fields.get("country") or ""
    postal = (fields.get("postal_code") or "").replace(" ", "").upper()
    if postal:
        for row in index.postal.get(country, ()):
            if postal.startswith(row.key):
                return _tag(row)
    if country in index.countries:
        return _tag(index.countries[country])
    return Tag(market_id=index.unassigned_id, row_id=None)


def _tag(row: Row) -> Tag:
    return Tag(market_id=row.market_id, row_id=row.id)


def table_index(version: MarketTableVersion) -> TableIndex:
    rows = [
        Row(r.id, r.kind, r.key, r.country, r.market_id)
        for r in MarketTableRow.objects.filter(version=version)
    ]
    unassigned = Market.objects.get(code="UNASSIGNED")
    return TableIndex(rows, unassigned_id=unassigned.id)


def _overlap_key(row: MarketTableRow) -> tuple[str, str, str]:
    if row.kind == Kind.SOURCE:
        return (row.kind, row.key, "")
    return (row.kind, row.key, row.country)


def row_problems(rows: Iterable[MarketTableRow]) -> list[str]:
    """Why a set of rows cannot be published: bad rows, then overlaps naming both rows."""
    problems = []
    seen: dict[tuple[str, str, str], MarketTableRow] = {}
    for row in rows:
        label = f"row #{row.pk} ({row})"
        if row.kind == Kind.POSTAL and not row.country:
            problems.append(f"{label}: a postal-prefix row must name its country")
        if row.kind == Kind.REGION and not row.key.startswith(f"{row.country}-"):
            problems.append(f"{label}: region {row.key} is not in country {row.country or '?'}")
        if row.kind == Kind.COUNTRY and row.key != row.country:
            problems.append(f"{label}: a country row's key and country must both be the code")
        if row.kind == Kind.SOURCE:
            for validator in _source_validators:
                problem = validator(row.key)
                if problem:
                    problems.append(f"{label}: {problem}")
        key = _overlap_key(row)
        if key in seen:
            problems.append(f"row #{seen[key].pk} ({seen[key]}) and {label} overlap")
        else:
            seen[key] = row
    return problems


@transaction.atomic
def market_table_draft_create(
    *, actor: Actor, note: str, copy_of: MarketTableVersion | None = None
) -> MarketTableVersion:
    """A new draft, starting as a copy of `copy_of`'s rows (default: the published version's,
    if any)."""
    if not note.strip():
        raise ApplicationError("Say why this version exists.", code="note_required")
    last = MarketTableVersion.objects.order_by("-number").first()
    draft = MarketTableVersion.objects.create(
        number=(last.number + 1) if last else 1, note=note, created_by=actor_ref(actor).label
    )
    source = copy_of or MarketTableVersion.objects.filter(status="published").first()
    if source is not None:
        MarketTableRow.objects.bulk_create(
            [
                MarketTableRow(
                    version=draft, kind=r.kind, key=r.key, country=r.country, market_id=r.market_id
                )
                for r in source.rows.all()
            ]
        )
    audit_record(
        actor=actor,
        action="market_table.drafted",
        target=draft,
        data={"number": draft.number, "copy_of": source.number if source else None},
    )
    return draft


def _require_draft(version: MarketTableVersion) -> MarketTableVersion:
    """The version as it is in the database now (locked), refused unless still a draft: a
    caller's copy may predate the publish."""
    version = MarketTableVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != MarketTableVersion.Status.DRAFT:
        raise ApplicationError(
            f"Version {version.number} is {version.status}; change a draft instead.",
            code="not_draft",
        )
    return version


@transaction.atomic
def market_table_row_add(
    *, actor: Actor, version: MarketTableVersion, kind: str, key: str, country: str, market: Market
) -> MarketTableRow:
    version = _require_draft(version)
    row = MarketTableRow(
        version=version,
        kind=kind,
        key=key.strip().upper() if kind != "source" else key.strip(),
        country=country.strip().upper(),
        market=market,
    )
    if kind == Kind.POSTAL:
        row.key = row.key.replace(" ", "")
    row.full_clean()
    row.save()
    audit_record(
        actor=actor,
        action="market_table.row_added",
        target=row,
        market_id=market.id,
        data={"version": version.number, "kind": kind, "key": row.key, "country": row.country},
    )
    return row


@transaction.atomic
def market_table_row_remove(*, actor: Actor, row: MarketTableRow) -> None:
    version = _require_draft(row.version)
    audit_record(
        actor=actor,
        action="market_table.row_removed",
        target=row,
        market_id=row.market_id,
        data={"version": version.number, "kind": row.kind, "key": row.key},
    )
    row.delete()


@transaction.atomic
def market_table_publish(*, actor: Actor, version: MarketTableVersion) -> MarketTableVersion:
    """Publish a draft after checking every row; the previous version retires. Existing leads are
    not retagged: that is an explicit action of its own."""
    version = _require_draft(version)
    problems = row_problems(version.rows.order_by("id"))
    if problems:
        raise ApplicationError(
            "Cannot publish: " + "; ".join(problems),
            code="invalid_table",
            extra={"problems": problems},
        )
    MarketTableVersion.objects.filter(status="published").update(status="retired")
    version.status = MarketTableVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    audit_record(
        actor=actor,
        action="market_table.published",
        target=version,
        data={"number": version.number, "rows": version.rows.count(), "note": version.note},
    )
    return version


def market_table_published() -> MarketTableVersion | None:
    return MarketTableVersion.objects.filter(status="published").first()


def market_table_in_force() -> tuple[int | None, TableIndex]:
    """The published version's number (None before the first publish) and its index, read
    once per config change (core/config.py)."""
    return config_cached("market_table", _in_force_load)


def _in_force_load() -> tuple[int | None, TableIndex]:
    with system_context("config_cache"):
        version = market_table_published()
        if version is None:
            unassigned = Market.objects.get(code=UNASSIGNED_CODE)
            return None, TableIndex([], unassigned_id=unassigned.id)
        return version.number, table_index(version)
