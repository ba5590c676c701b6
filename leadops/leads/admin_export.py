"""Exporting the lead list: the current selection as CSV, scoped like the list (the queryset
is the reader's), every cell neutralised against formula injection, audited with the filter
used and the row count. Up to `LEAD_EXPORT_SYNC_ROWS` rows stream at once; a larger selection
becomes a Job whose file waits on the Jobs page. No column is withheld from managers today:
every exported field is one they see on the lead page."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from leadops.core.actors import Actor
from leadops.core.services import JobScope, job_create
from leadops.leads.csvfiles import cell
from leadops.leads.exports import HEADER, export_rows, sync_rows
from leadops.leads.models import Lead, LeadExport


def _audit(
    actor: Actor, *, rows: int, filters: str, market_ids: Iterable[int], job: int | None
) -> None:
    audit_record(
        actor=actor,
        action="leads.exported",
        market_id=None,
        data={"rows": rows, "filters": filters[:500], "markets": sorted(market_ids), "job": job},
    )


@admin.action(description="Export selected leads as CSV", permissions=["work"])
def export_selected(model_admin: Any, request: HttpRequest, queryset: QuerySet[Lead]) -> Any:
    filters = request.GET.urlencode()
    ids = list(queryset.order_by().values_list("pk", flat=True))
    market_ids = set(queryset.order_by().values_list("market_id", flat=True).distinct())
    if len(ids) <= sync_rows():
        with transaction.atomic():
            _audit(request.user, rows=len(ids), filters=filters, market_ids=market_ids, job=None)
        return _stream(list(export_rows(Lead.objects.filter(pk__in=ids))))
    return _as_job(request, ids, market_ids, filters)


class _Echo:
    """A file that hands back what is written: csv.writer then yields lines to stream."""

    def write(self, value: str) -> str:
        return value


def _stream(rows: list[list[Any]]) -> StreamingHttpResponse:
    """The rows (read in the request's access context, before the response leaves) streamed
    as CSV with every cell neutralised."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[bytes]:
        yield codecs.BOM_UTF8 + writer.writerow(HEADER).encode()
        for row in rows:
            yield writer.writerow([cell(v) for v in row]).encode()

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


@transaction.atomic
def _as_job(
    request: HttpRequest, ids: list[int], market_ids: set[int], filters: str
) -> HttpResponse:
    from leadops.leads.tasks import lead_export_job

    job = job_create(
        actor=request.user,
        kind="lead_export",
        scope=JobScope(market_ids=frozenset(market_ids), global_rows=False),
    )
    export = LeadExport.objects.create(
        job=job,
        lead_ids=ids,
        filters=filters[:500],
        created_by=request.user if isinstance(request.user, User) else None,
        scope_market_ids=sorted(market_ids),
        scope_global=False,
        expires_at=timezone.now()
        + timedelta(days=int(getattr(settings, "LEAD_EXPORT_RETENTION_DAYS", 7))),
    )
    _audit(request.user, rows=len(ids), filters=filters, market_ids=market_ids, job=job.pk)
    scope = sorted(market_ids)
    transaction.on_commit(lambda: lead_export_job.delay(export.pk, market_ids=scope))
    messages.info(
        request,
        f"{len(ids):,} leads: export #{export.pk} runs as job #{job.pk}; "
        "its file appears under Leads → Lead exports when it is done.",
    )
    return HttpResponseRedirect(
        reverse("admin:leads_lead_changelist") + (f"?{filters}" if filters else "")
    )


def download_view(model_admin: Any, request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(LeadExport.objects.all(), pk=export_id)
    if export.expired or export.expires_at < timezone.now():
        messages.error(request, "This export has expired: export the list again.")
        return HttpResponseRedirect(reverse("admin:leads_leadexport_changelist"))
    response = HttpResponse(bytes(export.content), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="leads-export-{export.pk}.csv"'
    return response
