"""The review tiers of dedupe: who a new lead may be, when nothing proves it.

The exact tiers (the same email in the same market, the same source's external id) merge
automatically in `ingest.py`. These three only ever file a `duplicate_review` item for a person:

- `email_other_market`: the same normalized email, in another market;
- `phone`: the same E.164 phone;
- `name_company`: the same full name (`normalize.name_key`: case, accents and spacing ignored,
  whole names compared, never substrings) at the same company domain (free-mail domains never
  give a company domain, so they never match).

A phone shared by more than `DEDUPE_SHARED_PHONE_LIMIT` leads is a switchboard, not a person: it
stops producing reviews and the item (if another tier files one) says so. An item lists at most
`DEDUPE_MAX_CANDIDATES` candidates, and at most one market besides the lead's own (an item's
second market is what scopes it: a reader must hold both).

Pure: the lookups are part of intake's one lookup statement (`ingest._existing`); here the rows
found become candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

TIERS = {
    "email_other_market": "Same email in another market",
    "phone": "Same phone",
    "name_company": "Same name at the same company domain",
}


def shared_phone_limit() -> int:
    return int(getattr(settings, "DEDUPE_SHARED_PHONE_LIMIT", 5))


def max_candidates() -> int:
    return int(getattr(settings, "DEDUPE_MAX_CANDIDATES", 5))


@dataclass
class Found:
    """What the lookup found for a batch: leads by email (every market), by phone (at most
    the limit + 1 each, which is enough to tell a switchboard), by name key and domain."""

    by_email: dict[str, list[int]] = field(default_factory=dict)
    by_phone: dict[str, list[int]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], list[int]] = field(default_factory=dict)


@dataclass
class Candidate:
    """A lead the new one may be: `ref` is a lead id, or an item of the same call whose new
    lead's id is known once it is inserted (anything with a `lead_id`)."""

    ref: Any
    market_id: int
    tiers: list[str]

    @property
    def lead_id(self) -> int | None:
        return self.ref if isinstance(self.ref, int) else self.ref.lead_id


@dataclass
class Review:
    candidates: list[Candidate]
    omitted: int = 0  # candidates left out: over the cap, or in a third market
    shared_phone: int = 0  # how many leads share the phone, when it counts as a switchboard

    def details(self, lead_id: int) -> dict[str, Any]:
        """What the item records (ids and tiers only: no personal data)."""
        return {
            "lead": lead_id,
            "candidates": [
                {"lead": c.lead_id, "market_id": c.market_id, "tiers": c.tiers}
                for c in self.candidates
            ],
            "omitted": self.omitted,
            "shared_phone_leads": self.shared_phone,
        }

    def summary(self, lead_id: int) -> str:
        first = self.candidates[0]
        more = f" and {len(self.candidates) - 1} more" if len(self.candidates) > 1 else ""
        why = ", ".join(TIERS[t].lower() for t in first.tiers)
        return f"Lead #{lead_id} may be lead #{first.lead_id}{more} ({why})"


@dataclass
class Earlier:
    """The new leads of one call so far, indexed by what the review tiers compare: each item
    looks its matches up instead of scanning every lead before it (a 1,000-item call was
    quadratic: half a million comparisons, ~0.9 ms an item)."""

    by_email: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    by_phone: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)
    by_name: dict[tuple[str, str], list[tuple[Any, int]]] = field(default_factory=dict)

    def add(self, ref: Any, fields: Mapping[str, str], market: int) -> None:
        email, phone = fields.get("email_norm"), fields.get("phone_e164")
        name = (fields.get("name_key") or "", fields.get("company_domain") or "")
        if email:
            self.by_email.setdefault(email, []).append((ref, market))
        if phone:
            self.by_phone.setdefault(phone, []).append((ref, market))
        if all(name):
            self.by_name.setdefault(name, []).append((ref, market))

    @classmethod
    def of(cls, leads: Iterable[tuple[Any, Mapping[str, str], int]]) -> Earlier:
        index = cls()
        for ref, fields, market in leads:
            index.add(ref, fields, market)
        return index


def review_find(
    *,
    lead: Mapping[str, str],
    market_id: int,
    found: Found,
    leads: Mapping[int, Mapping[str, Any]],
    earlier: Earlier | Iterable[tuple[Any, Mapping[str, str], int]] = (),
    exclude: Iterable[int] = (),
) -> Review | None:
    """The review for a lead with fields `lead` in `market_id`, or None when no tier matches.

    `leads`: the rows found (id → columns, incl. `market_id`, `merged_into_id`); `earlier`: new
    leads of the same call as (ref, fields, market id), which count like stored ones;
    `exclude`: lead ids never to offer (the lead itself, pairs marked "not duplicates").
    """
    tiers: dict[Any, list[str]] = {}
    markets: dict[Any, int] = {}
    skip = set(exclude)

    def add(ref: Any, market: int, tier: str) -> None:
        if ref in skip:
            return
        if tier not in tiers.setdefault(ref, []):
            tiers[ref].append(tier)
        markets[ref] = market

    def stored(ids: Iterable[int]) -> list[int]:
        return [i for i in ids if i in leads and not leads[i].get("merged_into_id")]

    email, phone = lead.get("email_norm", ""), lead.get("phone_e164", "")
    name = (lead.get("name_key", ""), lead.get("company_domain", ""))
    made = earlier if isinstance(earlier, Earlier) else Earlier.of(earlier)
    if email:
        for lead_id in stored(found.by_email.get(email, ())):
            if leads[lead_id]["market_id"] != market_id:
                add(lead_id, leads[lead_id]["market_id"], "email_other_market")
        for ref, market in made.by_email.get(email, ()):
            if market != market_id:
                add(ref, market, "email_other_market")
    shared = 0
    if phone:
        by_phone = stored(found.by_phone.get(phone, ()))
        by_phone_earlier = made.by_phone.get(phone, [])
        sharing = len(by_phone) + len(by_phone_earlier)
        if sharing > shared_phone_limit():
            shared = sharing
        else:
            for lead_id in by_phone:
                add(lead_id, leads[lead_id]["market_id"], "phone")
            for ref, market in by_phone_earlier:
                add(ref, market, "phone")
    if all(name):
        for lead_id in stored(found.by_name.get(name, ())):
            add(lead_id, leads[lead_id]["market_id"], "name_company")
        for ref, market in made.by_name.get(name, ()):
            add(ref, market, "name_company")
    if not tiers:
        return None
    # The lead's own market first, then the market of the strongest candidate; the most tiers
    # matched first, then in the order found (stored leads by id, then this call's).
    order = sorted(tiers, key=lambda r: (markets[r] != market_id, -len(tiers[r])))
    other = next((markets[r] for r in order if markets[r] != market_id), None)
    kept = [r for r in order if markets[r] in (market_id, other)]
    cap = max_candidates()
    return Review(
        candidates=[Candidate(ref=r, market_id=markets[r], tiers=tiers[r]) for r in kept[:cap]],
        omitted=len(order) - min(len(kept), cap),
        shared_phone=shared,
    )
