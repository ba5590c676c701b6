"""The one list of lead fields: what a submission may carry, what a lead stores, which are
identities, UTM tags or personal data. Ingest, mappings, the API and the admin all read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadops.markets.selectors import MarketRef


@dataclass(frozen=True)
class InputField:
    """A text field a submission may carry (before normalization)."""

    name: str
    max_length: int
    identity: bool = False  # email, phone: what dedupe and the identity rule look at
    utm: bool = False


INPUTS: tuple[InputField, ...] = (
    InputField("external_id", 128),
    InputField("email", 254, identity=True),
    InputField("phone", 64, identity=True),
    InputField("first_name", 100),
    InputField("last_name", 100),
    InputField("company", 200),
    InputField("website", 300),
    InputField("title", 150),
    InputField("country", 100),
    InputField("region", 100),
    InputField("postal_code", 32),
    InputField("utm_source", 200, utm=True),
    InputField("utm_medium", 200, utm=True),
    InputField("utm_campaign", 200, utm=True),
    InputField("utm_term", 200, utm=True),
    InputField("utm_content", 200, utm=True),
)
INPUT_LENGTHS = {f.name: f.max_length for f in INPUTS}
UTM_FIELDS = [f.name for f in INPUTS if f.utm]
IDENTITY_FIELDS = [f.name for f in INPUTS if f.identity]
# The fields that describe the person or company (what normalization reads).
LEAD_INPUTS = [f.name for f in INPUTS if not f.utm and f.name != "external_id"]
# What a source mapping may fill: every input, a full name to split, and when it happened.
MAPPING_TARGETS = frozenset({f.name for f in INPUTS} | {"full_name", "occurred_at"})

# The canonical lead's text columns, as ingest writes them (normalized).
LEAD_COLUMNS = [
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
    "name_key",
]
# Raw email and phone differ in spelling only; their normalized forms carry the meaning, so a
# merge keeps no alternate for them (nor for the name key, which the names it comes from keep).
ALTERNATE_COLUMNS = [name for name in LEAD_COLUMNS if name not in ("email", "phone", "name_key")]
# Personal data: blanked by erasure (company and country describe no one).
PERSONAL_COLUMNS = [
    "email",
    "email_norm",
    "phone",
    "phone_e164",
    "first_name",
    "last_name",
    "name_key",
    "title",
]


# The lead's text columns a rule engine reads besides email and phone (routing/rules.py FIELDS).
FACT_COLUMNS = (
    "first_name",
    "last_name",
    "company",
    "company_domain",
    "title",
    "country",
    "region",
    "postal_code",
)


def lead_facts(
    *,
    values: Mapping[str, Any],
    market: MarketRef | None,
    source: str,
    score: int,
    status: str,
    attributes: Mapping[str, Any],
) -> dict[str, Any]:
    """What routing rules see of a lead: its normalized values (`email_norm`, `phone_e164` and
    FACT_COLUMNS, from intake's work or a stored row), where it lives and where it came from."""
    email = values.get("email_norm") or ""
    return {
        "email": email,
        "email_domain": email.rpartition("@")[2] if "@" in email else "",
        "phone": values.get("phone_e164") or "",
        **{name: values.get(name) or "" for name in FACT_COLUMNS},
        "market": market.code if market else "",
        "timezone": market.timezone if market else "UTC",
        "source": source,
        "score": score,
        "status": status,
        "attributes": dict(attributes or {}),
    }
