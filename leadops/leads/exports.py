"""Lead exports: the columns, the rows in chunks, the worker's file for a large selection, and
the eraser for kept files. The admin action lives in `admin_export.py`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from leadops.core.actors import Actor
from leadops.leads.csvfiles import csv_write
from leadops.leads.models import Lead, LeadExport

COLUMNS = [
    ("id", "id"),
    ("market", "market__code"),
    ("status", "status"),
    ("owner", "owner__username"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("email", "email_norm"),
    ("phone", "phone_e164"),
    ("company", "company"),
    ("company_domain", "company_domain"),
    ("title", "title"),
    ("country", "country"),
    ("region", "region"),
    ("postal_code", "postal_code"),
    ("score", "score"),
    ("first_source", "first_source__slug"),
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
]
HEADER = [name for name, _ in COLUMNS]


def sync_rows() -> int:
    return int(getattr(settings, "LEAD_EXPORT_SYNC_ROWS", 5000))


def export_rows(leads: QuerySet[Lead]) -> Iterator[list[Any]]:
    """The rows in id order, read in chunks (a server-side cursor, never all in memory)."""
    values = leads.order_by("id").values_list(*(path for _, path in COLUMNS))
    for row in values.iterator(chunk_size=2000):
        yield [v.isoformat() if hasattr(v, "isoformat") else v for v in row]


def lead_export_write(*, export_id: int) -> int:
    """The worker's part: the file, in the reader's markets (the task's context), then the
    job finished. The row count of the file."""
    from leadops.core.services import job_finish, job_start

    export = LeadExport.objects.get(pk=export_id)
    job_start(job_id=export.job_id)
    rows = list(export_rows(Lead.objects.filter(pk__in=export.lead_ids)))
    export.content = csv_write(HEADER, rows)
    export.row_count = len(rows)
    export.lead_ids = []  # the file holds them now
    export.save(update_fields=["content", "row_count", "lead_ids"])
    job_finish(
        job_id=export.job_id,
        ok=True,
        result={"rows": len(rows), "export": export.pk},
        message=f"{len(rows):,} rows: Leads → Lead exports → #{export.pk}",
    )
    return len(rows)


def exports_erase(*, identity: str, actor: Actor) -> int:
    """Eraser: an export file holding the subject's email or phone is emptied (and says so)."""
    field, _, value = identity.partition(":")
    if field not in ("email", "phone") or not value:
        return 0
    needle = value.encode()
    erased = 0
    for export in LeadExport.objects.exclude(content=b""):
        if needle in bytes(export.content):
            export.content, export.expired = b"", True
            export.save(update_fields=["content", "expired"])
            erased += 1
    return erased


def exports_expire(*, actor: Actor, now: Any = None) -> int:
    """Beat: export files past their retention lose their bytes; the record stays."""
    from django.utils import timezone

    from audit.services import audit_record
    from leadops.core.access import system_context

    moment = now or timezone.now()
    with system_context("exports_expire"):
        expired = list(
            LeadExport.objects.filter(expired=False, expires_at__lte=moment).values_list(
                "id", flat=True
            )
        )
        LeadExport.objects.filter(pk__in=expired).update(content=b"", expired=True)
        for export_id in expired:
            audit_record(
                actor=actor, action="export.expired", target=("leads.leadexport", export_id)
            )
    return len(expired)
