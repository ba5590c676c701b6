"""GET /api/v1/audit/verify: the newest finished verification (never verifies in the request)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.schema import READ_ERRORS, errors
from leadops.api.views import ScopedAPIView
from leadops.core.selectors import jobs_visible


class VerificationOutput(serializers.Serializer):
    ok = serializers.BooleanField(allow_null=True, help_text="null: no verification finished yet")
    verified_through_seq = serializers.IntegerField(allow_null=True)
    first_bad_seq = serializers.IntegerField(allow_null=True)
    checked_at = serializers.DateTimeField(allow_null=True)


class AuditVerifyApi(ScopedAPIView):
    @extend_schema(
        responses={200: VerificationOutput, **errors(*READ_ERRORS)},
        operation_id="audit_verification_get",
        summary="Latest finished audit verification",
        description="A verification covers the whole chain, every market's events and the "
        "global ones: only clients with every market may read it (403 otherwise).",
    )
    def get(self, request: Request) -> Response:
        if not self.access.see_global:
            raise exceptions.PermissionDenied(
                "A verification covers every market's audit events; only clients with every "
                "market may read it."
            )
        job = (
            jobs_visible(market_ids=self.access.market_ids, see_global=True)
            .filter(kind="audit_verify", state__in=["succeeded", "failed"])
            .order_by("-finished_at", "-id")
            .first()
        )
        if job is None:
            empty = {"ok": None, "verified_through_seq": None, "first_bad_seq": None}
            return Response({**empty, "checked_at": None})
        result = job.result
        return Response(
            VerificationOutput(
                {
                    "ok": result.get("ok"),
                    "verified_through_seq": result.get("verified_through_seq"),
                    "first_bad_seq": result.get("first_bad_seq"),
                    "checked_at": job.finished_at,
                }
            ).data
        )
