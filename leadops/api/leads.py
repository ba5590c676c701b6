"""The leads API: POST /api/v1/leads (one lead, idempotent), GET list and detail, events, audit,
and POST /api/v1/sources/{slug}/submissions (a source's own format)."""

from __future__ import annotations

import json
import math
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.pagination import KeysetPagination, PageQuery, page_serializer
from leadops.api.schema import ADA, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, errors
from leadops.api.views import BaseApi, ScopedAPIView
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
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When the person filled the form (default: when received)."
    )
    attributes = serializers.DictField(
        required=False,
        help_text=f"Anything else about the lead: at most {MAX_ATTRIBUTES} keys, each a string "
        f"(≤ {MAX_ATTRIBUTE_CHARS:,} characters), number, true/false or null. Kept on the lead.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here: "source" is also an attribute of DRF fields, which confuses the stubs.
        fields["source"] = serializers.SlugField(
            max_length=50, help_text="The slug of an active source, e.g. `web`."
        )
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

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not (data.get("email") or "").strip() and not (data.get("phone") or "").strip():
            raise serializers.ValidationError({"email": ["Give an email or a phone."]})
        return data


class IngestAnswer(serializers.Serializer):
    """The answer about a lead in the caller's markets: ids, outcome, market code and status."""

    submission_id = serializers.IntegerField()
    lead_id = serializers.IntegerField(
        allow_null=True, help_text="null: nothing was kept as a lead"
    )
    outcome = serializers.ChoiceField(choices=["created", "merged", "review", "quarantined"])
    reason = serializers.CharField(allow_null=True, help_text="Why it was quarantined.")
    market = serializers.CharField(help_text="Market code, e.g. `DE`.")
    status = serializers.CharField(allow_null=True)
    owner = serializers.CharField(allow_null=True)
    routing = serializers.JSONField(allow_null=True)
    sla = serializers.JSONField(allow_null=True)
    duplicate_of = serializers.IntegerField(allow_null=True)


class AcceptedAnswer(serializers.Serializer):
    """The answer about a lead that landed outside the caller's markets: nothing more."""

    submission_id = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["accepted"])


CREATED_EXAMPLE = {
    "submission_id": 812,
    "lead_id": 377,
    "outcome": "created",
    "reason": None,
    "market": "DE",
    "status": "new",
    "owner": None,
    "routing": None,
    "sla": None,
    "duplicate_of": None,
}
INGEST_RESPONSES: dict[int, Any] = {
    201: OpenApiResponse(
        IngestAnswer,
        description="`created` (a new lead) or `review` (a new lead linked to a possible "
        "duplicate).",
        examples=[OpenApiExample("created", value=CREATED_EXAMPLE, status_codes=["201"])],
    ),
    200: OpenApiResponse(
        IngestAnswer,
        description="`merged` into the existing lead (same email in the market, or the same "
        "source's external id).",
        examples=[
            OpenApiExample(
                "merged",
                value={**CREATED_EXAMPLE, "outcome": "merged", "duplicate_of": 377},
                status_codes=["200"],
            )
        ],
    ),
    202: OpenApiResponse(
        PolymorphicProxySerializer(
            component_name="HeldOrAccepted",
            serializers=[IngestAnswer, AcceptedAnswer],
            resource_type_field_name=None,
        ),
        description="`quarantined` (held for a person), or `accepted`: the lead landed in a "
        "market outside the caller's, and the answer says nothing more about it.",
        examples=[
            OpenApiExample(
                "quarantined",
                value={
                    **CREATED_EXAMPLE,
                    "outcome": "quarantined",
                    "status": "held",
                    "reason": "phone: 'call me maybe' is not a possible number",
                },
                status_codes=["202"],
            ),
            OpenApiExample(
                "accepted",
                value={"submission_id": 813, "outcome": "accepted"},
                status_codes=["202"],
            ),
        ],
    ),
    **errors(*WRITE_ERRORS, 409, 422),
}


def _result_body(result: Any) -> dict[str, Any]:
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


class LeadCreateApi(BaseApi):
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
        parameters=[IDEMPOTENCY_KEY],
        responses=INGEST_RESPONSES,
        examples=[OpenApiExample("A lead from the website", value=ADA, request_only=True)],
        summary="Submit one lead",
        operation_id="leads_create",
        description="Intake is open to every market: the market table decides where the lead "
        "lands. The answer says no more than the caller may read (see 202). At least one of "
        "`email` or `phone` must be given.",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        return self.ingest_one(request, self.body(request))

    def body(self, request: Request) -> Any:
        """The parsed body. One that is not JSON is still kept, as text, in a rejected
        submission before the 400 (or 415) goes out: nothing sent goes unrecorded."""
        raw = request._request.body  # read now (size checked already), so it can be kept
        try:
            return request.data
        except (exceptions.ParseError, exceptions.UnsupportedMediaType) as exc:
            principal: Any = request.auth if isinstance(request.auth, ApiClient) else request.user
            who = actor_ref(principal)
            submission_reject(
                actor=principal,
                source=self.refused_source(),
                payload=raw.decode("utf-8", "replace"),
                errors={"body": [str(exc.detail)]},
                client=f"{who.kind}:{who.id}",
            )
            raise

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
            problems = {
                k: [str(m) for m in v] if isinstance(v, list) else v for k, v in data.errors.items()
            }
            source = None
            if isinstance(raw, dict) and isinstance(raw.get("source"), str):
                source = Source.objects.filter(slug=raw["source"]).first()
            submission_reject(
                actor=principal,
                source=source,
                payload=self.request.data,
                errors=problems,
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
    market = serializers.CharField(source="market.code", help_text="Market code.")
    status = serializers.ChoiceField(choices=Lead.Status.choices)
    email = serializers.CharField()
    phone_e164 = serializers.CharField()
    phone_flag = serializers.CharField(help_text="Why the phone is doubtful, if it is.")
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
    attributes = serializers.DictField(child=serializers.JSONField(allow_null=True))
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TouchOutput(serializers.Serializer):
    submission_id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    utm_source = serializers.CharField()
    utm_medium = serializers.CharField()
    utm_campaign = serializers.CharField()
    alternates = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        help_text="Values this submission gave that differed from the lead's.",
    )

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
    routing = serializers.JSONField(default=None, allow_null=True)
    sla = serializers.JSONField(default=None, allow_null=True)


def leads_visible(market_ids: frozenset[int]) -> QuerySet[Lead]:
    return Lead.objects.filter(market_id__in=market_ids).select_related("market", "owner")


class LeadDetailApi(ScopedAPIView):
    @extend_schema(
        responses={200: LeadDetailOutput, **errors(*READ_ERRORS, 404)},
        summary="One lead with its touches and activities",
        operation_id="lead_get",
    )
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


class LeadFilter(PageQuery):
    market = serializers.CharField(required=False, help_text="Market code, e.g. DE.")
    status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
    owner = serializers.CharField(required=False, help_text="The owner's username.")
    updated_since = serializers.DateTimeField(required=False)


LEADS_PAGE = KeysetPagination("updated_at")


class LeadListApi(ScopedAPIView):
    query_serializer = LeadFilter

    @extend_schema(
        parameters=[LeadFilter],
        responses={200: page_serializer(LeadOutput, "LeadPage"), **errors(*READ_ERRORS)},
        summary="Leads in the caller's markets, oldest change first",
        operation_id="leads_list",
        description="Keyset pages on `(updated_at, id)`: follow `next` while it is set; when "
        "caught up, poll again later with `resume` (it overlaps a few seconds so rows committed "
        "late are not missed; drop repeats by id).",
    )
    def get(self, request: Request) -> Response:
        wanted = self.query()
        leads = leads_visible(self.access.market_ids)
        if wanted.get("market"):
            leads = leads.filter(market__code=wanted["market"].upper())
        if wanted.get("status"):
            leads = leads.filter(status=wanted["status"])
        if wanted.get("owner"):
            leads = leads.filter(owner__username=wanted["owner"])
        if wanted.get("updated_since"):
            leads = leads.filter(updated_at__gte=wanted["updated_since"])
        page = LEADS_PAGE.paginate(
            leads, cursor=wanted.get("cursor"), page_size=wanted["page_size"]
        )
        return Response(page.body(LeadOutput(page.rows, many=True).data))


class LeadsApi(LeadListApi, LeadCreateApi):
    """/api/v1/leads: GET lists in the caller's scope; POST ingests in system context."""

    unscoped_methods = ("POST",)


class EventInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=["activity", "status"])
    kind = serializers.ChoiceField(
        choices=["call", "email", "meeting", "note"], required=False, help_text="For activities."
    )
    status = serializers.ChoiceField(
        choices=Lead.Status.choices, required=False, help_text="For status changes."
    )
    occurred_at = serializers.DateTimeField(required=False)
    external_id = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        help_text="Makes an activity idempotent: a repeat returns the first one.",
    )
    note = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["type"] == "activity" and not data.get("kind"):
            raise serializers.ValidationError({"kind": ["An activity needs a kind."]})
        if data["type"] == "status" and not data.get("status"):
            raise serializers.ValidationError({"status": ["A status change needs a status."]})
        return data


class StatusChanged(serializers.Serializer):
    lead_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Lead.Status.choices)


class ActivityRecorded(serializers.Serializer):
    lead_id = serializers.IntegerField()
    activity_id = serializers.IntegerField()
    created = serializers.BooleanField(help_text="false: an earlier event with this external id")


class TransitionRefused(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    allowed = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="The statuses it may move to."
    )


class LeadEventApi(ScopedAPIView):
    """POST /api/v1/leads/{id}/events: an activity, or a status change along allowed transitions."""

    @extend_schema(
        request=EventInput,
        responses={
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="EventAnswer",
                    serializers=[StatusChanged, ActivityRecorded],
                    resource_type_field_name=None,
                ),
                description="The status changed, or this activity was recorded before.",
            ),
            201: OpenApiResponse(ActivityRecorded, description="The activity was recorded."),
            409: OpenApiResponse(
                TransitionRefused,
                description="The lead's status cannot move there; `allowed` lists where it can.",
            ),
            **errors(*WRITE_ERRORS, 404),
        },
        examples=[
            OpenApiExample(
                "A call",
                value={"type": "activity", "kind": "call", "external_id": "call-991", "note": ""},
                request_only=True,
            ),
            OpenApiExample(
                "Working it", value={"type": "status", "status": "working"}, request_only=True
            ),
        ],
        summary="Record an activity or a status change",
        operation_id="lead_events_create",
    )
    def post(self, request: Request, lead_id: int) -> Response:
        from django.utils import timezone

        from leadops.leads.services import activity_record, lead_status_change

        data = EventInput(data=request.data)
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


class AuditEntryOutput(serializers.Serializer):
    seq = serializers.IntegerField(allow_null=True, help_text="null until sealed at commit")
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField()
    origin = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here: `data` is also a Serializer attribute.
        fields["data"] = serializers.DictField(child=serializers.JSONField(allow_null=True))
        return fields


class LeadAuditApi(ScopedAPIView):
    """GET /api/v1/leads/{id}/audit: the lead's events and its submissions', oldest first."""

    @extend_schema(
        responses={200: AuditEntryOutput(many=True), **errors(*READ_ERRORS, 404)},
        summary="Audit trail of one lead",
        operation_id="lead_audit_list",
    )
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
            AuditEntryOutput(
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
                ],
                many=True,
            ).data
        )


class SourceSubmissionApi(LeadCreateApi):
    """POST /api/v1/sources/{slug}/submissions: any JSON object, read through the source's
    current field mapping, then the same intake path and answers as POST /api/v1/leads."""

    def refused_source(self) -> Source | None:
        return Source.objects.filter(slug=self.kwargs.get("slug", "")).first()

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[IDEMPOTENCY_KEY],
        responses={**INGEST_RESPONSES, **errors(404)},
        examples=[
            OpenApiExample(
                "A partner's own format",
                value={"contact": {"email": "grace@navy.example", "name": "Hopper, Grace"}},
                request_only=True,
            )
        ],
        summary="Submit a lead in the source's own format",
        operation_id="source_submissions_create",
        description="The body is read through the source's current field mapping (Leads → "
        "Source mappings in the admin), then answered exactly like `POST /api/v1/leads`. "
        "409 `no_mapping` while the source has none.",
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
        body = self.body(request)
        if not isinstance(body, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send a JSON object."]})
        fields = {"source": slug, **mapping_apply(mapping.rules, body)}
        return self.ingest_one(request, fields, mapping_version=mapping.version)
