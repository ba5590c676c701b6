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
        from audit.services import eraser_register
        from leadops.imports import imports_erase
        from leadops.kinds import kinds_register

        kinds_register()
        eraser_register("imports", imports_erase)
