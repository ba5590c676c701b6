"""The company's web domain, the key that groups leads from one organisation.

The website wins over the e-mail because people sign up with private addresses. A free-mail
domain says nothing about the employer, so it is skipped, and yields "" rather than a false
grouping when it is all there is. Hosts are kept whole apart from "www." (there is no
public-suffix list here): "shop.acme.com" stays as it is.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from leadops.leads.normalize._text import ascii_host
from leadops.leads.normalize.email import normalize_email

_FREEMAIL_FILE = Path(__file__).with_name("freemail_domains.txt")
_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def company_domain(*, website: str | None, email: str | None) -> str:
    """The website's host, else the e-mail's domain; "" when neither is a usable, non-free-mail
    domain (a "website" of "gmail.com" is a mistyped e-mail field, not Google)."""
    for domain in (_website_host(website or ""), normalize_email(email).value.rpartition("@")[2]):
        if domain and not is_free_mail(domain):
            return domain
    return ""


def is_free_mail(domain: str) -> bool:
    """Whether `domain` belongs to a free-mail, ISP or disposable mailbox provider."""
    return domain.strip().rstrip(".").lower() in _freemail_domains()


@functools.cache
def _freemail_domains() -> frozenset[str]:
    lines = _FREEMAIL_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _website_host(website: str) -> str:
    """The host of a URL as people type it: with or without scheme, user, port, path."""
    text = _SCHEME.sub("", unicodedata.normalize("NFC", website).strip())
    authority = re.split(r"[/?#\\]", text, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal names no organisation
        return ""
    host = ascii_host(host.partition(":")[0].rstrip(".")) or ""
    if host.startswith("www.") and "." in host[4:]:
        host = host[4:]
    return host
