"""Tasks of the composition layer: thin, each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from leadops.core.tasks import ContextTask


@shared_task(name="leadops.tasks.import_job", base=ContextTask, own_transactions=True)
def import_job(run_id: int) -> None:
    """Run CSV import run `run_id` (chunked, each chunk its own intake call), as the person who
    started it."""
    from leadops.core.access import system_context
    from leadops.core.actors import SystemActor
    from leadops.imports import import_run
    from leadops.leads.models import ImportRun

    with system_context("import_job"):
        run = ImportRun.objects.select_related("upload__uploaded_by").get(pk=run_id)
    actor = run.upload.uploaded_by or SystemActor("import_leads")
    import_run(run_id=run_id, actor=actor)


@shared_task(name="leadops.tasks.imports_expire")
def imports_expire() -> int:
    """Beat: forget uploads, results and lead exports past their retention."""
    from leadops.core.actors import SystemActor
    from leadops.imports import imports_expire as expire
    from leadops.leads.exports import exports_expire

    # Lead exports are kept like imports and forgotten on the same beat.
    actor = SystemActor("imports_expire")
    return expire(actor=actor) + exports_expire(actor=actor)
