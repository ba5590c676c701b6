"""The leads API: POST /api/v1/leads (one lead, idempotent), GET list and detail, events, audit,
and POST /api/v1/sources/{slug}/submissions (a source's own format)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
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

from leadops.api.limits import BATCH_BYTES, BATCH_ITEM_BYTES, too_large_message
from leadops.api.pagination import KeysetPagination, PageQuery, page_serializer
from leadops.api.routing import DecisionSummaryOutput
from leadops.api.schema import ADA, IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, errors
from leadops.api.views import BaseApi, ScopedAPIView
from leadops.core.actors import actor_ref
from leadops.intake import (
    Answer,
    Channel,
    LeadInput,
    Submitted,
    intake_refuse,
    intake_submit,
)
from leadops.leads.models import Lead, Source
from leadops.leads.selectors import lead_audit_events, leads_visible
from leadops.markets.models import ApiClient
from leadops.markets.selectors import market_access_for
from leadops.sla.models import Timer
from leadops.sla.selectors import clock_summary, lead_clocks
from routing.selectors import decision_summary, decisions_for_lead

# HTTP for each kind of answer the door gives (leadops/intake.py); the door knows no HTTP.
OUTCOME_STATUS = {"created": 201, "review": 201, "merged": 200, "quarantined": 202}
KIND_STATUS = {"accepted": 202, "invalid": 400, "too_large": 413, "mismatch": 422, "in_flight": 409}
MAX_BATCH = 1000
MAX_DECISIONS = 20
KIND_DETAIL = {
    "mismatch": (
        "This Idempotency-Key was used with a different request body.",
        "idempotency_mismatch",
    ),
    "in_flight": (
        "A request with this Idempotency-Key is still being processed.",
        "idempotency_in_flight",
    ),
}


def http_status(answer: Answer) -> int:
    return OUTCOME_STATUS[answer.outcome] if answer.kind == "done" else KIND_STATUS[answer.kind]


def principal_of(request: Request) -> Any:
    return request.auth if isinstance(request.auth, ApiClient) else request.user


def client_of(principal: Any) -> str:
    who = actor_ref(principal)
    return f"{who.kind}:{who.id}"


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


class LeadCreateApi(BaseApi):
    """Not wrapped in a request-wide transaction: the idempotency claim commits before the work."""

    channel: Channel = "api"

    def body_refused(self, request: Request, *, size: int, message: str) -> None:
        """A body over the limit is not read, but its arrival is kept as a rejected submission."""
        principal = principal_of(request)
        intake_refuse(
            actor=principal,
            channel=self.channel,
            client=client_of(principal),
            source_slug=self.kwargs.get("slug", ""),
            errors={"body": [message]},
            size_bytes=size,
        )

    @extend_schema(
        request=LeadInput,
        parameters=[IDEMPOTENCY_KEY],
        responses=INGEST_RESPONSES,
        examples=[OpenApiExample("A lead from the website", value=ADA, request_only=True)],
        summary="Submit one lead",
        operation_id="leads_create",
        description="Intake is open to every market: the market table decides where the lead "
        "lands. The answer says no more than the caller may read (see 202). At least one of "
        "`email` or `phone` must be usable: with neither it is a 400 naming them; with one "
        "usable and the other broken the lead is held (quarantined) for a person to fix.",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        body = self.body(request)
        return self.submit_one(request, Submitted(payload=body, idempotency_key=self.key()))

    def key(self) -> str:
        return self.request.headers.get("Idempotency-Key", "").strip()

    def body(self, request: Request) -> Any:
        """The parsed body. One that is not JSON is still kept, as text, in a rejected
        submission before the 400 (or 415) goes out: nothing sent goes unrecorded."""
        raw = request._request.body  # read now (size checked already), so it can be kept
        try:
            return request.data
        except (exceptions.ParseError, exceptions.UnsupportedMediaType) as exc:
            principal = principal_of(request)
            intake_refuse(
                actor=principal,
                channel=self.channel,
                client=client_of(principal),
                source_slug=self.kwargs.get("slug", ""),
                payload=raw.decode("utf-8", "replace"),
                errors={"body": [str(exc.detail)]},
            )
            raise

    def submit_one(self, request: Request, item: Submitted) -> Response | HttpResponse:
        principal = principal_of(request)
        [answer] = intake_submit(
            actor=principal,
            channel=self.channel,
            items=[item],
            client=client_of(principal),
            answer_scope=market_access_for(principal).market_ids,
        )
        if answer.kind in ("done", "accepted"):
            # The same bytes a replay of this key will give.
            body = json.dumps(answer.body, separators=(",", ":"))
            return HttpResponse(body, status=http_status(answer), content_type="application/json")
        if answer.kind in KIND_DETAIL:
            detail, code = KIND_DETAIL[answer.kind]
            return Response({"detail": detail, "code": code}, status=http_status(answer))
        raise exceptions.ValidationError(answer.errors)


class LeadOutput(serializers.Serializer):
    id = serializers.IntegerField()
    market = serializers.CharField(source="market.code", help_text="Market code.")
    status = serializers.ChoiceField(choices=Lead.Status.choices)
    email = serializers.CharField(help_text="As given.")
    email_norm = serializers.CharField(help_text="Normalized: what dedupe compares.")
    phone = serializers.CharField(help_text="As given.")
    phone_e164 = serializers.CharField(help_text="Normalized to E.164 (empty if it was not).")
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
    team = serializers.CharField(
        source="team.name", allow_null=True, default=None, help_text="The team routing chose."
    )
    tags = serializers.ListField(child=serializers.CharField())
    attributes = serializers.DictField(child=serializers.JSONField(allow_null=True))
    is_synthetic = serializers.BooleanField(help_text="A test lead (listed only when asked for).")
    merged_into = serializers.IntegerField(
        source="merged_into.id",
        allow_null=True,
        default=None,
        help_text="The lead a person merged this one into; null when none, or when that lead "
        "is outside your markets.",
    )
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
    by = serializers.CharField(
        source="by_user.username", default=None, allow_null=True, help_text="Who did it."
    )
    automated = serializers.BooleanField(help_text="A tool did it: never a first response.")


class SlaOutput(serializers.Serializer):
    policy = serializers.CharField(help_text="Policy key and version, e.g. `inbound v3`.")
    state = serializers.ChoiceField(choices=Timer.State.choices)
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(help_text="When a first response is due (UTC).")
    warned_at = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)
    met_at = serializers.DateTimeField(allow_null=True, help_text="When the response happened.")
    paused = serializers.BooleanField()
    pause_reason = serializers.CharField(allow_null=True)


class LeadDetailOutput(LeadOutput):
    touches = TouchOutput(many=True)
    activities = ActivityOutput(many=True)
    routing = DecisionSummaryOutput(
        default=None, allow_null=True, help_text="The latest routing decision; null when none."
    )
    routing_decisions = DecisionSummaryOutput(
        many=True, default=list, help_text=f"Latest first, at most {MAX_DECISIONS}."
    )
    sla = SlaOutput(default=None, allow_null=True, help_text="The latest first-response clock.")


class LeadDetailApi(ScopedAPIView):
    @extend_schema(
        responses={200: LeadDetailOutput, **errors(*READ_ERRORS, 404)},
        summary="One lead with its touches and activities",
        operation_id="lead_get",
    )
    def get(self, request: Request, lead_id: int) -> Response:
        lead = (
            leads_visible(market_ids=self.access.market_ids, include_synthetic=True)
            .select_related("team")
            .prefetch_related("touches__source", "activities__by_user")
            .filter(pk=lead_id)
            .first()
        )
        if lead is None:
            raise Http404
        decisions = decisions_for_lead(lead_id=lead.pk, market_ids=self.access.market_ids)
        summaries = [decision_summary(d) for d in decisions[:MAX_DECISIONS]]
        body = LeadDetailOutput(lead).data
        body["routing"] = summaries[0] if summaries else None
        body["routing_decisions"] = summaries
        clocks = lead_clocks(lead_id=lead.pk)
        body["sla"] = clock_summary(clocks[0] if clocks else None)
        return Response(body)


class LeadFilter(PageQuery):
    market = serializers.CharField(required=False, help_text="Market code, e.g. DE.")
    status = serializers.ChoiceField(choices=Lead.Status.choices, required=False)
    owner = serializers.CharField(required=False, help_text="The owner's username.")
    updated_since = serializers.DateTimeField(required=False)
    include_synthetic = serializers.BooleanField(
        required=False, default=False, help_text="Also list test leads."
    )


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
        leads = leads_visible(
            market_ids=self.access.market_ids, include_synthetic=wanted["include_synthetic"]
        ).select_related("team")
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
    type = serializers.ChoiceField(
        choices=["activity", "status", "hold", "resume"],
        help_text="`hold` pauses the lead's first-response clock (say why in `note`); `resume`"
        " starts it again.",
    )
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
    by = serializers.CharField(
        max_length=150,
        required=False,
        help_text="Username of the person who did it (an owner-only SLA counts only the owner's).",
    )
    automated = serializers.BooleanField(
        default=False, help_text="Sent by a tool (a nurture e-mail): never a first response."
    )

    def validate_by(self, value: str) -> Any:
        user = User.objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError("No active user with this username.")
        return user

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["type"] == "hold" and not (data.get("note") or "").strip():
            raise serializers.ValidationError({"note": ["Say why the lead is on hold."]})
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


class ClockChanged(serializers.Serializer):
    lead_id = serializers.IntegerField()
    sla = SlaOutput(help_text="The clock after the hold or resume.")


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
                    serializers=[StatusChanged, ActivityRecorded, ClockChanged],
                    resource_type_field_name=None,
                ),
                description="The status changed, this activity was recorded before, or the"
                " clock was put on hold or resumed.",
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
        from leadops.sla.timers import lead_hold, lead_resume

        data = EventInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = data.validated_data
        lead = (
            leads_visible(market_ids=self.access.market_ids, include_synthetic=True)
            .filter(pk=lead_id)
            .first()
        )
        if lead is None:
            raise Http404
        principal = request.auth if isinstance(request.auth, ApiClient) else request.user
        if event["type"] in ("hold", "resume"):
            if event["type"] == "hold":
                timer = lead_hold(actor=principal, lead=lead, reason=event["note"])
            else:
                timer = lead_resume(actor=principal, lead=lead)
            return Response({"lead_id": lead.pk, "sla": clock_summary(timer)}, status=200)
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
            by_user=event.get("by"),
            automated=event["automated"],
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
        lead = (
            leads_visible(market_ids=self.access.market_ids, include_synthetic=True)
            .filter(pk=lead_id)
            .first()
        )
        if lead is None:
            raise Http404
        # The caller's scope, not the lead's market: an event about the lead that also names a
        # market the caller does not hold (a cross-market review) stays hidden.
        events = lead_audit_events(
            lead=lead, market_ids=self.access.market_ids, see_global=self.access.see_global
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

    channel: Channel = "source"

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
        return self.submit_one(
            request,
            Submitted(
                payload=body,
                fields={"source": slug, **mapping_apply(mapping.rules, body)},
                idempotency_key=self.key(),
                mapping_version=mapping.version,
            ),
        )


def _key_errors(answer: Answer) -> dict[str, list[str]]:
    """An idempotency refusal of one batch item, said as an error on its key."""
    if answer.kind in KIND_DETAIL:
        return {"idempotency_key": [KIND_DETAIL[answer.kind][0]]}
    return {}


class BatchInput(serializers.Serializer):
    leads = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_BATCH,
        help_text=f"1 to {MAX_BATCH:,} leads, each like the body of `POST /api/v1/leads`, with "
        "an optional `idempotency_key` of its own.",
    )


class BatchItemResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's place in `leads`, from 0.")
    status = serializers.IntegerField(
        help_text="What `POST /api/v1/leads` would have answered for this item alone: 201, 200, "
        "202, 400, 409, 413 or 422."
    )
    outcome = serializers.CharField(
        help_text="created, merged, review, quarantined, accepted (outside your markets), "
        "rejected, or empty for an idempotency refusal."
    )
    submission_id = serializers.IntegerField(allow_null=True)
    lead_id = serializers.IntegerField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here: `errors` is also a Serializer attribute.
        fields["errors"] = serializers.DictField(
            child=serializers.JSONField(), help_text="Field → messages, for a refused item."
        )
        return fields


class BatchResults(serializers.Serializer):
    results = BatchItemResult(many=True)


class LeadBatchApi(LeadCreateApi):
    """POST /api/v1/leads/batch: up to 1,000 leads in one set-based call through the door."""

    channel: Channel = "batch"
    max_body_bytes = BATCH_BYTES

    @extend_schema(
        request=BatchInput,
        responses={
            200: OpenApiResponse(
                BatchResults,
                description="Always 200: one result per item, in input order; items succeed "
                "or fail on their own.",
            ),
            **errors(*WRITE_ERRORS),
        },
        examples=[
            OpenApiExample(
                "Two leads",
                value={
                    "leads": [
                        {**ADA, "idempotency_key": "fair-2026-0001"},
                        {"source": "web", "email": "grace@navy.example", "country": "US"},
                    ]
                },
                request_only=True,
            )
        ],
        summary="Submit up to 1,000 leads",
        operation_id="leads_batch_create",
        description="Each item is answered as `POST /api/v1/leads` would answer it alone, with "
        "`status` the HTTP status it would have had. An item's `idempotency_key` works like the "
        f"header. Each item is at most {BATCH_ITEM_BYTES // 1024} KiB.",
    )
    def post(self, request: Request) -> Response:
        data = BatchInput(data=self.body(request))
        data.is_valid(raise_exception=True)
        items = []
        for raw in data.validated_data["leads"]:
            # Each item stands alone: one that is not even an object is a 400 of its own.
            key = raw.pop("idempotency_key", "") if isinstance(raw, dict) else ""
            size = len(json.dumps(raw, separators=(",", ":"), default=str).encode())
            too_large = (
                {"item": [too_large_message(size, BATCH_ITEM_BYTES)]}
                if size > BATCH_ITEM_BYTES
                else None
            )
            items.append(
                Submitted(
                    payload={} if too_large else raw,
                    idempotency_key=str(key or "").strip(),
                    refused=too_large,
                    size_bytes=size if too_large else None,
                )
            )
        principal = principal_of(request)
        answers = intake_submit(
            actor=principal,
            channel=self.channel,
            items=items,
            client=client_of(principal),
            answer_scope=market_access_for(principal).market_ids,
        )
        return Response(
            {
                "results": [
                    {
                        "index": a.index,
                        "status": http_status(a),
                        "outcome": a.outcome,
                        "submission_id": a.submission_id,
                        "lead_id": a.lead_id if a.kind == "done" else None,
                        "errors": a.errors
                        or (
                            {"idempotency_key": [KIND_DETAIL[a.kind][0]]}
                            if a.kind in KIND_DETAIL
                            else {}
                        ),
                    }
                    for a in answers
                ]
            }
        )
