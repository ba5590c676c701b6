"""GET /api/v1/markets and GET /api/v1/market-notes: thin views over market selectors."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.pagination import CreatedCursorPagination
from leadops.api.views import ScopedAPIView
from leadops.markets.selectors import market_list, market_note_list


class MarketListApi(ScopedAPIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        code = serializers.CharField()
        name = serializers.CharField()
        timezone = serializers.CharField()

    @extend_schema(responses=OutputSerializer(many=True), summary="Markets the caller may see")
    def get(self, request: Request) -> Response:
        markets = market_list(access=self.access)
        return Response(self.OutputSerializer(markets, many=True).data)


class MarketNoteListApi(ScopedAPIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        market = serializers.CharField(source="market.code")
        text = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        responses=OutputSerializer(many=True), summary="Notes in the markets the caller may see"
    )
    def get(self, request: Request) -> Response:
        paginator: CursorPagination = CreatedCursorPagination()
        page = paginator.paginate_queryset(market_note_list(access=self.access), request, self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
