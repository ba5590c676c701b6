from django.apps import AppConfig


class QueueConfig(AppConfig):
    """The one exception queue: items, kinds, owners, recovery SLA, handler registry."""

    name = "leadops.queue"
    label = "queue"
    verbose_name = "Exception queue"
