"""Sources: the slug check the market table uses for its source-override rows."""

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from leadops.core.actors import Actor
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
