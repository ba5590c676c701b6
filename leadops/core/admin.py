from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from leadops.core.models import Job


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (audit events, jobs): view only, and with no delete
    permission the admin offers no bulk delete either."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Job]):
    """Background jobs: started from the pages that need them."""

    list_display = ["id", "kind", "actor_label", "state", "progress", "message", "created_at"]
    list_filter = ["kind", "state"]
    readonly_fields = [f.name for f in Job._meta.fields]
