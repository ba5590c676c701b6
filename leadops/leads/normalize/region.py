"""Regions as ISO 3166-2 codes ("US-NY", "DE-BY"), for routing and territory rules.

Matching ignores case, accents, punctuation and spacing, and accepts the code with or without
its country prefix. Names come from pycountry, mostly in the local language ("Bayern"); English
exonyms ("Bavaria") are only known where pycountry has them. When names collide, a top-level
subdivision beats a nested one (Spain's "Madrid" is the community, not the province).
"""

from __future__ import annotations

import functools
import re

import pycountry

from leadops.leads.normalize import Normalized
from leadops.leads.normalize._text import fold, shown

# pycountry puts alternative names in brackets, some with their own code:
# "Wales [Cymru GB-CYM]", "Catalunya [Cataluña]". Parentheses hold notes: "Ilocos (Region I)".
_BRACKETS = re.compile(r"\s*\[([^\]]*)\]")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")
_ALT_CODE = re.compile(r"\b([A-Z]{2})-([A-Z0-9]{1,3})\b")


def normalize_region(raw: str | None, *, country: str) -> Normalized:
    """ISO 3166-2 code of `raw` within `country` (ISO alpha-2); "" for countries without any."""
    text = (raw or "").strip()
    country = country.strip().upper()
    index = _index(country)
    if not text or not index:
        return Normalized("")
    code = index.get(fold(text))
    if code is None:
        return Normalized("", f"unknown region {shown(text)} in {country}", "flag")
    return Normalized(code)


@functools.lru_cache(maxsize=64)
def _index(country: str) -> dict[str, str]:
    """Folded code or name → code. Lower rank wins: codes, then top-level, then exact names."""
    ranked: dict[str, tuple[tuple[int, int, int], str]] = {}

    def add(key: str, rank: tuple[int, int, int], code: str) -> None:
        if key and (key not in ranked or rank < ranked[key][0]):
            ranked[key] = (rank, code)

    subdivisions = pycountry.subdivisions.get(country_code=country) or []
    for sub in sorted(subdivisions, key=lambda s: s.code):
        nested = 0 if sub.parent_code is None else 1
        codes = [sub.code, *(f"{cc}-{rest}" for cc, rest in _ALT_CODE.findall(sub.name))]
        for code in codes:
            add(fold(code), (0, 0, 0), sub.code)
            add(fold(code.partition("-")[2]), (0, 0, 0), sub.code)
        for name, exact in _names(sub.name):
            add(fold(name), (1, nested, 0 if exact else 1), sub.code)
    return {key: code for key, (_, code) in ranked.items()}


def _names(name: str) -> list[tuple[str, bool]]:
    """(form, exact) pairs. "Murcia, Región de" is also read as "Región de Murcia", and loosely
    as "Murcia", a key that an exact name on the same level would win."""
    alternates = [_ALT_CODE.sub("", alt).strip() for alt in _BRACKETS.findall(name)]
    plain = _PARENTHESES.sub("", _BRACKETS.sub("", name)).strip()
    forms = [(name, True), (plain, True), *((alt, True) for alt in alternates if alt)]
    head, comma, tail = plain.partition(", ")
    if comma:
        forms += [(f"{tail} {head}", True), (head, False)]
    return forms
