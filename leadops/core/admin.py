from django.contrib import admin
from django.http import HttpRequest

from leadops.core.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    """Background jobs, read-only: started from the pages that need them."""

    list_display = ["id", "kind", "actor_label", "state", "progress", "message", "created_at"]
    list_filter = ["kind", "state"]
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False
