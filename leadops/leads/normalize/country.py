"""Countries as ISO 3166-1 alpha-2, the code every other field (phone, region, postal) keys on.

Matching ignores case, accents, punctuation and spacing, since sources send "U.S.A.", "usa" and
"Cote d'Ivoire" alike. pycountry supplies codes and English names; ALIASES adds what people
actually write: short forms, old names, the UK's nations, and names in the country's language.
"""

from __future__ import annotations

import functools
import re

import pycountry

from leadops.leads.normalize import Normalized
from leadops.leads.normalize._text import shown, words

# Maintained by hand: add a line when a source sends a name we quarantine.
ALIASES: dict[str, str] = {
    # United Kingdom and its nations (leads do not need the nation; regions carry it)
    "UK": "GB", "Great Britain": "GB", "Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB",
    # United States
    "US": "US", "USA": "US", "United States of America": "US", "America": "US",
    # Europe, in the country's own languages and common neighbours' names
    "Deutschland": "DE", "Allemagne": "DE", "Österreich": "AT", "Schweiz": "CH", "Suisse": "CH",
    "Svizzera": "CH", "España": "ES", "Italia": "IT", "Nederland": "NL", "Holland": "NL",
    "België": "BE", "Belgique": "BE", "Polska": "PL", "Sverige": "SE", "Norge": "NO",
    "Danmark": "DK", "Suomi": "FI", "Éire": "IE", "Republic of Ireland": "IE",
    "Česko": "CZ", "Czech Republic": "CZ", "Hellas": "GR", "Ελλάδα": "GR",
    "Russia": "RU", "Россия": "RU", "Turkey": "TR", "Macedonia": "MK",
    "Vatican": "VA", "Vatican City": "VA",
    # Elsewhere
    "Brasil": "BR", "México": "MX", "Nippon": "JP", "Nihon": "JP", "日本": "JP", "中国": "CN",
    "Korea": "KR", "South Korea": "KR", "Republic of Korea": "KR",
    "UAE": "AE", "Emirates": "AE", "Ivory Coast": "CI", "Cape Verde": "CV", "Burma": "MM",
    "Swaziland": "SZ",
    "Hong Kong SAR": "HK", "Macau": "MO", "DR Congo": "CD", "DRC": "CD", "East Timor": "TL",
}  # fmt: skip

# "N/A" means no value; folded it would read as "NA", Namibia's code. A bare "NA" stays Namibia.
_NOT_APPLICABLE = re.compile(r"n\s*[/.]\s*a\.?", re.IGNORECASE)


def normalize_country(raw: str | None) -> Normalized:
    """ISO alpha-2 from a code (alpha-2, alpha-3, numeric), an English name or an alias."""
    text = (raw or "").strip()
    if not text or _NOT_APPLICABLE.fullmatch(text):
        return Normalized("")
    code = _index().get(_key(text))
    if code is None:
        return Normalized("", f"unknown country {shown(text)}", "quarantine")
    return Normalized(code)


def _key(text: str) -> str:
    """Forms that differ only in "the" or "St" share a key: "The Gambia" and "Gambia, The"
    are "Gambia", "St Lucia" is "Saint Lucia". Then spacing stops mattering."""
    folded = words(text)
    if len(folded) > 1 and folded[0] == "the":
        folded = folded[1:]
    if len(folded) > 1 and folded[-1] == "the":
        folded = folded[:-1]
    if folded and folded[0].isdigit():
        return folded[0].zfill(3) if len(folded) == 1 else ""
    return "".join("saint" if word == "st" else word for word in folded)


def _names(name: str) -> list[str]:
    """pycountry's name plus the forms people write: "Korea, Republic of" is also read as
    "Republic of Korea", and "Holy See (Vatican City State)" also as "Holy See"."""
    plain = re.sub(r"\s*\([^)]*\)", "", name)
    forms = [name, plain]
    head, comma, tail = plain.partition(", ")
    if comma:
        forms.append(f"{tail} {head}")
    return forms


@functools.cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        names = [
            country.name,
            getattr(country, "official_name", ""),
            getattr(country, "common_name", ""),
        ]
        for name in filter(None, names):
            for form in _names(name):
                index.setdefault(_key(form), country.alpha_2)
    # Codes go last so that they win over any name that folds to the same letters.
    for country in pycountry.countries:
        for code in (country.alpha_2, country.alpha_3, country.numeric):
            index[_key(code)] = country.alpha_2
    # Aliases win over everything: they are the deliberate, reviewed choice.
    index.update({_key(alias): code for alias, code in ALIASES.items()})
    index.pop("", None)
    return index
