from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom layer: access-context primitives, actors, jobs; imports no other app."""

    name = "leadops.core"
    label = "core"
    verbose_name = "Core"
