"""E-mail addresses: one spelling per mailbox, so duplicates are found and sends do not bounce.

Local parts are lowercased too: in practice no provider treats them case-sensitively, and
"John@" and "john@" must dedupe. Plus-tags and Gmail dots are kept: stripping them would merge
mailboxes that can really differ, and dedupe should rather miss than merge wrongly.
"""

from __future__ import annotations

import re
import unicodedata

from leadops.leads.normalize import Normalized
from leadops.leads.normalize._text import DOTS, ascii_host, shown

_MAX_LENGTH = 254  # RFC 5321 forward-path limit minus the angle brackets
# RFC 5322 dot-atom text; any other Unicode letter or digit is allowed too (RFC 6531 mailboxes).
_LOCAL_SPECIALS = frozenset("!#$%&'*+/=?^_`{|}~-")
# The same set for ASCII: letters and digits (what str.isalnum admits in ASCII), dots, specials.
_ASCII_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+")


def normalize_email(raw: str | None) -> Normalized:
    """Lowercase, punycode the domain, and quarantine anything that is not one plain address."""
    text = _unwrap(unicodedata.normalize("NFC", raw or ""))
    if not text:
        return Normalized("")
    problem = _problem(text)
    if problem:
        return Normalized("", f"email {shown(text)} {problem}", "quarantine")
    local, _, domain = text.partition("@")
    ascii_domain = ascii_host(domain)
    if ascii_domain is None:
        return Normalized("", f"email {shown(text)} has an invalid domain", "quarantine")
    address = f"{local.lower()}@{ascii_domain}"
    if len(address) > _MAX_LENGTH:
        return Normalized("", f"email {shown(text)} is too long", "quarantine")
    return Normalized(address)


def _unwrap(text: str) -> str:
    """Peel what mail clients and CSV exports put around an address: <...>, mailto:, spaces."""
    while True:
        before = text
        text = text.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1]
        if text[:7].lower() == "mailto:":
            text = text[7:].split("?", 1)[0]  # a mailto: link may carry ?subject=...
        if text == before:
            return text


def _problem(text: str) -> str:
    if text.split() != [text]:  # some whitespace (str.split splits on exactly str.isspace)
        return "contains spaces"
    if "@" not in text:
        return "has no '@'"
    if text.count("@") > 1:
        return "has more than one '@'"
    local, _, domain = text.partition("@")
    if not local:
        return "has nothing before the '@'"
    if not domain:
        return "has nothing after the '@'"
    if not DOTS.search(domain):
        return "has no dot in its domain"
    if len(local) > 64 or not _valid_local(local):
        return "has an invalid part before the '@'"
    return ""


def _valid_local(local: str) -> bool:
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    if local.isascii():  # nearly every address: one regex instead of a test per character
        return _ASCII_LOCAL.fullmatch(local) is not None
    return all(ch == "." or ch in _LOCAL_SPECIALS or ch.isalnum() for ch in local)
