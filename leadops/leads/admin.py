"""Leads in the admin: a manager's markets only; search by exact normalized email, phone or
domain (an index lookup that RLS does not defeat); no full COUNT(*) on the list."""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import CharField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from leadops.core.admin import (
    MarketScopedAdminMixin,
    ReadOnlyAdminMixin,
    json_preview,
    request_jobs,
    request_scope,
)
from leadops.core.services import JobScope, job_create
from leadops.leads import (
    admin_attribution,
    admin_export,
    admin_list,
    admin_reviews,
    admin_workspace,
    normalize,
)
from leadops.leads.hooks import lead_bulk_actions, lead_list_columns
from leadops.leads.mapping import rules_problems, source_mapping_set
from leadops.leads.models import (
    Activity,
    Lead,
    LeadExport,
    Source,
    SourceMapping,
    SourceTouch,
    Submission,
)
from leadops.leads.sources import source_ensure, source_form_set
from leadops.leads.tasks import retag_job
from leadops.markets.models import ApiClient, MarketTableVersion
from leadops.markets.selectors import market_table_versions_open
from leadops.markets.services import is_revops


def _posted_id(value: str | None) -> int:
    """A posted object id: anything but a whole number is no object (404), never a 500."""
    if value is None or not value.strip().isdigit():
        raise Http404("No such object.")
    return int(value)


def lead_search_terms(term: str) -> dict[str, str]:
    """The normalized columns a search term can equal: never a LIKE or lower() scan."""
    term = term.strip()
    if "@" in term:
        return {"email_norm": normalize.normalize_email(term).value}
    phone = normalize.normalize_phone(term, region=None)
    if phone.value:
        return {"phone_e164": phone.value}
    return {"company_domain": normalize.company_domain(website=term, email=None)}


def trace_table(trace: dict[str, Any]) -> str:
    """The per-field trace as people read it: field, as sent, normalized, and any note."""
    if not trace:
        return "—"
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (field.replace("_", " "), sent or "—", normalized or "—", note or "")
            for field, (sent, normalized, note) in sorted(trace.items())
        ),
    )
    return format_html(
        '<table class="lo-trace"><thead><tr><th>field</th><th>as sent</th><th>normalized</th>'
        "<th>note</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def errors_text(errors: dict[str, Any]) -> str:
    """ "email: Give an email or a phone.; company: …" — why a submission was rejected."""
    parts = []
    for field, messages_ in sorted(errors.items()):
        text = messages_ if isinstance(messages_, str) else "; ".join(map(str, messages_))
        parts.append(f"{field.replace('_', ' ')}: {text}")
    return " · ".join(parts)


def client_names() -> Coalesce:
    """The name of the API client or person a submission's `client` ("api_client:3",
    "user:5") refers to, as one subquery (no query per row)."""
    clients = ApiClient.objects.annotate(
        ref=Concat(Value("api_client:"), Cast("id", CharField()))
    ).filter(ref=OuterRef("client"))
    users = User.objects.annotate(ref=Concat(Value("user:"), Cast("id", CharField()))).filter(
        ref=OuterRef("client")
    )
    return Coalesce(Subquery(clients.values("name")[:1]), Subquery(users.values("username")[:1]))


def client_label(client: str, name: str | None) -> str:
    kind, _, ident = client.partition(":")
    if not client:
        return "—"
    if kind == "api_client":
        return f"API client {name}" if name else f"API client #{ident} (gone)"
    if kind == "user":
        return name or f"user #{ident}"
    if kind == "form":
        return f"the public form of {ident}"
    return client


class TouchInline(
    MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline[SourceTouch, Lead]
):
    model = SourceTouch
    fields = readonly_fields = (
        "occurred_at",
        "source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "alternates_view",
    )
    extra = 0

    @admin.display(description="values that differed")
    def alternates_view(self, obj: SourceTouch) -> str:
        return json_preview(obj.alternates, limit=600)


class ActivityInline(
    MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline[Activity, Lead]
):
    model = Activity
    fields = readonly_fields = ("occurred_at", "kind", "note", "actor")
    extra = 0


class SubmissionInline(
    MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline[Submission, Lead]
):
    model = Submission
    fields = readonly_fields = ("received_at", "source", "outcome", "reason", "trace_view")
    extra = 0

    @admin.display(description="what each field became")
    def trace_view(self, obj: Submission) -> str:
        return trace_table(obj.trace)


class SyntheticFilter(admin.SimpleListFilter):
    """Test leads stay out of the list unless asked for."""

    title = "test leads"
    parameter_name = "synthetic"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("with", "Shown too"), ("only", "Only test leads")]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Hidden",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "with":
            return queryset
        return queryset.filter(is_synthetic=self.value() == "only")


@admin.register(Lead)
class LeadAdmin(MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[Lead]):
    list_display = [
        "id",
        "first_name",
        "last_name",
        "company",
        "market",
        "status",
        "owner",
        "score",
        "updated_at",
    ]
    list_filter = [
        "status",
        "market",
        admin_list.OwnerFilter,
        "first_source",
        ("created_at", admin.DateFieldListFilter),
        admin_list.OpenExceptionFilter,
        SyntheticFilter,
    ]
    list_select_related = ["market", "owner"]
    paginator = admin_list.CappedPaginator
    # Facet counts run a COUNT per filter choice over the whole selection: never at 1M leads.
    show_facets = admin.ShowFacets.NEVER

    @property
    def actions(self) -> list[Any]:  # type: ignore[override]
        # Apps above `leads` add theirs (routing: route again), read when the page is built.
        return [
            admin_list.assign_selected,
            admin_list.status_selected,
            admin_export.export_selected,
            *lead_bulk_actions(),
        ]

    search_fields = ["email_norm"]  # replaced by get_search_results: exact, normalized
    search_help_text = "An exact email, phone or company domain."
    show_full_result_count = False
    inlines = [TouchInline, ActivityInline, SubmissionInline]
    change_list_template = "admin/leads/lead/change_list.html"
    change_form_template = "admin/leads/lead/change_form.html"
    readonly_fields = (
        "market",
        "status",
        "score",
        "first_name",
        "last_name",
        "email",
        "phone",
        "phone_e164",
        "phone_flag",
        "company",
        "company_domain",
        "title",
        "country",
        "region",
        "postal_code",
        "attributes_table",
        "market_table_version",
        "market_row_id",
        "first_source",
        "owner",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    # Columns and filters of apps above `leads` (the SLA clock), read when the page is built.
    def get_list_display(self, request: HttpRequest) -> Any:
        extra = [c.render for c in lead_list_columns()]
        at = 1  # right after the id: the first thing a person working the list reads
        return [*self.list_display[:at], *extra, *self.list_display[at:]]

    def get_list_filter(self, request: HttpRequest) -> Any:
        extra = [f for c in lead_list_columns() for f in c.filters]
        return [*self.list_filter[:3], *extra, *self.list_filter[3:]]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        for column in lead_list_columns():
            column.prefetch(list(changelist.result_list))
        return changelist

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = {**(extra_context or {}), "can_retag": is_revops(request.user)}
        return super().changelist_view(request, context)

    @admin.display(description="attributes")
    def attributes_table(self, obj: Lead) -> str:
        if not obj.attributes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((key, "—" if val is None else val) for key, val in sorted(obj.attributes.items())),
        )
        return format_html('<table class="lo-attributes">{}</table>', rows)

    def get_urls(self) -> list[URLPattern]:
        def view(name: str, route: str, fn: Any) -> URLPattern:
            return path(route, self.admin_site.admin_view(fn), name=f"leads_lead_{name}")

        retag = path("retag/", self.admin_site.admin_view(self.retag_view), name="leads_retag")
        return [
            retag,
            view("review", "review/<int:item_id>/", partial(admin_reviews.review_view, self)),
            view("identity", "identity/<int:item_id>/", partial(admin_reviews.identity_view, self)),
            view("unmerge", "unmerge/<int:merge_id>/", partial(admin_reviews.unmerge_view, self)),
            view("duplicates", "<int:lead_id>/duplicates/", self.duplicates_action_view),
            view("act", "<int:lead_id>/act/", self.act_view),
            view("attribution", "attribution/", partial(admin_attribution.attribution_view, self)),
            view(
                "compare",
                "compare/<int:lead_id>/<int:other_id>/",
                partial(admin_workspace.compare_view, self),
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        lead = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if lead is not None:
            context["dupes"] = admin_reviews.lead_duplicates_context(request, lead)
            context["ws"] = admin_workspace.workspace_context(request, lead)
        return super().change_view(request, object_id, form_url, context)

    def has_work_permission(self, request: HttpRequest) -> bool:
        """Who works leads (bulk actions, export): managers and RevOps, as the queue."""
        return bool(request.user.has_perm("queue.change_exceptionitem"))

    def act_view(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        """The lead page's actions (status, owner, activity, market, merge, erase)."""
        if request.method != "POST":
            raise PermissionDenied
        lead = get_object_or_404(self.get_queryset(request), pk=lead_id)
        return admin_workspace.lead_act(request, lead)

    def duplicates_action_view(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        """The lead page's duplicate actions: look for duplicates, detach a submission, undo a
        "not duplicates" mark."""
        if request.method != "POST":
            raise PermissionDenied
        lead = get_object_or_404(self.get_queryset(request), pk=lead_id)
        admin_reviews.duplicates_act(request, lead)
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))

    def retag_view(self, request: HttpRequest) -> HttpResponse:
        """Preview what a market-table version would move, then move it: both as Jobs."""
        if not is_revops(request.user):
            raise PermissionDenied
        if request.method == "POST":
            version = get_object_or_404(
                MarketTableVersion, pk=_posted_id(request.POST.get("version"))
            )
            apply = request.POST.get("apply") == "1"
            # It looks at every market while it runs; when it ends, its scope narrows to the
            # markets its result names.
            market_ids, see_global = request_scope(request)
            job = job_create(
                actor=request.user,
                kind="retag" if apply else "retag_preview",
                scope=JobScope(market_ids=market_ids, global_rows=see_global),
            )
            transaction.on_commit(
                lambda: retag_job.delay(job.pk, version.pk, apply, request.user.pk)
            )
            messages.info(request, f"Job #{job.pk} queued; this page follows it.")
            return HttpResponseRedirect(reverse("admin:leads_retag"))
        jobs = list(request_jobs(request).filter(kind__in=["retag", "retag_preview"])[:10])
        context = {
            **self.admin_site.each_context(request),
            "title": "Retag leads",
            "versions": market_table_versions_open(),
            "jobs": jobs,
            "polling": any(not job.is_finished for job in jobs),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/leads/retag.html", context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Lead], search_term: str
    ) -> tuple[QuerySet[Lead], bool]:
        if not search_term.strip():
            return queryset, False
        return queryset.filter(**lead_search_terms(search_term)), False


@admin.register(Submission)
class SubmissionAdmin(MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[Submission]):
    list_display = ["id", "received_at", "source", "outcome", "why", "sender", "market", "lead"]
    list_filter = ["outcome", "source", "market", ("received_at", admin.DateFieldListFilter)]
    paginator = admin_list.CappedPaginator
    show_facets = admin.ShowFacets.NEVER
    list_select_related = ["market", "source", "lead"]
    show_full_result_count = False
    readonly_fields = (
        "received_at",
        "source",
        "sender",
        "external_id",
        "idempotency_key",
        "outcome",
        "why",
        "errors_view",
        "trace_view",
        "payload_view",
        "size_bytes",
        "normalizer_version",
        "mapping_version",
        "lead",
        "market",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Submission]:
        return super().get_queryset(request).annotate(client_name=client_names())

    @admin.display(description="sent by")
    def sender(self, obj: Submission) -> str:
        return client_label(obj.client, getattr(obj, "client_name", None))

    @admin.display(description="why")
    def why(self, obj: Submission) -> str:
        if obj.outcome == Submission.Outcome.REJECTED and obj.errors:
            return errors_text(obj.errors)
        return obj.reason or "—"

    @admin.display(description="errors")
    def errors_view(self, obj: Submission) -> str:
        return json_preview(obj.errors)

    @admin.display(description="what each field became")
    def trace_view(self, obj: Submission) -> str:
        return trace_table(obj.trace)

    @admin.display(description="payload as received")
    def payload_view(self, obj: Submission) -> str:
        return json_preview(
            obj.payload, whole_url=reverse("admin:leads_submission_payload", args=[obj.pk])
        )

    def get_urls(self) -> list[URLPattern]:
        whole = path(
            "<int:submission_id>/payload/",
            self.admin_site.admin_view(self.payload_whole_view),
            name="leads_submission_payload",
        )
        return [whole, *super().get_urls()]

    def payload_whole_view(self, request: HttpRequest, submission_id: int) -> HttpResponse:
        """The whole stored payload as JSON, for the one who may read the submission."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        submission = get_object_or_404(self.get_queryset(request), pk=submission_id)
        return JsonResponse(
            submission.payload,
            safe=False,
            json_dumps_params={"indent": 2, "ensure_ascii": False},
        )


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin[Source]):
    list_display = ["slug", "name", "kind", "default_region", "is_active"]
    actions = None

    fields = ["slug", "name", "kind", "default_region", "is_active", "form_origins", "form_url"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["slug", "form_url"] if obj else ["form_url"]

    @admin.display(description="public form endpoint")
    def form_url(self, obj: Source) -> str:
        return f"/api/v1/forms/{obj.form_key}" if obj.form_key and obj.form_origins else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        saved = source_ensure(
            actor=request.user,
            slug=obj.slug,
            name=obj.name,
            kind=obj.kind,
            default_region=obj.default_region,
        )
        source_form_set(actor=request.user, source=saved, origins=obj.form_origins.splitlines())
        obj.pk = saved.pk


class MappingForm(forms.ModelForm[SourceMapping]):
    class Meta:
        model = SourceMapping
        fields = ["source", "rules", "note"]

    def clean_rules(self) -> Any:
        problems = rules_problems(self.cleaned_data["rules"])
        if problems:
            raise forms.ValidationError(problems)
        return self.cleaned_data["rules"]


@admin.register(SourceMapping)
class SourceMappingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[SourceMapping]):
    """Mappings are versions: add a new one (validated by the service); old ones stay readable."""

    form = MappingForm
    list_display = ["source", "version", "note", "created_by", "created_at"]
    list_filter = ["source"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("leads.add_source"))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            ["source", "rules", "note"]
            if obj is None
            else ["source", "version", "rules", "note", "created_by", "created_at"]
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: SourceMapping, form: Any, change: bool) -> None:
        mapping = source_mapping_set(
            actor=request.user, source=obj.source, rules=obj.rules, note=obj.note
        )
        obj.pk = mapping.pk


@admin.register(LeadExport)
class LeadExportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LeadExport]):
    """Large exports, written by a worker: each downloads while it is kept."""

    list_display = ["id", "created_at", "created_by", "row_count", "filters", "state", "file"]
    list_select_related = ["created_by", "job"]
    fields = ("created_at", "created_by", "row_count", "filters", "expires_at", "state", "file")
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<int:export_id>/download/",
            self.admin_site.admin_view(partial(admin_export.download_view, self)),
            name="leads_leadexport_download",
        )
        return [download, *super().get_urls()]

    @admin.display(description="state")
    def state(self, obj: LeadExport) -> str:
        if obj.expired:
            return "expired"
        return str(obj.job.get_state_display())

    @admin.display(description="file")
    def file(self, obj: LeadExport) -> str:
        if obj.expired or not obj.row_count:
            return "—"
        url = reverse("admin:leads_leadexport_download", args=[obj.pk])
        return format_html('<a href="{}">leads-export-{}.csv</a>', url, obj.pk)
