"""Small text helpers shared by the normalizers."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SHOWN_LIMIT = 40


def shown(text: str) -> str:
    """Quote a raw value for a problem message, cut short so one bad field cannot flood a log."""
    text = text.strip()
    if len(text) > _SHOWN_LIMIT:
        text = text[:_SHOWN_LIMIT] + "…"
    return repr(text)


def words(text: str) -> list[str]:
    """Case-, accent- and punctuation-insensitive words: how people misspell names of places.

    "Côte d'Ivoire" → ["cote", "d", "ivoire"]; "U.S.A." → ["u", "s", "a"]; "&" reads as "and".
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.findall(r"[^\W_]+", bare.replace("&", " and "))


def fold(text: str) -> str:
    """The words run together, so spacing and hyphenation do not matter ("Baden Wurttemberg")."""
    return "".join(words(text))


_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# The dots IDNA accepts between labels: ASCII, ideographic, full-width and half-width.
DOTS = re.compile("[.\u3002\uff0e\uff61]")


@lru_cache(maxsize=16384)  # pure, and hosts repeat far more than the addresses on them
def ascii_host(host: str) -> str | None:
    """`host` as lowercase ASCII (punycode for IDNs), or None when it is not a public host name.

    An IP address or a single label ("localhost") is None: neither names an organisation.
    Labels are mapped as browsers do today (IDNA 2008 / UTS 46 non-transitional: NFKC, lower
    case, "ß" kept), not with Python's "idna" codec (IDNA 2003), which turns "straße.de" into
    "strasse.de", a different domain with possibly a different owner.
    """
    labels = DOTS.split(unicodedata.normalize("NFKC", host).lower())
    if len(labels) < 2 or not labels[-1] or labels[-1].isdigit():
        return None
    if not all(label.isascii() or _unicode_label(label) for label in labels):
        return None
    ascii_labels = [
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in labels
    ]
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in ascii_labels):
        return None
    return ascii_name


def _unicode_label(label: str) -> bool:
    """Letters, digits, marks and hyphens only: what IDNA 2008 allows, near enough."""
    return all(
        ch.isalnum() or ch == "-" or unicodedata.category(ch).startswith("M") for ch in label
    )
