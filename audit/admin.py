"""The audit log in the admin: read-only, scoped, and "verify now" for those who see it all."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from audit.models import AuditEvent
from audit.selectors import events_scope
from audit.tasks import verify_job
from leadops.core.admin import ReadOnlyAdminMixin, request_jobs, request_scope
from leadops.core.services import JobScope, job_create

VERIFY_KIND = "audit_verify"
SEE_GLOBAL = "markets.see_global"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AuditEvent]):
    list_display = ["id", "occurred_at", "action", "actor_label", "origin", "target", "market_id"]
    list_filter = ["origin", "actor_kind"]
    search_fields = ["action__exact", "target_id__exact"]
    readonly_fields = (
        "occurred_at",
        "action",
        "actor_kind",
        "actor_id",
        "actor_label",
        "origin",
        "target_type",
        "target_id",
        "market_id",
        "body_text",
        "entry_hash_hex",
        "seq",
    )
    fields = readonly_fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        market_ids, see_global = request_scope(request)
        scope = events_scope(market_ids=market_ids, see_global=see_global)
        return super().get_queryset(request).filter(scope).select_related("link")

    @admin.display(description="target")
    def target(self, obj: AuditEvent) -> str:
        return f"{obj.target_type} {obj.target_id}".strip() or "—"

    @admin.display(description="signed body")
    def body_text(self, obj: AuditEvent) -> str:
        return format_html("<code>{}</code>", bytes(obj.body).decode("utf-8"))

    @admin.display(description="entry hash")
    def entry_hash_hex(self, obj: AuditEvent) -> str:
        return bytes(obj.entry_hash).hex()

    @admin.display(description="chain seq")
    def seq(self, obj: AuditEvent) -> str:
        link = getattr(obj, "link", None)
        return str(link.seq) if link else "sealed at commit"

    def get_urls(self) -> list[URLPattern]:
        verify = path("verify/", self.admin_site.admin_view(self.verify_view), name="audit_verify")
        return [verify, *super().get_urls()]

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        """Verification runs: the newest first; RevOps and superusers can start one."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_run = request.user.has_perm(SEE_GLOBAL)
        if request.method == "POST":
            if not can_run:
                raise PermissionDenied
            # The whole chain: every market's events and the global ones.
            market_ids, _ = request_scope(request)
            job = job_create(
                actor=request.user,
                kind=VERIFY_KIND,
                scope=JobScope(market_ids=market_ids, global_rows=True),
            )
            transaction.on_commit(lambda: verify_job.delay(job.pk))
            messages.info(request, f"Verification #{job.pk} queued; this page follows it.")
            return HttpResponseRedirect(reverse("admin:audit_verify"))
        jobs = list(request_jobs(request).filter(kind=VERIFY_KIND)[:20])
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Audit verification",
            "jobs": jobs,
            "can_run": can_run,
            "polling": any(not job.is_finished for job in jobs),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/audit/verify.html", context)
