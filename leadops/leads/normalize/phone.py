"""Phone numbers as E.164, the one form that dedupes and dials from anywhere.

Extensions are dropped from the value: E.164 has no place for them and dedupe should match the
main line. A number that is possible but not valid (e.g. an unassigned range) is kept and
flagged, since numbering plans change faster than the library's metadata.
"""

from __future__ import annotations

import phonenumbers

from leadops.leads.normalize import Normalized
from leadops.leads.normalize._text import shown


def normalize_phone(raw: str | None, *, region: str | None) -> Normalized:
    """E.164 for `raw`, read with `region` (ISO alpha-2) as the default country."""
    text = (raw or "").strip()
    if not text:
        return Normalized("")
    default = (region or "").strip().upper()
    if default not in phonenumbers.SUPPORTED_REGIONS:
        default = ""
    parsed = _best_parse(text, default or None)
    if parsed is None or not parsed[2]:
        if not default and not text.startswith(("+", "00")):
            reason = "has no country code and there is no known default region"
        else:
            reason = "is not a possible number"
        return Normalized("", f"phone {shown(text)} {reason}", "quarantine")
    number, valid, _possible = parsed
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not valid:
        return Normalized(e164, f"phone {shown(text)} is possible but not valid", "flag")
    return Normalized(e164)


def _best_parse(
    text: str, region: str | None
) -> tuple[phonenumbers.PhoneNumber, bool, bool] | None:
    """Parse as written, and "00..." also as "+...": "00" is the international prefix in most of
    the world but not in the default region's plan everywhere (US dials 011, so phonenumbers
    would read "0049..." as a US number). The better reading wins; ties keep the literal one.
    The number comes back with whether it is valid and possible (each is costly to ask)."""
    candidates = [text]
    if text.startswith("00"):
        candidates.append("+" + text[2:])
    best: tuple[phonenumbers.PhoneNumber, bool, bool] | None = None
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        valid = phonenumbers.is_valid_number(number)
        # A valid number is possible; only an invalid one needs asking.
        reading = (number, valid, valid or phonenumbers.is_possible_number(number))
        if best is None or reading[1:] > best[1:]:
            best = reading
    return best
