"""Routes under /api/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from leadops.api.audit import AuditVerifyApi
from leadops.api.exceptions import ExceptionDetailApi, ExceptionListApi
from leadops.api.forms import LeadFormApi
from leadops.api.leads import (
    LeadAuditApi,
    LeadBatchApi,
    LeadDetailApi,
    LeadEventApi,
    LeadsApi,
    SourceSubmissionApi,
)
from leadops.api.markets import MarketListApi, MarketNoteListApi
from leadops.api.reports import AttributionApi
from leadops.api.routing import (
    RuleSetEnsureApi,
    RuleSetVersionsApi,
    VersionApproveApi,
    VersionDetailApi,
    VersionPublishApi,
    VersionSubmitApi,
)

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("v1/markets", MarketListApi.as_view(), name="market-list"),
    path("v1/reports/attribution", AttributionApi.as_view(), name="report-attribution"),
    path("v1/market-notes", MarketNoteListApi.as_view(), name="market-note-list"),
    path("v1/audit/verify", AuditVerifyApi.as_view(), name="audit-verify"),
    path("v1/exceptions", ExceptionListApi.as_view(), name="exception-list"),
    path("v1/leads", LeadsApi.as_view(), name="leads"),
    path("v1/leads/batch", LeadBatchApi.as_view(), name="leads-batch"),
    path("v1/leads/<int:lead_id>", LeadDetailApi.as_view(), name="lead-detail"),
    path("v1/leads/<int:lead_id>/events", LeadEventApi.as_view(), name="lead-events"),
    path("v1/leads/<int:lead_id>/audit", LeadAuditApi.as_view(), name="lead-audit"),
    path("v1/forms/<str:form_key>", LeadFormApi.as_view(), name="lead-form"),
    path(
        "v1/sources/<slug:slug>/submissions",
        SourceSubmissionApi.as_view(),
        name="source-submissions",
    ),
    path("v1/exceptions/<int:item_id>", ExceptionDetailApi.as_view(), name="exception-detail"),
    path("v1/routing/rule-sets", RuleSetEnsureApi.as_view(), name="routing-rule-sets"),
    path(
        "v1/routing/rule-sets/<int:rule_set_id>/versions",
        RuleSetVersionsApi.as_view(),
        name="routing-rule-set-versions",
    ),
    path(
        "v1/routing/versions/<int:version_id>", VersionDetailApi.as_view(), name="routing-version"
    ),
    path(
        "v1/routing/versions/<int:version_id>/submit",
        VersionSubmitApi.as_view(),
        name="routing-version-submit",
    ),
    path(
        "v1/routing/versions/<int:version_id>/approve",
        VersionApproveApi.as_view(),
        name="routing-version-approve",
    ),
    path(
        "v1/routing/versions/<int:version_id>/publish",
        VersionPublishApi.as_view(),
        name="routing-version-publish",
    ),
]
