"""POST /api/v1/forms/{form_key}: a website's lead form posts here straight from the browser.

No secret: the form key only says which source it is. Instead, the browser's Origin must be one
of the source's form origins (CORS answers only those), a honeypot field catches naive bots, and
each client address is rate-limited per form. The answer never says whether the person was
already known (that would let anyone probe for email addresses): every accepted submission gets
202 {"received": true}; invalid input gets 400 with field errors like the API.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leadops.api.schema import errors
from leadops.api.throttle import SharedRateThrottle
from leadops.api.views import BaseApi
from leadops.core.actors import SystemActor
from leadops.intake import LeadInput, Submitted, intake_refuse, intake_submit
from leadops.leads.models import Source
from leadops.leads.sources import form_origins

HONEYPOT = "leadops_hp"
FORM_FIELDS = set(LeadInput().get_fields()) - {"source", "attributes"}


class FormRateThrottle(SharedRateThrottle):
    """Per form and address (LEAD_FORM_RATE)."""

    scope = "lead_form"

    def get_rate(self, request: Request) -> str:
        return str(settings.LEAD_FORM_RATE)

    def get_key(self, request: Request, view: APIView) -> str:
        return f"{view.kwargs.get('form_key', '')}:{self.get_ident(request)}"


def _cors(response: Response, origin: str) -> Response:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Vary"] = "Origin"
    return response


class FormInput(serializers.Serializer):
    """What a website's form may send (form-encoded or JSON); other fields are ignored."""

    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    company = serializers.CharField(required=False)
    country = serializers.CharField(required=False)
    leadops_hp = serializers.CharField(
        required=False, help_text="The honeypot: leave it out of the visible form."
    )


class Received(serializers.Serializer):
    received = serializers.BooleanField()


class LeadFormApi(BaseApi):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [FormRateThrottle]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def body_refused(self, request: Request, *, size: int, message: str) -> None:
        source = Source.objects.filter(form_key=self.kwargs.get("form_key"), is_active=True).first()
        if source is None:
            return  # no such form: a 413 and nothing to keep
        intake_refuse(
            actor=SystemActor(f"form:{source.slug}"),
            channel="form",
            client=f"form:{source.slug}",
            source_slug=source.slug,
            errors={"body": [message]},
            size_bytes=size,
        )

    def _source(self, form_key: str) -> Source:
        source = Source.objects.filter(form_key=form_key, is_active=True).first()
        if source is None or not form_origins(source):
            raise Http404
        return source

    def _origin(self, request: Request, source: Source) -> str:
        origin = request.headers.get("Origin", "")
        if origin not in form_origins(source):
            raise exceptions.PermissionDenied("This site may not post to this form.")
        return origin

    def options(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """CORS preflight: allowed origins only."""
        source = self._source(kwargs["form_key"])
        return _cors(Response(status=204), self._origin(request, source))

    @extend_schema(
        request={
            "application/json": FormInput,
            "application/x-www-form-urlencoded": FormInput,
            "multipart/form-data": FormInput,
        },
        responses={
            202: OpenApiResponse(
                Received,
                description="Received. The same answer whether or not the person was known.",
            ),
            **errors(400, 403, 404, 413, 415, 429),
        },
        auth=[],
        summary="A website's lead form posts here (no key; allowed origins only)",
        operation_id="form_submit",
    )
    def post(self, request: Request, form_key: str) -> Response:
        source = self._source(form_key)
        origin = self._origin(request, source)
        sent = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        data = {k: v for k, v in sent.items() if k in FORM_FIELDS | {HONEYPOT}}
        actor = SystemActor(f"form:{source.slug}")
        client = f"form:{source.slug}"
        if data.pop(HONEYPOT, ""):
            # Kept as a rejected submission (nothing is thrown away), answered like success.
            intake_refuse(
                actor=actor,
                channel="form",
                client=client,
                source_slug=source.slug,
                payload=sent,
                errors={HONEYPOT: ["filled in"]},
            )
            return _cors(Response({"received": True}, status=202), origin)
        [answer] = intake_submit(
            actor=actor,
            channel="form",
            items=[Submitted(payload=sent, fields={**data, "source": source.slug})],
            client=client,
        )
        if answer.kind == "invalid":
            return _cors(Response({"errors": answer.errors}, status=400), origin)
        # Whatever became of it, the same answer: a form is no oracle for who is known.
        return _cors(Response({"received": True}, status=202), origin)
