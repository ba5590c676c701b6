from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class LeadOpsAdminConfig(AdminConfig):
    """Installs the LeadOps admin site as `admin.site`, so every app registers on it."""

    default_site = "leadops.admin_site.LeadOpsAdminSite"


class LeadOpsConfig(AppConfig):
    """The composition layer as an app: it holds cross-app commands such as `seed_demo`."""

    name = "leadops"
    label = "leadops"
    verbose_name = "LeadOps"

    def ready(self) -> None:
        from leadops.kinds import kinds_register

        kinds_register()
