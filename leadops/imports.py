"""CSV import: a list uploaded, previewed, then run as a Job through the intake door.

Every row goes through `intake_submit` (channel `csv`) in chunks, so an import runs at the
batch rate with the door's rules: validation, rejected rows kept, the scope rule of the answer
(a manager's rows that land in a market they do not hold are `accepted`, nothing more), and
idempotency: each row's key is a hash of the source and its mapped content, so the same file
again (or a copy with one row edited) creates nothing new for the unchanged rows.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.core.services import JobScope, job_create, job_finish, job_progress, job_start
from leadops.intake import Preview, Submitted, intake_preview, intake_submit
from leadops.leads import normalize
from leadops.leads.csvfiles import CsvError, CsvFile, csv_read, csv_write, row_fields
from leadops.leads.mapping import source_mapping_current
from leadops.leads.models import ImportFile, ImportRun, Source

CHUNK = 1_000
PREVIEW_ROWS = 20
RESULT_HEADER = ["row", "outcome", "lead_id", "errors"]
# Outcomes that leave a row to be imported again once fixed (a mapping, the file).
FAILED = {"rejected", "too_large", "in_flight"}


def _retention() -> timedelta:
    return timedelta(days=int(getattr(settings, "CSV_IMPORT_RETENTION_DAYS", 30)))


def _max_bytes() -> int:
    return int(getattr(settings, "CSV_IMPORT_MAX_BYTES", 20 * 1024 * 1024))


def _scope(upload: ImportFile) -> JobScope:
    return JobScope(market_ids=frozenset(upload.scope_market_ids), global_rows=upload.scope_global)


def answer_scope_of(upload: ImportFile) -> frozenset[int] | None:
    """Whose eyes the answers are for: every market for a global (RevOps, command) upload,
    else the uploader's markets."""
    return None if upload.scope_global else frozenset(upload.scope_market_ids)


def parsed(upload: ImportFile) -> CsvFile:
    return csv_read(bytes(upload.content), max_bytes=_max_bytes())


def import_upload_create(
    *,
    actor: Actor,
    name: str,
    data: bytes,
    source: Source,
    options: dict[str, str],
    scope: JobScope,
) -> ImportFile:
    """Keep an uploaded list (in the database, for any worker) after checking it reads."""
    try:
        table = csv_read(data, max_bytes=_max_bytes())
    except CsvError as exc:
        raise ApplicationError(str(exc), code="unreadable_file") from exc
    rows = sum(1 for _ in table.rows())
    if not rows:
        raise ApplicationError("The file has a header but no rows.", code="empty_file")
    now = timezone.now()
    with system_context("import_upload"):
        upload = ImportFile.objects.create(
            source=source,
            name=name[:255],
            content=data,
            size_bytes=len(data),
            encoding=table.encoding,
            delimiter=table.delimiter,
            headers=table.headers,
            row_count=rows,
            options={k: v.strip() for k, v in options.items() if v and v.strip()},
            uploaded_by=actor if isinstance(actor, User) else None,
            created_at=now,
            expires_at=now + _retention(),
            scope_market_ids=sorted(scope.market_ids),
            scope_global=scope.global_rows,
        )
        audit_record(
            actor=actor,
            action="import.uploaded",
            target=upload,
            data={"source": source.slug, "rows": rows, "bytes": len(data)},
        )
    return upload


def mapping_rules(upload: ImportFile) -> tuple[dict[str, Any], int | None]:
    mapping = source_mapping_current(upload.source)
    return (mapping.rules, mapping.version) if mapping else ({}, None)


def row_key(source: Source, fields: dict[str, Any]) -> str:
    """The row's idempotency key: the source and the row's mapped content, nothing else (not
    its place in the file, not the file's name)."""
    content = json.dumps({"source": source.slug, "fields": fields}, sort_keys=True, default=str)
    return "csv:" + hashlib.sha256(content.encode()).hexdigest()


def submitted_rows(
    *,
    source: Source,
    options: dict[str, str],
    rules: dict[str, Any],
    version: int | None,
    rows: Iterable[Any],
) -> Iterator[tuple[int, Submitted]]:
    """(row number, what the door gets) for each row: the row as sent, its mapped fields, and
    its content key."""
    for number, row in rows:
        fields = row_fields(row, rules, options)
        yield (
            number,
            Submitted(
                payload=row,
                fields={**fields, "source": source.slug},
                idempotency_key=row_key(source, fields),
                mapping_version=version,
            ),
        )


def _submitted(
    upload: ImportFile, rules: dict[str, Any], version: int | None, rows: Iterable[Any]
) -> Iterator[tuple[int, Submitted]]:
    return submitted_rows(
        source=upload.source, options=upload.options, rules=rules, version=version, rows=rows
    )


def chunks(numbered: Iterator[tuple[int, Submitted]]) -> Iterator[list[tuple[int, Submitted]]]:
    """CHUNK rows at a time: each chunk is one set-based intake call."""
    chunk: list[tuple[int, Submitted]] = []
    for pair in numbered:
        chunk.append(pair)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class PreviewRow:
    number: int
    preview: Preview


def import_preview(*, upload: ImportFile, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The first rows as they would be imported now: normalized values and the predicted
    outcome (outside the uploader's markets: `accepted`). Nothing is written."""
    rules, version = mapping_rules(upload)
    first = []
    for number, row in parsed(upload).rows():
        first.append((number, row))
        if len(first) == limit:
            break
    numbered = list(_submitted(upload, rules, version, first))
    previews = intake_preview(items=[s for _, s in numbered], answer_scope=answer_scope_of(upload))
    return [PreviewRow(n, p) for (n, _), p in zip(numbered, previews, strict=True)]


@transaction.atomic
def import_start(
    *,
    actor: Actor,
    upload: ImportFile,
    only_rows: list[int] | None = None,
    enqueue: bool = True,
) -> ImportRun:
    """Record a run of `upload` (every row, or `only_rows`) as a Job; its task is sent when this
    transaction commits (a command runs it itself: `enqueue=False`)."""
    from leadops.tasks import import_job

    if upload.expired:
        raise ApplicationError(
            "This file has expired and its rows are gone: upload it again.", code="expired"
        )
    _rules, version = mapping_rules(upload)
    job = job_create(actor=actor, kind="csv_import", scope=_scope(upload))
    with system_context("import_start"):
        run = ImportRun.objects.create(
            upload=upload,
            job=job,
            only_rows=sorted(only_rows or []),
            mapping_version=version,
            scope_market_ids=upload.scope_market_ids,
            scope_global=upload.scope_global,
        )
        audit_record(
            actor=actor,
            action="import.started",
            target=run,
            data={"upload": upload.pk, "rows": len(only_rows) if only_rows else upload.row_count},
        )
    if enqueue:
        transaction.on_commit(lambda: import_job.delay(run.pk))
    return run


@dataclass
class RunReport:
    counts: Counter[str] = field(default_factory=Counter)
    failed: list[int] = field(default_factory=list)
    lines: list[list[Any]] = field(default_factory=list)


def import_run(
    *, run_id: int, actor: Actor, progress: Callable[[int, int], None] | None = None
) -> RunReport:
    """Import the run's rows through the door in chunks of CHUNK (each chunk one set-based
    intake call), reporting progress; the results file is kept on the run."""
    with system_context("import_run"):
        run = ImportRun.objects.select_related("upload__source", "job").get(pk=run_id)
        upload = run.upload
    job_start(job_id=run.job_id)
    rules, version = mapping_rules(upload)
    wanted = set(run.only_rows)
    total = len(wanted) if wanted else upload.row_count
    rows = ((n, r) for n, r in parsed(upload).rows() if not wanted or n in wanted)
    numbered = _submitted(upload, rules, version, rows)
    report = RunReport()
    done = 0
    client = f"csv:{upload.source.slug}"
    try:
        for chunk in chunks(numbered):
            answers = intake_submit(
                actor=actor,
                channel="csv",
                items=[s for _, s in chunk],
                client=client,
                answer_scope=answer_scope_of(upload),
            )
            for (number, _), answer in zip(chunk, answers, strict=True):
                # A plain string (outcomes are str enums), and the kind of a refusal.
                outcome = str(answer.outcome or answer.kind)
                if answer.kind == "in_flight":
                    outcome = "in_flight"
                report.counts[outcome] += 1
                if outcome in FAILED:
                    report.failed.append(number)
                errors = "; ".join(
                    f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in sorted(answer.errors.items())
                )
                report.lines.append(
                    [number, outcome, answer.lead_id if answer.kind == "done" else "", errors]
                )
            done += len(chunk)
            job_progress(
                job_id=run.job_id,
                progress=min(99, done * 100 // max(1, total)),
                message=f"{done:,} of {total:,} rows",
            )
            if progress is not None:
                progress(done, total)
    except Exception as exc:
        _finish(run, report, ok=False, message=f"stopped after {done:,} rows: {exc}")
        raise
    _finish(run, report, ok=True, message=_summary(report))
    return report


def _summary(report: RunReport) -> str:
    parts = [f"{n:,} {outcome}" for outcome, n in sorted(report.counts.items())]
    return ", ".join(parts) or "no rows"


def _finish(run: ImportRun, report: RunReport, *, ok: bool, message: str) -> None:
    with system_context("import_finish"):
        ImportRun.objects.filter(pk=run.pk).update(
            results=csv_write(RESULT_HEADER, report.lines),
            counts=dict(report.counts),
            failed_rows=report.failed,
        )
    job_finish(
        job_id=run.job_id,
        ok=ok,
        result={
            "run": run.pk,
            "upload": run.upload_id,
            "counts": dict(report.counts),
            "failed": len(report.failed),
        },
        message=message,
    )


def imports_expire(*, actor: Actor, now: datetime | None = None) -> int:
    """Forget uploads and results past their retention: their bytes go, the record stays."""
    moment = now or timezone.now()
    with system_context("imports_expire"):
        expired = list(
            ImportFile.objects.filter(expired=False, expires_at__lte=moment).values_list(
                "id", flat=True
            )
        )
        if not expired:
            return 0
        ImportFile.objects.filter(pk__in=expired).update(content=b"", expired=True)
        ImportRun.objects.filter(upload_id__in=expired).update(results=b"")
        for upload_id in expired:
            audit_record(
                actor=actor, action="import.expired", target=("leads.importfile", upload_id)
            )
    return len(expired)


def _cell_is(identity_field: str, value: str, cell_value: str, region: str | None) -> bool:
    text = cell_value.strip()
    if not text:
        return False
    if identity_field == "email":
        return "@" in text and normalize.normalize_email(text).value == value
    return normalize.normalize_phone(text, region=region).value == value


def imports_erase(*, identity: str, actor: Actor) -> int:
    """Eraser: drop the subject's rows from every kept upload (rewritten without them) and
    blank those rows' errors in every results file. Runs inside `subject_erase`'s system
    context."""
    field_name, _, value = identity.partition(":")
    if field_name not in ("email", "phone") or not value:
        return 0
    scrubbed = 0
    for upload in ImportFile.objects.filter(expired=False).select_related("source"):
        try:
            table = parsed(upload)
        except CsvError:
            continue
        region = upload.source.default_region or None
        gone = {
            number
            for number, row in table.rows()
            if any(_cell_is(field_name, value, c, region) for c in row.values())
        }
        if not gone:
            continue
        # The subject's rows become empty rows: every other row keeps its number, so results
        # and people still point at the same rows.
        rows = [
            ["" if n in gone else row.get(h, "") for h in table.headers]
            for n, row in _all_rows(table)
        ]
        content = csv_write(table.headers, rows, neutralise=False)
        ImportFile.objects.filter(pk=upload.pk).update(
            content=content,
            size_bytes=len(content),
            encoding="utf-8-sig",
            delimiter=",",
            row_count=upload.row_count - len(gone),
        )
        for run in ImportRun.objects.filter(upload=upload):
            lines = [
                [n, outcome, lead, "" if int(n) in gone else errors]
                for n, outcome, lead, errors in _results_rows(bytes(run.results))
            ]
            ImportRun.objects.filter(pk=run.pk).update(results=csv_write(RESULT_HEADER, lines))
        scrubbed += len(gone)
    return scrubbed


def _all_rows(table: CsvFile) -> Iterator[tuple[int, dict[str, str]]]:
    """Every data row with its number, empty ones too (rewriting must keep the numbering)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(table.text, newline=""), delimiter=table.delimiter)
    next(reader, None)
    for number, values in enumerate(reader, start=2):
        yield number, dict(zip(table.headers, values, strict=False))


def _results_rows(data: bytes) -> list[list[str]]:
    if not data:
        return []
    table = csv_read(data, max_bytes=max(len(data), 1))
    return [[row.get(h, "") for h in RESULT_HEADER] for _n, row in table.rows()]
