"""Postal codes in each country's printed form, so they match reference data and dedupe.

Countries with a well-known format are validated; an invalid code is dropped and flagged (the
lead is kept, only the postal code is not used). Elsewhere the code is only tidied: without the
country's rules, rejecting would lose more good data than it catches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from leadops.leads.normalize import Normalized
from leadops.leads.normalize._text import shown

# Hyphen look-alikes that forms and word processors substitute and NFKC leaves alone: the
# Unicode hyphens and dashes, the minus sign, and the katakana long-vowel mark (Japanese input).
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"), "-")


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]  # matched against the code without spaces or hyphens
    render: Callable[[re.Match[str]], str]
    expected: str  # for the problem message
    prefixes: tuple[str, ...] = ()  # old-style country prefixes people still write ("D-10115")


def _joined(separator: str) -> Callable[[re.Match[str]], str]:
    return lambda match: separator.join(group for group in match.groups() if group)


_RULES: dict[str, _Rule] = {
    "US": _Rule(re.compile(r"(\d{5})(\d{4})?"), _joined("-"), "12345 or 12345-6789"),
    "CA": _Rule(
        re.compile(r"([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])(\d[ABCEGHJ-NPRSTV-Z]\d)"),
        _joined(" "),
        "A1A 1A1",
    ),
    "GB": _Rule(
        re.compile(r"([A-Z]{1,2}\d[A-Z\d]?)(\d[ABD-HJLNP-UW-Z]{2})|(GIR)(0AA)"),
        _joined(" "),
        "SW1A 1AA",
    ),
    "DE": _Rule(re.compile(r"(\d{5})"), _joined(""), "5 digits", ("DE", "D")),
    "FR": _Rule(re.compile(r"(\d{5})"), _joined(""), "5 digits", ("FR", "F")),
    "NL": _Rule(
        re.compile(r"([1-9]\d{3})(?!SA|SD|SS)([A-Z]{2})"), _joined(" "), "1234 AB", ("NL",)
    ),
    "AU": _Rule(re.compile(r"(\d{4})"), _joined(""), "4 digits"),
    "JP": _Rule(re.compile(r"(\d{3})(\d{4})"), _joined("-"), "123-4567"),
}


def normalize_postal_code(raw: str | None, *, country: str) -> Normalized:
    """The postal code in `country`'s printed form; tidied only for countries without a rule."""
    # NFKC turns full-width digits and letters (common in Japanese input) into ASCII; other
    # scripts' digits (Arabic-Indic, Devanagari...) are mapped explicitly.
    text = unicodedata.normalize("NFKC", raw or "").translate(_DASHES).replace("〒", "")
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    text = " ".join(text.split()).upper()
    if not text:
        return Normalized("")
    country = country.strip().upper()
    rule = _RULES.get(country)
    if rule is None:
        return Normalized(text)
    compact = re.sub(r"[\s-]", "", text)
    for prefix in rule.prefixes:
        if compact.startswith(prefix) and compact[len(prefix) : len(prefix) + 1].isdigit():
            compact = compact[len(prefix) :]
            break
    match = rule.pattern.fullmatch(compact)
    if match is None:
        problem = f"postal code {shown(raw or '')} is not a valid {country} postal code"
        return Normalized("", f"{problem} (expected {rule.expected})", "flag")
    return Normalized(rule.render(match))
