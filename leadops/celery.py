"""The Celery application. Tasks subclass Django's task class so `delay_on_commit` is there.

The beat schedule lives in this one place; later issues add the SLA sweep, sync and checkpoints.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadops.settings.base")

app = Celery("leadops", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Every minute (crontab.guru: "* * * * *"): proves beat → broker → worker end to end.
    "core-heartbeat": {"task": "leadops.core.tasks.heartbeat", "schedule": 60.0},
}
