"""GET /api/v1/reports/attribution: the attribution report, as the admin page shows it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.schema import READ_ERRORS, errors
from leadops.api.views import ScopedAPIView
from leadops.leads.attribution import attribution_report, period, totals
from leadops.markets.selectors import markets_by_id


class AttributionQuery(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="First day (UTC), e.g. 2026-11-01.")
    until = serializers.DateField(required=False, help_text="Last day (UTC), included.")
    market = serializers.CharField(required=False, help_text="A market code, e.g. DE.")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Must not be before `since`."]})
        return attrs


class AttributionOutput(serializers.Serializer):
    class RowOutput(serializers.Serializer):
        market = serializers.CharField()
        source = serializers.CharField()  # type: ignore[assignment]  # a field named "source"
        campaign = serializers.CharField()
        first_touch = serializers.IntegerField(help_text="Leads whose first touch this was.")
        last_touch = serializers.IntegerField(help_text="Leads whose last touch this was.")
        linear = serializers.DecimalField(
            max_digits=12, decimal_places=2, help_text="1/n of a lead for each of its n touches."
        )
        touches = serializers.IntegerField()

    class TotalsOutput(serializers.Serializer):
        first_touch = serializers.IntegerField()
        last_touch = serializers.IntegerField()
        linear = serializers.DecimalField(max_digits=12, decimal_places=2)
        touches = serializers.IntegerField()

    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    rows = RowOutput(many=True)
    totals = TotalsOutput()


class AttributionApi(ScopedAPIView):
    query_serializer = AttributionQuery

    @extend_schema(
        parameters=[AttributionQuery],
        responses={200: AttributionOutput, **errors(*READ_ERRORS)},
        summary="First-touch, last-touch and all-touch attribution in the caller's markets",
        operation_id="reports_attribution",
    )
    def get(self, request: Request) -> Response:
        wanted = self.query()
        start, end = period(wanted.get("since"), wanted.get("until"))
        market_ids = set(self.access.market_ids)
        if wanted.get("market"):
            code = wanted["market"].upper()
            market_ids = {i for i in market_ids if markets_by_id()[i].code == code}
        rows = attribution_report(market_ids=market_ids, since=start, until=end)
        body = {"since": start, "until": end, "rows": rows, "totals": totals(rows)}
        return Response(AttributionOutput(body).data)
