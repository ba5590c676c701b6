"""The audit log in the admin: read-only, scoped, and "verify now" for those who see it all."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from audit.models import AuditEvent
from audit.selectors import events_scope
from audit.tasks import verify_job
from leadops.core.admin import (
    MarketScopedAdminMixin,
    ReadOnlyAdminMixin,
    request_jobs,
    request_scope,
)
from leadops.core.labels import local_time, market_codes_text, market_zone, target_link
from leadops.core.services import JobScope, job_create

VERIFY_KIND = "audit_verify"
SEE_GLOBAL = "markets.see_global"


@admin.register(AuditEvent)
class AuditEventAdmin(MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[AuditEvent]):
    list_display = ["id", "when", "action", "actor_label", "origin", "target", "markets"]
    list_display_links = ["id", "when"]
    list_filter = ["origin", "actor_kind"]
    search_fields = ["action__exact", "target_id__exact"]
    search_help_text = "An exact action (e.g. exception.filed) or the id of what it is about."
    readonly_fields = (
        "when",
        "action",
        "actor",
        "origin",
        "target",
        "markets",
        "seq",
        "body_text",
        "entry_hash_hex",
    )
    fields = readonly_fields
    show_full_result_count = False
    list_select_related = ["link"]
    change_list_template = "admin/audit/auditevent/change_list.html"

    def scope_q(self, request: HttpRequest) -> Q:
        market_ids, see_global = request_scope(request)
        return events_scope(market_ids=market_ids, see_global=see_global)

    @admin.display(description="when", ordering="occurred_at")
    def when(self, obj: AuditEvent) -> str:
        return local_time(obj.occurred_at, market_zone(obj.market_id))

    @admin.display(description="about")
    def target(self, obj: AuditEvent) -> str:
        return target_link(obj.target_type, obj.target_id)

    @admin.display(description="market")
    def markets(self, obj: AuditEvent) -> str:
        return market_codes_text(obj.market_id, obj.second_market_id)

    @admin.display(description="actor")
    def actor(self, obj: AuditEvent) -> str:
        name = obj.actor_label.removeprefix("system:")
        return f"{name} ({obj.actor_kind.replace('_', ' ')})"

    @admin.display(description="signed body")
    def body_text(self, obj: AuditEvent) -> str:
        text = json.dumps(json.loads(bytes(obj.body)), indent=2, ensure_ascii=False)
        return format_html('<pre class="lo-json">{}</pre>', text)

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
