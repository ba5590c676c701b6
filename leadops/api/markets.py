"""GET /api/v1/markets and GET /api/v1/market-notes: thin views over market selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.pagination import KeysetPagination, PageQuery, page_serializer
from leadops.api.schema import READ_ERRORS, errors
from leadops.api.views import ScopedAPIView
from leadops.markets.selectors import market_list, market_note_list

BY_CREATION = KeysetPagination("created_at")


class MarketOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField(help_text="IANA time zone, e.g. Europe/Berlin.")


class MarketNoteOutput(serializers.Serializer):
    id = serializers.IntegerField()
    market = serializers.CharField(source="market.code")
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class MarketListApi(ScopedAPIView):
    query_serializer = PageQuery

    @extend_schema(
        parameters=[PageQuery],
        responses={200: page_serializer(MarketOutput, "MarketPage"), **errors(*READ_ERRORS)},
        summary="Markets the caller may see",
        operation_id="markets_list",
    )
    def get(self, request: Request) -> Response:
        wanted = self.query()
        page = BY_CREATION.paginate(
            market_list(access=self.access),
            cursor=wanted.get("cursor"),
            page_size=wanted["page_size"],
        )
        return Response(page.body(MarketOutput(page.rows, many=True).data))


class MarketNoteListApi(ScopedAPIView):
    query_serializer = PageQuery

    @extend_schema(
        parameters=[PageQuery],
        responses={
            200: page_serializer(MarketNoteOutput, "MarketNotePage"),
            **errors(*READ_ERRORS),
        },
        summary="Notes in the markets the caller may see",
        operation_id="market_notes_list",
    )
    def get(self, request: Request) -> Response:
        wanted = self.query()
        page = BY_CREATION.paginate(
            market_note_list(access=self.access),
            cursor=wanted.get("cursor"),
            page_size=wanted["page_size"],
        )
        return Response(page.body(MarketNoteOutput(page.rows, many=True).data))
