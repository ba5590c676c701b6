"""The Celery application. Every task runs with an access context (leadops.core.tasks) and has
`delay_on_commit` (Django's task class).

The beat schedule lives in this one place; later issues add sync and checkpoints.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from leadops.core.collector import collector_tune
from leadops.settings.env import env_int

# DJANGO_SETTINGS_MODULE is not defaulted here: this module is imported with the `leadops`
# package, and a default set here would override the test settings. `celery -A leadops` needs
# DJANGO_SETTINGS_MODULE=leadops.settings.base in its environment (`make run` sets it).
app = Celery("leadops", task_cls="leadops.core.tasks:ContextTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _collector_tune(**_: object) -> None:
    """Each pool process, once forked and set up, as the web workers do (leadops/wsgi.py)."""
    collector_tune()


app.conf.beat_schedule = {
    # Every minute (crontab.guru: "* * * * *"): proves beat → broker → worker end to end.
    "core-heartbeat": {"task": "leadops.core.tasks.heartbeat", "schedule": 60.0},
    # Every minute ("* * * * *"): escalate exception-queue items past their recovery time.
    "queue-sweep": {"task": "leadops.queue.tasks.sweep", "schedule": 60.0},
    # Every minute: fold the dashboard's intake rollup (leadops/leads/rollups.py).
    "intake-rollup": {
        "task": "leadops.leads.tasks.intake_rollup_fold",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Every minute: SLA clocks that are due warn, breach and escalate (leadops/sla/sweep.py).
    "sla-sweep": {"task": "leadops.sla.tasks.sweep", "schedule": 60.0, "options": {"expires": 55}},
    # Every minute: route the leads that wait for a closed team once it opens.
    "routing-wake": {
        "task": "routing.tasks.waiting_wake",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Hourly ("0 * * * *"): forget idempotent responses older than 72 hours.
    "leads-idempotency-purge": {
        "task": "leadops.leads.tasks.idempotency_purge",
        "schedule": 3600.0,
    },
    # Hourly ("0 * * * *"): CSV uploads and results past CSV_IMPORT_RETENTION_DAYS lose their rows.
    "imports-expire": {"task": "leadops.tasks.imports_expire", "schedule": 3600.0},
    # Every AUDIT_CHECKPOINT_MINUTES (default 5): sign the audit chain head. What was appended
    # after the newest checkpoint kept outside the database could be cut off unnoticed, so
    # this interval is the exposure window.
    "audit-checkpoint": {
        "task": "audit.tasks.checkpoint",
        "schedule": 60.0 * env_int("AUDIT_CHECKPOINT_MINUTES", 5),
    },
}
