from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The bottom layer: access-context primitives, actors, jobs; imports no other app."""

    name = "leadops.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from leadops.core.ensure import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="leadops.core.ensure")
