"""Sources: the slug check the market table uses for its source-override rows."""

from __future__ import annotations

import secrets

from django.db import transaction

from audit.services import audit_record
from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.leads.models import Source


def source_slug_problem(slug: str) -> str | None:
    if Source.objects.filter(slug=slug).exists():
        return None
    return f"no source with slug {slug!r}"


@transaction.atomic
def source_ensure(
    *,
    actor: Actor,
    slug: str,
    name: str,
    kind: str = Source.Kind.PARTNER_API,
    default_region: str = "",
) -> Source:
    """Create the source or bring it to these attributes (idempotent; audited when it changes)."""
    source, created = Source.objects.get_or_create(
        slug=slug, defaults={"name": name, "kind": kind, "default_region": default_region}
    )
    changed = (source.name, source.kind, source.default_region) != (name, kind, default_region)
    if changed:
        source.name, source.kind, source.default_region = name, kind, default_region
        source.full_clean()
        source.save()
    if created or changed:
        audit_record(
            actor=actor,
            action="source.created" if created else "source.updated",
            target=source,
            data={"slug": slug, "name": name, "kind": kind, "default_region": default_region},
        )
    return source


@transaction.atomic
def source_form_set(*, actor: Actor, source: Source, origins: list[str]) -> Source:
    """Open (or close, with no origins) the public form of `source`; the key is made once."""
    cleaned = sorted({o.strip().rstrip("/") for o in origins if o.strip()})
    for origin in cleaned:
        if not origin.startswith(("https://", "http://")) or "/" in origin.split("://", 1)[1]:
            raise ApplicationError(
                f"{origin!r} is not an origin (scheme and host, e.g. https://www.example.com).",
                code="bad_origin",
            )
    source.form_origins = "\n".join(cleaned)
    if cleaned and not source.form_key:
        source.form_key = secrets.token_urlsafe(16)
    source.save(update_fields=["form_origins", "form_key"])
    audit_record(
        actor=actor,
        action="source.form_set",
        target=source,
        data={"slug": source.slug, "origins": cleaned},
    )
    return source


def form_origins(source: Source) -> set[str]:
    return {line.strip() for line in source.form_origins.splitlines() if line.strip()}
