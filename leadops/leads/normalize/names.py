"""Person names: tidy the spacing, and fix the casing only when the source clearly lost it.

A name typed in all capitals or all lower case carries no casing information, so title-casing
it loses nothing. Any mixed casing ("McDonald", "van der Berg", "DeShawn") is the person's own
and is kept exactly: we cannot know better.
"""

from __future__ import annotations

import re
import unicodedata

# Lowercase inside a name ("Ludwig van Beethoven"), capitalised when they start it.
PARTICLES = frozenset(
    {"van", "von", "de", "da", "di", "le", "la", "du", "del", "der", "den", "della", "dos", "das",
     "do", "ten", "ter", "zu", "vom", "zum", "zur"}
)  # fmt: skip
_GENERATIONS = frozenset({"ii", "iii", "iv"})
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", *_GENERATIONS})
# Invisible characters that copy-paste brings along; not whitespace to str.split().
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"), None)
# Each piece after one of these starts with a capital: Anne-Marie, O'Brien, J.R.
_PIECE = re.compile("([-'\u2019.])")  # \u2019: the typographic apostrophe


def normalize_name(raw: str | None) -> str:
    """Trimmed, single-spaced, NFC; title-cased only if it was all upper or all lower case."""
    text = unicodedata.normalize("NFC", raw or "").translate(_INVISIBLE)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    name = " ".join(text.split())
    if len(name) > 1 and (name.isupper() or name.islower()):
        # Case mapping can undo composition (Greek with a perispomeni): compose again.
        return unicodedata.normalize("NFC", _title(name))
    return name


def split_full_name(raw: str | None) -> tuple[str, str]:
    """(first, last) from "First Middle Last" or "Last, First".

    Without a comma the last name is the last word, or starts at a particle ("van Beethoven"),
    and keeps a trailing "Jr."/"III". One word is taken as a first name.
    """
    name = normalize_name(raw)
    if "," in name:
        # "John Smith, Jr." is not the comma form: suffixes go back to the end of the last name.
        parts = [part.strip() for part in name.split(",") if part.strip()]
        suffixes = [part for part in parts if part.lower() in _SUFFIXES]
        parts = [part for part in parts if part.lower() not in _SUFFIXES]
        if len(parts) >= 2:
            return " ".join(parts[1:]), " ".join([parts[0], *suffixes])
        name = " ".join(parts + suffixes)
    words = name.split()
    if len(words) < 2:
        return name, ""
    end = len(words) - 1
    if end > 1 and words[end].lower() in _SUFFIXES:
        end -= 1
    start = next((i for i in range(1, end) if words[i].lower() in PARTICLES), end)
    return " ".join(words[:start]), " ".join(words[start:])


def _title(name: str) -> str:
    words = name.lower().split(" ")
    return " ".join(_title_word(word, first=i == 0) for i, word in enumerate(words))


def _title_word(word: str, *, first: bool) -> str:
    if not first and word in PARTICLES:
        return word
    if not first and word in _GENERATIONS:
        return word.upper()
    return "".join(piece[:1].title() + piece[1:] for piece in _PIECE.split(word))


def name_key(first: str | None, last: str | None) -> str:
    """The key under which two people's full names count as the same, for the name + company
    tier of dedupe: "" unless both parts are given (a first name alone names nobody).

    Compatibility-decomposed with the accents dropped, case-folded, punctuation made space and
    spacing collapsed: "Zoë  O'Brien" and "ZOE O BRIEN" share a key; "Ann" and "Anna" do not
    (whole keys are compared, never substrings).
    """
    parts = []
    for raw in (first, last):
        text = unicodedata.normalize("NFKD", raw or "").translate(_INVISIBLE)
        text = "".join(
            " " if unicodedata.category(ch)[0] in "PZC" else ch
            for ch in text
            if not unicodedata.combining(ch)
        )
        words = text.casefold().split()
        if not words:
            return ""
        parts.extend(words)
    return " ".join(parts)[:200]
