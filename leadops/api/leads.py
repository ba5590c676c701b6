"""The leads API: POST /api/v1/leads (one lead, idempotent), GET list and detail."""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.limits import BodyLimitMixin
from leadops.api.views import ScopedAPIView
from leadops.core.actors import actor_ref
from leadops.leads.idempotency import (
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
    request_hash,
)
from leadops.leads.ingest import IngestItem, leads_ingest, submission_reject
from leadops.leads.models import Lead, Source
from leadops.markets.models import ApiClient
from leadops.markets.selectors import market_access_for

OUTCOME_STATUS = {"created": 201, "review": 201, "merged": 200, "quarantined": 202}
# The answer about a lead that landed outside the caller's markets (DESIGN.md, External
# contract): the same whether the person was new, known or ambiguous.
ACCEPTED_STATUS = 202
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 100
MAX_ATTRIBUTE_CHARS = 1000
TEXT_FIELDS = {
    "external_id": 128,
    "email": 254,
    "phone": 64,
    "first_name": 100,
    "last_name": 100,
    "company": 200,
    "website": 300,
    "title": 150,
    "country": 100,
    "region": 100,
    "postal_code": 32,
    "utm_source": 200,
    "utm_medium": 200,
    "utm_campaign": 200,
    "utm_term": 200,
    "utm_content": 200,
}


def attribute_problem(value: Any) -> str | None:
    """Why an attribute value cannot be kept, or None: scalars only, text of bounded length."""
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "a list"
        return f"Must be a string, number, true/false or null, not {kind}."
    if isinstance(value, float) and not math.isfinite(value):
        return "Must be a finite number."
    if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
        return f"At most {MAX_ATTRIBUTE_CHARS:,} characters; this has {len(value):,}."
    return None


class LeadInput(serializers.Serializer):
    occurred_at = serializers.DateTimeField(required=False)
    attributes = serializers.DictField(
        required=False,
        help_text=f"Anything else about the lead: at most {MAX_ATTRIBUTES} keys, each a string "
        f"(≤ {MAX_ATTRIBUTE_CHARS:,} characters), number, true/false or null. Kept on the lead.",
    )

    def validate_attributes(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_ATTRIBUTES:
            raise serializers.ValidationError(
                f"At most {MAX_ATTRIBUTES} attributes; this has {len(value)}."
            )
        problems = {}
        for key, item in value.items():
            if len(key) > MAX_ATTRIBUTE_KEY:
                problems[key[:MAX_ATTRIBUTE_KEY]] = [
                    f"A key is at most {MAX_ATTRIBUTE_KEY} characters; this has {len(key)}."
                ]
            elif (problem := attribute_problem(item)) is not None:
                problems[key] = [problem]
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here: "source" is also an attribute of DRF fields, which confuses the stubs.
        fields["source"] = serializers.SlugField(max_length=50)
        for name, length in TEXT_FIELDS.items():
            fields[name] = serializers.CharField(
                max_length=length, required=False, allow_blank=True, allow_null=True
            )
        return fields

    def validate_source(self, slug: str) -> Source:
        source = Source.objects.filter(slug=slug, is_active=True).first()
        if source is None:
            raise serializers.ValidationError(f"No active source {slug!r}.")
        return source

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not (data.get("email") or "").strip() and not (data.get("phone") or "").strip():
            raise serializers.ValidationError({"email": ["Give an email or a phone."]})
        return data


def _result_body(result: Any) -> dict[str, Any]:
    # Only ids, outcome, market code and status: nothing of a market outside the caller's scope.
    return {
        "submission_id": result.submission_id,
        "lead_id": result.lead_id,
        "outcome": result.outcome,
        "reason": result.reason or None,
        "market": result.market,
        "status": result.status,
        "owner": None,
        "routing": None,
        "sla": None,
        "duplicate_of": result.duplicate_of,
    }


class LeadCreateApi(BodyLimitMixin):
    """Not wrapped in a request-wide transaction: the idempotency claim commits before the work."""

    def body_refused(self, request: Request, *, size: int, message: str) -> None:
        """A body over the limit is not read, but its arrival is kept as a rejected submission."""
        principal: Any = request.auth if isinstance(request.auth, ApiClient) else request.user
        who = actor_ref(principal)
        submission_reject(
            actor=principal,
            source=self.refused_source(),
            payload={},
            errors={"body": [message]},
            client=f"{who.kind}:{who.id}",
            size_bytes=size,
        )

    def refused_source(self) -> Source | None:
        """The source a refused body was meant for, when the URL names it."""
        return None

    @extend_schema(
        request=LeadInput,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        responses={201: dict, 200: dict, 202: dict, 400: dict, 409: dict, 422: dict},
        summary="Submit one lead",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        return self.ingest_one(request, request.data)

    def ingest_one(
        self, request: Request, data: Any, mapping_version: int | None = None
    ) -> Response | HttpResponse:
        """Idempotency, validation, one call of the intake path: shared by every channel.

        `data` is what gets validated (the mapped fields, for a source's own format); the
        submission always stores `request.data`, exactly as the client sent it."""
        principal: Any = request.auth if isinstance(request.auth, ApiClient) else request.user
        who = actor_ref(principal)
        client = f"{who.kind}:{who.id}"
        key = request.headers.get("Idempotency-Key", "").strip()[:200]
        claim_id = None
        if key:
            claim = idempotency_claim(client=client, key=key, body_hash=request_hash(request.data))
            if claim.replay is not None:
                status, body = claim.replay
                return HttpResponse(body, status=status, content_type="application/json")
            if claim.conflict is not None:
                status, detail = claim.conflict
                code = "idempotency_mismatch" if status == 422 else "idempotency_in_flight"
                return Response({"detail": detail, "code": code}, status=status)
            claim_id = claim.row_id
        try:
            return self._ingest(principal, client, key, claim_id, data, mapping_version)
        except Exception:
            if claim_id is not None:
                idempotency_release(row_id=claim_id)
            raise

    def _ingest(
        self,
        principal: Any,
        client: str,
        key: str,
        claim_id: int | None,
        raw: Any,
        mapping_version: int | None,
    ) -> Response | HttpResponse:
        data = LeadInput(data=raw)
        if not data.is_valid():
            if claim_id is not None:
                idempotency_release(row_id=claim_id)
            errors = {
                k: [str(m) for m in v] if isinstance(v, list) else v for k, v in data.errors.items()
            }
            source = None
            if isinstance(raw, dict) and isinstance(raw.get("source"), str):
                source = Source.objects.filter(slug=raw["source"]).first()
            submission_reject(
                actor=principal,
                source=source,
                payload=self.request.data,
                errors=errors,
                client=client,
            )
            raise exceptions.ValidationError(data.errors)
        fields = dict(data.validated_data)
        source = fields.pop("source")
        item = IngestItem(
            source=source,
            payload=self.request.data,
            fields=fields,
            external_id=(fields.get("external_id") or "").strip(),
            idempotency_key=key,
            client=client,
            mapping_version=mapping_version,
        )
        [result] = leads_ingest(items=[item], actor=principal)
        if result.market_id in market_access_for(principal).market_ids:
            status, answer = OUTCOME_STATUS[result.outcome], _result_body(result)
        else:
            # Outside the caller's markets: no lead id, outcome or market, so an intake key is
            # never an oracle for who exists elsewhere.
            status = ACCEPTED_STATUS
            answer = {"submission_id": result.submission_id, "outcome": "accepted"}
        body = json.dumps(answer, separators=(",", ":"))
        if claim_id is not None:
            idempotency_complete(row_id=claim_id, status=status, body=body)
        return HttpResponse(body, status=status, content_type="application/json")


class LeadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    market = serializers.CharField(source="market.code")
    status = serializers.CharField()
    email = serializers.CharField()
    phone_e164 = serializers.CharField()
    phone_flag = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    company = serializers.CharField()
    company_domain = serializers.CharField()
    title = serializers.CharField()
    country = serializers.CharField()
    region = serializers.CharField()
    postal_code = serializers.CharField()
    score = serializers.IntegerField()
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TouchOutput(serializers.Serializer):
    submission_id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    utm_source = serializers.CharField()
    utm_medium = serializers.CharField()
    utm_campaign = serializers.CharField()
    alternates = serializers.JSONField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["source"] = serializers.CharField(source="source.slug")
        return fields


class ActivityOutput(serializers.Serializer):
    kind = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    note = serializers.CharField()
    actor = serializers.CharField()


class LeadDetailOutput(LeadOutput):
    touches = TouchOutput(many=True)
    activities = ActivityOutput(many=True)
    routing = serializers.JSONField(default=None)
    sla = serializers.JSONField(default=None)


def leads_visible(market_ids: frozenset[int]) -> QuerySet[Lead]:
    return Lead.objects.filter(market_id__in=market_ids).select_related("market", "owner")


class LeadDetailApi(ScopedAPIView):
    @extend_schema(responses=LeadDetailOutput, summary="One lead with its touches and activities")
    def get(self, request: Request, lead_id: int) -> Response:
        lead = (
            leads_visible(self.access.market_ids)
            .prefetch_related("touches__source", "activities")
            .filter(pk=lead_id)
            .first()
        )
        if lead is None:
            raise Http404
        return Response(LeadDetailOutput(lead).data)


OVERLAP = timedelta(seconds=5)


def _cursor_encode(updated_at: datetime, lead_id: int) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{lead_id}".encode()).decode()


def _cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        when, _, lead_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        moment = parse_datetime(when)
        if moment is None:
            raise ValueError(when)
        return moment, int(lead_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise exceptions.ValidationError({"cursor": ["Not a cursor this API gave out."]}) from exc


class LeadListApi(ScopedAPIView):
    class FilterSerializer(serializers.Serializer):
        market = serializers.CharField(required=False)
        status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
        owner = serializers.CharField(required=False, help_text="username")
        updated_since = serializers.DateTimeField(required=False)
        cursor = serializers.CharField(required=False)
        page_size = serializers.IntegerField(
            required=False, min_value=1, max_value=500, default=100
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("market", str),
            OpenApiParameter("status", str),
            OpenApiParameter("owner", str),
            OpenApiParameter("updated_since", str),
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses=LeadOutput(many=True),
        summary="Leads in the caller's markets, oldest change first (keyset on updated_at, id)",
    )
    def get(self, request: Request) -> Response:
        """`next` continues a full page exactly; when caught up, `resume` restarts a little
        before the newest change seen, so rows committed late are not missed (dedupe by id)."""
        f = self.FilterSerializer(data=request.query_params)
        f.is_valid(raise_exception=True)
        wanted = f.validated_data
        leads = leads_visible(self.access.market_ids)
        if wanted.get("market"):
            leads = leads.filter(market__code=wanted["market"].upper())
        if wanted.get("status"):
            leads = leads.filter(status=wanted["status"])
        if wanted.get("owner"):
            leads = leads.filter(owner__username=wanted["owner"])
        if wanted.get("updated_since"):
            leads = leads.filter(updated_at__gte=wanted["updated_since"])
        if wanted.get("cursor"):
            when, lead_id = _cursor_decode(wanted["cursor"])
            leads = leads.filter(Q(updated_at__gt=when) | Q(updated_at=when, id__gt=lead_id))
        size = wanted["page_size"]
        page = list(leads.order_by("updated_at", "id")[:size])
        body: dict[str, Any] = {
            "results": LeadOutput(page, many=True).data,
            "next": None,
            "resume": None,
        }
        if len(page) == size:
            body["next"] = _cursor_encode(page[-1].updated_at, page[-1].id)
        elif page:
            body["resume"] = _cursor_encode(page[-1].updated_at - OVERLAP, 0)
        return Response(body)


class LeadsApi(LeadListApi, LeadCreateApi):
    """/api/v1/leads: GET lists in the caller's scope; POST ingests in system context."""

    unscoped_methods = ("POST",)


class LeadEventApi(ScopedAPIView):
    """POST /api/v1/leads/{id}/events: an activity, or a status change along allowed transitions."""

    class InputSerializer(serializers.Serializer):
        type = serializers.ChoiceField(choices=["activity", "status"])
        kind = serializers.ChoiceField(choices=["call", "email", "meeting", "note"], required=False)
        status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
        occurred_at = serializers.DateTimeField(required=False)
        external_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
        note = serializers.CharField(max_length=5000, required=False, allow_blank=True)

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if data["type"] == "activity" and not data.get("kind"):
                raise serializers.ValidationError({"kind": ["An activity needs a kind."]})
            if data["type"] == "status" and not data.get("status"):
                raise serializers.ValidationError({"status": ["A status change needs a status."]})
            return data

    @extend_schema(request=InputSerializer, responses={200: dict, 201: dict, 409: dict})
    def post(self, request: Request, lead_id: int) -> Response:
        from django.utils import timezone

        from leadops.leads.services import activity_record, lead_status_change

        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = data.validated_data
        lead = leads_visible(self.access.market_ids).filter(pk=lead_id).first()
        if lead is None:
            raise Http404
        principal = request.auth if isinstance(request.auth, ApiClient) else request.user
        if event["type"] == "status":
            lead = lead_status_change(
                actor=principal, lead=lead, status=event["status"], note=event.get("note", "")
            )
            return Response({"lead_id": lead.pk, "status": lead.status}, status=200)
        activity, created = activity_record(
            actor=principal,
            lead=lead,
            kind=event["kind"],
            occurred_at=event.get("occurred_at") or timezone.now(),
            note=event.get("note", ""),
            external_id=event.get("external_id", ""),
        )
        return Response(
            {"lead_id": lead.pk, "activity_id": activity.pk, "created": created},
            status=201 if created else 200,
        )


class LeadAuditApi(ScopedAPIView):
    """GET /api/v1/leads/{id}/audit: the lead's events and its submissions', oldest first."""

    @extend_schema(responses=dict, summary="Audit trail of one lead")
    def get(self, request: Request, lead_id: int) -> Response:
        from audit.selectors import events_visible

        lead = leads_visible(self.access.market_ids).filter(pk=lead_id).first()
        if lead is None:
            raise Http404
        submission_ids = [str(i) for i in lead.submissions.values_list("id", flat=True)]
        # The caller's scope, not the lead's market: an event about the lead that also names a
        # market the caller does not hold (a cross-market review) stays hidden.
        events = (
            events_visible(market_ids=self.access.market_ids, see_global=self.access.see_global)
            .filter(
                Q(target_type="leads.lead", target_id=str(lead.pk))
                | Q(target_type="leads.submission", target_id__in=submission_ids)
                | Q(
                    target_type="leads.activity",
                    target_id__in=[str(i) for i in lead.activities.values_list("id", flat=True)],
                )
            )
            .select_related("link")
            .order_by("id")
        )
        return Response(
            [
                {
                    "seq": getattr(getattr(e, "link", None), "seq", None),
                    "occurred_at": e.occurred_at,
                    "action": e.action,
                    "actor": e.actor_label,
                    "origin": e.origin,
                    "data": json.loads(bytes(e.body))["data"],
                }
                for e in events
            ]
        )


class SourceSubmissionApi(LeadCreateApi):
    """POST /api/v1/sources/{slug}/submissions: any JSON object, read through the source's
    current field mapping, then the same intake path and answers as POST /api/v1/leads."""

    def refused_source(self) -> Source | None:
        return Source.objects.filter(slug=self.kwargs.get("slug", "")).first()

    @extend_schema(
        request=dict,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
        responses={201: dict, 200: dict, 202: dict, 400: dict, 404: dict, 409: dict},
        summary="Submit a lead in the source's own format",
    )
    def post(self, request: Request, slug: str) -> Response | HttpResponse:  # type: ignore[override]
        from leadops.leads.mapping import mapping_apply, source_mapping_current

        source = Source.objects.filter(slug=slug, is_active=True).first()
        if source is None:
            raise Http404
        mapping = source_mapping_current(source)
        if mapping is None:
            return Response(
                {"detail": f"Source {slug!r} has no field mapping yet.", "code": "no_mapping"},
                status=409,
            )
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        fields = {"source": slug, **mapping_apply(mapping.rules, request.data)}
        return self.ingest_one(request, fields, mapping_version=mapping.version)
