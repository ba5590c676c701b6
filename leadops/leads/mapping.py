"""Source mappings: any JSON a source sends → the canonical lead fields, by dotted paths.

A rule names where a field is (`path`, dotted, list indices as numbers: `contacts.0.email`),
and optionally a `map` of picklist values (matched after trimming, case-insensitively). The
target `full_name` is split into first and last name. Every value is trimmed.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import audit_record
from leadops.core.actors import Actor, actor_ref
from leadops.core.errors import ApplicationError
from leadops.leads import normalize
from leadops.leads.fields import MAPPING_TARGETS
from leadops.leads.models import Source, SourceMapping

TARGETS = MAPPING_TARGETS


def rules_problems(rules: Any) -> list[str]:
    if not isinstance(rules, dict) or not rules:
        return ["rules must be an object of canonical field → rule"]
    problems = []
    for target, rule in rules.items():
        if target not in TARGETS:
            problems.append(f"{target}: not a lead field (one of {', '.join(sorted(TARGETS))})")
            continue
        if not isinstance(rule, dict) or not isinstance(rule.get("path"), str) or not rule["path"]:
            problems.append(f"{target}: needs a non-empty 'path'")
            continue
        unknown = set(rule) - {"path", "map"}
        if unknown:
            problems.append(f"{target}: unknown keys {sorted(unknown)}")
        mapped = rule.get("map", {})
        if not isinstance(mapped, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapped.items()
        ):
            problems.append(f"{target}: 'map' must map text to text")
    return problems


def _dig(payload: Any, path: str) -> Any:
    # A flat record whose keys have dots (a CSV header "E-Mail Adr.") is looked up as is first.
    if isinstance(payload, dict) and path in payload:
        return payload[path]
    current = payload
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def mapping_apply(rules: dict[str, Any], payload: Any) -> dict[str, Any]:
    """The canonical fields found in `payload` (values that are missing or not scalar are
    left out; the lead validation then says what is missing)."""
    fields: dict[str, Any] = {}
    for target, rule in rules.items():
        value = _dig(payload, rule["path"])
        if value is None or isinstance(value, dict | list):
            continue
        text = str(value).strip()
        lookup = {k.strip().lower(): v for k, v in rule.get("map", {}).items()}
        text = lookup.get(text.lower(), text)
        if target == "full_name":
            first, last = normalize.split_full_name(text)
            fields.setdefault("first_name", first)
            fields.setdefault("last_name", last)
        else:
            fields[target] = text
    return fields


def source_mapping_current(source: Source) -> SourceMapping | None:
    return source.mappings.order_by("-version").first()


@transaction.atomic
def source_mapping_set(*, actor: Actor, source: Source, rules: Any, note: str) -> SourceMapping:
    """A new mapping version for `source`, refused with every problem named."""
    problems = rules_problems(rules)
    if not note.strip():
        problems.append("say why the mapping changes (note)")
    if problems:
        raise ApplicationError(
            "; ".join(problems), code="invalid_mapping", extra={"problems": problems}
        )
    latest = source_mapping_current(source)
    mapping = SourceMapping.objects.create(
        source=source,
        version=(latest.version + 1) if latest else 1,
        rules=rules,
        note=note,
        created_by=actor_ref(actor).label,
    )
    audit_record(
        actor=actor,
        action="source_mapping.versioned",
        target=mapping,
        data={"source": source.slug, "version": mapping.version, "fields": sorted(rules)},
    )
    return mapping
