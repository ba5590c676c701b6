"""Pure normalization of incoming lead fields (no Django, no other project module).

Every function takes the raw text a source sent and returns either a plain string or a
`Normalized`: the cleaned value plus, when something is off, a short reason and a severity that
tells intake what to do with the lead ("flag": keep it and show the reason; "quarantine": the
value is doubtful enough to hold the lead for a person).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Normalized:
    value: str  # normalized value, "" when empty/unusable
    problem: str = ""  # "" when fine; otherwise a short human-readable reason
    severity: str = ""  # "" | "flag" (keep and flag) | "quarantine" (usable but doubtful: hold)


# The submodules import `Normalized` from this package, so they are imported after it exists.
from leadops.leads.normalize.country import normalize_country  # noqa: E402
from leadops.leads.normalize.domain import company_domain, is_free_mail  # noqa: E402
from leadops.leads.normalize.email import normalize_email  # noqa: E402
from leadops.leads.normalize.names import name_key, normalize_name, split_full_name  # noqa: E402
from leadops.leads.normalize.phone import normalize_phone  # noqa: E402
from leadops.leads.normalize.postal import normalize_postal_code  # noqa: E402
from leadops.leads.normalize.region import normalize_region  # noqa: E402

__all__ = [
    "Normalized",
    "company_domain",
    "is_free_mail",
    "name_key",
    "normalize_country",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_region",
    "split_full_name",
]
