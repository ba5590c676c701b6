"""Admin pages of the composition layer: importing a CSV list (upload, preview, run, results).

RevOps and managers import; only RevOps may make a source's mapping from the file's headers.
A manager's rows that land in a market they do not hold are imported but shown as `accepted`,
with nothing about the person, in the preview and the results.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from leadops.core.access import system_context
from leadops.core.admin import MarketScopedAdminMixin, request_scope
from leadops.core.errors import ApplicationError
from leadops.core.selectors import jobs_scope
from leadops.core.services import JobScope
from leadops.imports import (
    import_preview,
    import_start,
    import_upload_create,
    mapping_rules,
    parsed,
)
from leadops.leads.csvfiles import LIST_OPTIONS, CsvError, header_field
from leadops.leads.fields import MAPPING_TARGETS
from leadops.leads.mapping import source_mapping_set
from leadops.leads.models import ImportFile, ImportRun, Source
from leadops.markets.services import is_revops


class SourceChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.slug})"


class UploadForm(forms.Form):
    file = forms.FileField(help_text="A CSV file (comma, semicolon or tab; UTF-8 or Windows-1252).")
    source = SourceChoice(
        queryset=Source.objects.filter(is_active=True).order_by("name"),
        help_text="Where the list comes from; its mapping reads the columns.",
    )
    campaign = forms.CharField(required=False, help_text="For every row, e.g. 'DMEXCO 2026'.")
    utm_source = forms.CharField(required=False, label="UTM source")
    utm_medium = forms.CharField(required=False, label="UTM medium")
    utm_campaign = forms.CharField(required=False, label="UTM campaign")
    utm_term = forms.CharField(required=False, label="UTM term")
    utm_content = forms.CharField(required=False, label="UTM content")


def _header_rows(upload: ImportFile) -> list[dict[str, Any]]:
    """Each column and what it becomes: a field by its own name, a field by the mapping, or
    nothing."""
    rules, _version = mapping_rules(upload)
    by_path = {rule.get("path"): target for target, rule in rules.items()}
    rows = []
    for header in upload.headers:
        mapped = by_path.get(header)
        own = header_field(header)
        rows.append(
            {
                "header": header,
                "field": mapped or own or "",
                "how": "mapping" if mapped else "its name" if own else "",
            }
        )
    return rows


@admin.register(ImportFile)
class ImportFileAdmin(MarketScopedAdminMixin, admin.ModelAdmin[ImportFile]):
    list_display = ["name", "source", "row_count", "uploaded_by", "created_at", "kept_until"]
    list_select_related = ["source", "uploaded_by"]
    change_form_template = "admin/leads/importfile/change_form.html"
    change_list_template = "admin/leads/importfile/change_list.html"
    fields = ("name", "source", "row_count")
    readonly_fields = ("name", "source", "row_count")

    def scope_q(self, request: HttpRequest) -> Q:
        market_ids, see_global = request_scope(request)
        return jobs_scope(market_ids=market_ids, see_global=see_global)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an upload is read and run, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="kept until")
    def kept_until(self, obj: ImportFile) -> str:
        return "expired" if obj.expired else obj.expires_at.strftime("%Y-%m-%d")

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="leads_importfile_upload"),
            path("<int:upload_id>/start/", view(self.start_view), name="leads_importfile_start"),
            path(
                "<int:upload_id>/mapping/", view(self.mapping_view), name="leads_importfile_mapping"
            ),
            path(
                "run/<int:run_id>/results.csv",
                view(self.results_view),
                name="leads_importfile_results",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        return HttpResponseRedirect(reverse("admin:leads_importfile_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            market_ids, see_global = request_scope(request)
            data = form.cleaned_data
            try:
                upload = import_upload_create(
                    actor=request.user,
                    name=data["file"].name,
                    data=data["file"].read(),
                    source=data["source"],
                    options={k: data.get(k, "") for k in LIST_OPTIONS},
                    scope=JobScope(market_ids=market_ids, global_rows=see_global),
                )
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                return HttpResponseRedirect(
                    reverse("admin:leads_importfile_change", args=[upload.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a list",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/leads/importfile/upload.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        upload = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if upload is not None:
            runs = list(
                ImportRun.objects.filter(upload=upload)
                .select_related("job")
                .defer("results")
                .order_by("-created_at")
            )
            preview, problem = [], ""
            if not upload.expired:
                try:
                    preview = import_preview(upload=upload)
                except CsvError as exc:
                    problem = str(exc)
            context.update(
                {
                    "title": f"Import: {upload.name}",
                    "upload": upload,
                    "columns": _header_rows(upload),
                    "targets": sorted(MAPPING_TARGETS),
                    "preview": preview,
                    "problem": problem,
                    "runs": runs,
                    "polling": any(not run.job.is_finished for run in runs),
                    "can_map": is_revops(request.user),
                    "can_start": self.has_add_permission(request) and not upload.expired,
                }
            )
        return super().change_view(request, object_id, form_url, context)

    def _upload(self, request: HttpRequest, upload_id: int) -> ImportFile:
        return get_object_or_404(self.get_queryset(request).select_related("source"), pk=upload_id)

    def start_view(self, request: HttpRequest, upload_id: int) -> HttpResponse:
        """Start the import of every row, or of the rows a run could not import."""
        if request.method != "POST" or not self.has_add_permission(request):
            raise PermissionDenied
        upload = self._upload(request, upload_id)
        only: list[int] | None = None
        failed_of = request.POST.get("failed_of", "")
        if failed_of:
            if not failed_of.isdigit():
                raise Http404
            run = get_object_or_404(ImportRun.objects.filter(upload=upload), pk=int(failed_of))
            only = list(run.failed_rows)
            if not only:
                messages.info(request, "That run left no rows to import again.")
                return HttpResponseRedirect(
                    reverse("admin:leads_importfile_change", args=[upload.pk])
                )
        try:
            run = import_start(actor=request.user, upload=upload, only_rows=only)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            rows = len(only) if only else upload.row_count
            messages.success(request, f"Import of {rows:,} rows started (job #{run.job_id}).")
        return HttpResponseRedirect(reverse("admin:leads_importfile_change", args=[upload.pk]))

    def mapping_view(self, request: HttpRequest, upload_id: int) -> HttpResponse:
        """RevOps make the source's mapping from this file's headers (a new mapping version)."""
        if request.method != "POST" or not is_revops(request.user):
            raise PermissionDenied
        upload = self._upload(request, upload_id)
        rules, _version = mapping_rules(upload)
        chosen = dict(rules)
        for number, header in enumerate(upload.headers):
            target = request.POST.get(f"field-{number}", "")
            # A column that is already a field by its own name needs no rule.
            for existing in [t for t, r in chosen.items() if r.get("path") == header]:
                del chosen[existing]
            if target and target in MAPPING_TARGETS and header_field(header) != target:
                chosen[target] = {"path": header}
        try:
            with system_context("import_mapping"):
                source_mapping_set(
                    actor=request.user,
                    source=upload.source,
                    rules=chosen or {"email": {"path": "email"}},
                    note=request.POST.get("note", "") or f"from the headers of {upload.name}",
                )
        except ApplicationError as exc:
            for problem in exc.extra.get("problems", [exc.message]):
                messages.error(request, problem)
        else:
            messages.success(request, f"The mapping of {upload.source} now reads these columns.")
        return HttpResponseRedirect(reverse("admin:leads_importfile_change", args=[upload.pk]))

    def results_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        """The results file of a run, for whoever may read the run."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        market_ids, see_global = request_scope(request)
        run = get_object_or_404(
            ImportRun.objects.filter(jobs_scope(market_ids=market_ids, see_global=see_global)),
            pk=run_id,
        )
        response = HttpResponse(bytes(run.results), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-results.csv"'
        return response


__all__ = ["ImportFileAdmin", "parsed"]
