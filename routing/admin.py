"""Routing in the admin: rule sets and their versions to read (the editor comes with its own
page), decisions to look up, and on the lead page the routing panel and a re-route action.
Every write goes through routing's services."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from leadops.core.admin import MarketScopedAdminMixin, json_preview, request_scope
from leadops.core.services import JobScope, job_create
from leadops.leads.hooks import (
    LeadPanel,
    lead_action_register,
    lead_bulk_action_register,
    lead_panel_register,
)
from leadops.leads.models import Lead
from routing import admin_backtest, admin_editor
from routing.engine import trace_rows
from routing.models import BacktestRun, Decision, RuleSet, RuleVersion
from routing.services import lead_reroute


class _GlobalRowsMixin(MarketScopedAdminMixin):
    """Rule sets and versions of the person's markets, and the global ones for those who see
    global rows (RevOps)."""

    def scope_q(self, request: HttpRequest) -> Q:
        ids, see_global = request_scope(request)
        scope = Q(market_id__in=sorted(ids))
        return scope | Q(market__isnull=True) if see_global else scope


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


VERSION_COLUMNS: Any = ["number", "state", "change_note", "author", "approver", "published_at"]


class VersionInline(_ReadOnly, admin.TabularInline[RuleVersion, RuleSet]):
    model = RuleVersion
    fields = VERSION_COLUMNS
    readonly_fields = VERSION_COLUMNS
    show_change_link = True
    extra = 0


@admin.register(RuleSet)
class RuleSetAdmin(_GlobalRowsMixin, _ReadOnly, admin.ModelAdmin[RuleSet]):
    list_display = ["name", "market_code", "in_force"]
    inlines = [VersionInline]
    readonly_fields = ["name", "market", "created_at"]

    @admin.display(description="market")
    def market_code(self, obj: RuleSet) -> str:
        return obj.market.code if obj.market else "global fallback"

    @admin.display(description="version in force")
    def in_force(self, obj: RuleSet) -> str:
        published = obj.versions.filter(state="published").first()
        return f"v{published.number}" if published else "none published"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return admin_editor.can_edit(request)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """Make the rule set of a market (or the global fallback) that has none yet."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        return admin_editor.rule_set_add(request, self.admin_site.each_context(request))

    def get_urls(self) -> list[Any]:
        act = path(
            "<int:rule_set_id>/draft/",
            self.admin_site.admin_view(self.draft_view),
            name="routing_ruleset_draft",
        )
        return [act, *super().get_urls()]

    def draft_view(self, request: HttpRequest, rule_set_id: int) -> HttpResponse:
        rule_set = self.get_queryset(request).filter(pk=rule_set_id).first()
        if rule_set is None or request.method != "POST":
            raise Http404
        return admin_editor.rule_set_draft(request, rule_set)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        rule_set = self.get_queryset(request).filter(pk=object_id).first()
        if rule_set is None or not self.has_view_permission(request, rule_set):
            raise Http404
        context = {
            **self.admin_site.each_context(request),
            "opts": RuleSet._meta,
            "title": str(rule_set),
            **admin_editor.rule_set_context(request, rule_set),
        }
        return TemplateResponse(request, "admin/routing/ruleset/page.html", context)


@admin.register(RuleVersion)
class RuleVersionAdmin(_GlobalRowsMixin, _ReadOnly, admin.ModelAdmin[RuleVersion]):
    list_display = ["rule_set", "number", "state", "change_note", "author", "approver"]
    list_filter = ["state"]
    readonly_fields = [
        "rule_set",
        "number",
        "state",
        "change_note",
        "author",
        "approver",
        "published_by",
        "created_at",
        "submitted_at",
        "approved_at",
        "published_at",
        "retired_at",
        "based_on",
        "content_hash",
        "rules_json",
    ]
    exclude = ["content", "market"]

    @admin.display(description="rules")
    def rules_json(self, obj: RuleVersion) -> str:
        return json_preview(obj.content, limit=200_000)

    def get_urls(self) -> list[Any]:
        act = path(
            "<int:version_id>/act/",
            self.admin_site.admin_view(self.act_view),
            name="routing_ruleversion_act",
        )
        return [act, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        version = self.get_queryset(request).filter(pk=object_id).first()
        if version is None or not self.has_view_permission(request, version):
            raise Http404
        return admin_editor._page(request, version)

    def act_view(self, request: HttpRequest, version_id: int) -> HttpResponse:
        version = self.get_queryset(request).filter(pk=version_id).first()
        if version is None or request.method != "POST":
            raise Http404
        return admin_editor.version_act(request, version)


@admin.register(Decision)
class DecisionAdmin(MarketScopedAdminMixin, _ReadOnly, admin.ModelAdmin[Decision]):
    list_display = ["decided_at", "lead_link", "market", "trigger", "outcome", "rule", "owner"]
    list_filter = ["outcome", "trigger"]
    list_select_related = ["market", "owner"]
    readonly_fields = [
        "lead",
        "market",
        "trigger",
        "outcome",
        "version",
        "rule",
        "team",
        "owner",
        "reason",
        "decided_at",
        "wake_at",
        "woken_at",
        "trace_json",
        "inputs_json",
    ]
    exclude = ["trace", "inputs"]
    show_full_result_count = False

    @admin.display(description="lead")
    def lead_link(self, obj: Decision) -> str:
        return format_html(
            '<a href="../../leads/lead/{}/change/">#{}</a>', obj.lead_id, obj.lead_id
        )

    @admin.display(description="rules evaluated")
    def trace_json(self, obj: Decision) -> str:
        return json_preview(obj.trace)

    @admin.display(description="candidates and inputs")
    def inputs_json(self, obj: Decision) -> str:
        return json_preview(obj.inputs)


def _decisions(lead: Lead) -> QuerySet[Decision]:
    return Decision.objects.filter(lead_id=lead.pk).select_related("team", "owner", "version")


def _explained(decision: Decision) -> list[dict[str, Any]]:
    """The decision's trace, each condition with its operator and value read back from the
    version that evaluated it (the stored trace keeps only what varied per lead)."""
    ids = {block.get("version_id") for block in decision.trace} - {None}
    contents = dict(RuleVersion.objects.filter(pk__in=ids).values_list("pk", "content"))
    return trace_rows(decision.trace, contents)


def routing_panel(*, lead: Lead) -> LeadPanel | None:
    """The lead page's routing module: the latest decisions, each with what it evaluated."""
    decisions = list(_decisions(lead)[:5])
    header = "not routed yet"
    if decisions:
        latest = decisions[0]
        header = f"{latest.get_outcome_display()}"
        if latest.rule:
            header += f" by rule {latest.rule}"
        if latest.version_id and latest.version:
            header += f" (v{latest.version.number})"
    return LeadPanel(
        key="routing",
        title="Routing",
        header=header,
        template="admin/routing/lead_panel.html",
        context={
            "decisions": [
                {
                    "decision": d,
                    "rules": _explained(d),
                    "candidates": d.inputs.get("candidates", []),
                    "skipped_rules": d.inputs.get("skipped_rules", []),
                    "inputs": json.dumps(d.inputs, indent=1)[:4000],
                }
                for d in decisions
            ],
        },
    )


def reroute_action(*, actor: Any, lead: Lead, data: Any) -> str:
    """The lead page's "Route again" button."""
    placed = lead_reroute(actor=actor, lead=lead)
    if placed.owner:
        return f"Routed again: {placed.owner} ({(placed.routing or {}).get('reason', '')})."
    return f"Routed again: still no owner ({(placed.routing or {}).get('reason', '')})."


@admin.action(description="Route selected leads again (as a job)", permissions=["work"])
def reroute_selected(model_admin: Any, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
    """A job for the selection (it may be thousands of leads): the published rules run again
    for each; held, closed and merged leads are skipped."""
    from routing.tasks import reroute_job

    ids = list(queryset.order_by().values_list("pk", flat=True))
    market_ids = sorted(set(queryset.order_by().values_list("market_id", flat=True)))
    job = job_create(
        actor=request.user, kind="reroute", scope=JobScope(market_ids=frozenset(market_ids))
    )
    user_id = request.user.pk
    transaction.on_commit(lambda: reroute_job.delay(job.pk, ids, user_id))
    model_admin.message_user(
        request,
        format_html(
            'Routing {} lead(s) again: <a href="{}">follow the job</a>.',
            len(ids),
            reverse("admin:core_job_change", args=[job.pk]),
        ),
    )


lead_panel_register(routing_panel)
lead_action_register("reroute", reroute_action)
lead_bulk_action_register(reroute_selected)


@admin.register(BacktestRun)
class BacktestRunAdmin(_GlobalRowsMixin, _ReadOnly, admin.ModelAdmin[BacktestRun]):
    list_display = ["created_at", "version", "requested_by", "cancelled"]
    list_select_related = ["version", "version__rule_set"]

    def get_urls(self) -> list[Any]:
        def view(name: str, route: str, fn: Any) -> Any:
            return path(route, self.admin_site.admin_view(fn), name=f"routing_backtestrun_{name}")

        return [
            view("csv", "<int:run_id>/csv/", self.csv_view),
            view("lead", "<int:run_id>/lead/<int:lead_id>/", self.lead_view),
            *super().get_urls(),
        ]

    def _run(self, request: HttpRequest, run_id: Any) -> BacktestRun:
        run = self.get_queryset(request).select_related("version", "job").filter(pk=run_id).first()
        if run is None:
            raise Http404
        return run

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        return admin_backtest.run_page(
            request,
            self._run(request, object_id),
            {**self.admin_site.each_context(request), "opts": BacktestRun._meta},
        )

    def csv_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        return admin_backtest.run_csv(request, self._run(request, run_id))

    def lead_view(self, request: HttpRequest, run_id: int, lead_id: int) -> HttpResponse:
        return admin_backtest.run_lead(
            request,
            self._run(request, run_id),
            lead_id,
            {**self.admin_site.each_context(request), "opts": BacktestRun._meta},
        )
