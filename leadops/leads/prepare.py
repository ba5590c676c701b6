"""What one submission is, and what normalization makes of it (pure: no database).

`leads_ingest` (ingest.py) takes `IngestItem`s and writes; everything here can also be used to
check a single lead again (fixing a held lead re-normalizes it the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from leadops.leads import normalize as n
from leadops.leads.fields import LEAD_INPUTS
from leadops.leads.models import Source

NORMALIZER_VERSION = "2026.11.1"


@dataclass
class IngestItem:
    """One validated submission: `fields` holds the canonical input (strings, `occurred_at`,
    `attributes`); `payload` is exactly what was received; `channel` names the door it came
    through (api, batch, source, form, seed, csv)."""

    source: Source
    payload: Any
    fields: dict[str, Any]
    external_id: str = ""
    idempotency_key: str = ""
    client: str = ""
    mapping_version: int | None = None
    channel: str = "api"
    synthetic: bool = False


@dataclass(frozen=True)
class Normalized:
    """A submission's lead fields after normalization, the per-field trace (raw, normalized,
    problem), why it must be held (`quarantine`), and why it cannot be a lead at all
    (`unusable`: no email or phone that can identify anyone; field → message)."""

    lead: dict[str, str]
    trace: dict[str, list[str]]
    quarantine: list[str]
    unusable: dict[str, list[str]] = field(default_factory=dict)


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


# The normalizers are pure and their results immutable, and a batch repeats values (countries,
# regions, names, company sites; a re-sent lead repeats all of them): each distinct value is
# normalized once per process while it stays among the recent ones.
_country = lru_cache(maxsize=1024)(n.normalize_country)
_region = lru_cache(maxsize=4096)(n.normalize_region)
_postal = lru_cache(maxsize=16384)(n.normalize_postal_code)
_phone = lru_cache(maxsize=16384)(n.normalize_phone)
_email = lru_cache(maxsize=16384)(n.normalize_email)
_name = lru_cache(maxsize=16384)(n.normalize_name)
_domain = lru_cache(maxsize=16384)(n.company_domain)
_name_key = lru_cache(maxsize=16384)(n.name_key)


def normalize_item(item: IngestItem) -> Normalized:
    """Normalize one submission's fields (see `Normalized`)."""
    raw = {key: _text(item.fields.get(key)) for key in LEAD_INPUTS}
    country = _country(raw["country"])
    region = _region(raw["region"], country=country.value) if country.value else n.Normalized("")
    postal = _postal(raw["postal_code"], country=country.value)
    phone = _phone(raw["phone"], region=country.value or item.source.default_region or None)
    email = _email(raw["email"])
    first, last = _name(raw["first_name"]), _name(raw["last_name"])
    lead = {
        "email": raw["email"],
        "email_norm": email.value,
        "phone": raw["phone"],
        "phone_e164": phone.value,
        "phone_flag": phone.problem if phone.severity == "flag" else "",
        "first_name": first,
        "last_name": last,
        "company": " ".join(raw["company"].split()),
        "company_domain": _domain(website=raw["website"], email=email.value),
        "title": " ".join(raw["title"].split()),
        "country": country.value,
        "region": region.value,
        "postal_code": postal.value,
        "name_key": _name_key(first, last),
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
    unusable: dict[str, list[str]] = {}
    if not (lead["email_norm"] or lead["phone_e164"]):
        # Nothing identifies the person: a 400 naming the fields, not a held lead nobody can
        # ever match or reach.
        for name, result in (("email", email), ("phone", phone)):
            if raw[name]:
                unusable[name] = [f"{result.problem[:1].upper()}{result.problem[1:]}."]
        if not unusable:
            unusable["email"] = ["Give an email or a phone."]
    return Normalized(lead=lead, trace=trace, quarantine=quarantine, unusable=unusable)
