"""GET /api/v1/exceptions and GET /api/v1/exceptions/{id}: the queue, scoped to the caller."""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.pagination import KeysetPagination, PageQuery, page_serializer
from leadops.api.schema import READ_ERRORS, errors
from leadops.api.views import ScopedAPIView
from leadops.queue.models import ExceptionItem
from leadops.queue.selectors import exceptions_visible


class ExceptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="e.g. quarantined, unmarketed, duplicate_review")
    market = serializers.CharField(source="market.code")
    second_market = serializers.CharField(
        source="second_market.code", allow_null=True, default=None
    )
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    summary = serializers.CharField()
    status = serializers.ChoiceField(choices=ExceptionItem.Status.choices)
    claimed_by = serializers.CharField(allow_null=True)
    claim_expires_at = serializers.DateTimeField(allow_null=True)
    error_class = serializers.CharField()
    remediation = serializers.CharField()
    created_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    overdue = serializers.BooleanField(source="is_overdue")
    escalated_at = serializers.DateTimeField(allow_null=True)
    escalated_to = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)


class ExceptionDetailOutput(ExceptionOutput):
    details = serializers.DictField(child=serializers.JSONField(allow_null=True))
    resolution = serializers.CharField()
    note = serializers.CharField()


class ExceptionFilter(PageQuery):
    kind = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=ExceptionItem.Status.choices, required=False)
    market = serializers.CharField(required=False, help_text="Market code (either market).")
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)


BY_FILING = KeysetPagination("created_at")


class ExceptionListApi(ScopedAPIView):
    query_serializer = ExceptionFilter

    @extend_schema(
        parameters=[ExceptionFilter],
        responses={
            200: page_serializer(ExceptionOutput, "ExceptionPage"),
            **errors(*READ_ERRORS),
        },
        summary="Exception queue items in the caller's markets, oldest first",
        operation_id="exceptions_list",
        description="Keyset pages on `(created_at, id)` like every list: follow `next`, then "
        "poll with `resume`. An item in two markets is listed only for callers holding both.",
    )
    def get(self, request: Request) -> Response:
        wanted = self.query()
        items = exceptions_visible(market_ids=self.access.market_ids)
        if wanted.get("kind"):
            items = items.filter(kind=wanted["kind"])
        if wanted.get("status"):
            items = items.filter(status=wanted["status"])
        if wanted.get("market"):
            code = wanted["market"].upper()
            items = items.filter(Q(market__code=code) | Q(second_market__code=code))
        if wanted.get("overdue") is not None:
            late = Q(due_at__lt=timezone.now(), status__in=["open", "claimed"])
            items = items.filter(late) if wanted["overdue"] else items.exclude(late)
        page = BY_FILING.paginate(items, cursor=wanted.get("cursor"), page_size=wanted["page_size"])
        return Response(page.body(ExceptionOutput(page.rows, many=True).data))


class ExceptionDetailApi(ScopedAPIView):
    @extend_schema(
        responses={200: ExceptionDetailOutput, **errors(*READ_ERRORS, 404)},
        summary="One exception queue item",
        operation_id="exception_get",
    )
    def get(self, request: Request, item_id: int) -> Response:
        item = exceptions_visible(market_ids=self.access.market_ids).filter(pk=item_id).first()
        if item is None:
            raise Http404
        return Response(ExceptionDetailOutput(item).data)
