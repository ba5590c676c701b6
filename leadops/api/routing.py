"""The routing API: rule sets and their versions, read and moved along draft → submitted →
approved → published through the services in routing/versions.py.

A rule set outside the caller's scope is a 404 for reads and writes alike (routing/selectors.py:
a market's rule set needs that market, the global fallback needs every market). Approving and
publishing need a person with the approve permission: an API client gets the service's refusal
as a 403. People logged in by session also need the model permission to write drafts, as in the
admin; an API client's scope is its permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from leadops.api.pagination import KeysetPagination, PageQuery, page_serializer
from leadops.api.schema import READ_ERRORS, WRITE_ERRORS, Detail, FieldErrors, errors
from leadops.api.views import ScopedAPIView
from leadops.core.errors import ApplicationError
from leadops.markets.models import ApiClient, Market
from routing.models import Decision, RuleSet, RuleVersion
from routing.selectors import rule_set_versions, rule_sets_visible, version_visible
from routing.versions import (
    RulesInvalid,
    error_dict,
    rule_set_ensure,
    version_approve,
    version_draft_create,
    version_draft_update,
    version_publish,
    version_submit,
)

BY_CREATION = KeysetPagination("created_at")
# Up to 2,000 rules with their `in` lists and fixtures do not fit a lead's 256 KiB.
RULES_BYTES = 2 * 1024 * 1024

State = RuleVersion.State


class RuleSetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    market = serializers.CharField(
        source="market.code",
        allow_null=True,
        default=None,
        help_text="Market code; null for the global fallback (leads no market rule places).",
    )
    name = serializers.CharField()
    published_version = serializers.IntegerField(
        source="published_number", allow_null=True, help_text="The number in force, if any."
    )
    versions_count = serializers.IntegerField()


class VersionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    rule_set = serializers.IntegerField(source="rule_set_id")
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=State.choices)
    change_note = serializers.CharField()
    author = serializers.CharField(
        source="author.username",
        allow_null=True,
        default=None,
        help_text="null: written by an API client.",
    )
    approver = serializers.CharField(source="approver.username", allow_null=True, default=None)
    published_by = serializers.CharField(
        source="published_by.username", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    retired_at = serializers.DateTimeField(allow_null=True)
    content_hash = serializers.CharField()


class VersionDetailOutput(VersionOutput):
    content = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        help_text='{"rules": [...], "fixtures": [...]}',
    )


class DecisionSummaryOutput(serializers.Serializer):
    """One routing decision about a lead, short (routing/selectors.py `decision_summary`)."""

    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    version = serializers.IntegerField(allow_null=True)
    rule = serializers.CharField(allow_null=True)
    team = serializers.CharField(allow_null=True)
    owner = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    trigger = serializers.ChoiceField(choices=Decision.Trigger.choices, help_text="What asked.")
    decided_at = serializers.DateTimeField()
    trace = serializers.ListField(
        child=serializers.CharField(), help_text="A few lines of why: rules matched, who skipped."
    )


class DraftInput(serializers.Serializer):
    content = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        help_text='{"rules": [...], "fixtures": [...]}',
    )
    change_note = serializers.CharField(max_length=500, help_text="Why this version exists.")


class DraftUpdateInput(serializers.Serializer):
    content = serializers.DictField(child=serializers.JSONField(allow_null=True))
    change_note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Absent or empty: kept."
    )


class ApproveInput(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


DRAFT_EXAMPLE = {
    "content": {
        "rules": [
            {
                "id": "de-inbound",
                "when": {"field": "country", "op": "eq", "value": "DE"},
                "then": {"team": "Inbound"},
            }
        ]
    },
    "change_note": "German leads to Inbound",
}
RULES_INVALID = OpenApiResponse(
    FieldErrors,
    description="The input does not hold. Rules that fail validation come under `content`, "
    "one object per problem: the rule's index and id, the path and a message.",
    examples=[
        OpenApiExample(
            "400",
            value={
                "errors": {
                    "content": [
                        {
                            "rule": 0,
                            "rule_id": "de-inbound",
                            "path": "rules[0].then.team",
                            "message": "No team 'Inbund' in AAA.",
                        }
                    ]
                }
            },
            status_codes=["400"],
        )
    ],
)
STATE_CONFLICT = OpenApiResponse(
    Detail,
    description="The version is not in the state this needs (`wrong_state`), its author tries "
    "to approve it (`author_cannot_approve`), or fixture leads fail (`fixtures_fail`, with "
    "`failed`).",
    examples=[
        OpenApiExample(
            "409",
            value={
                "detail": "Version 3 is published; this needs it draft.",
                "code": "wrong_state",
            },
            status_codes=["409"],
        )
    ],
)
NO_APPROVER = OpenApiResponse(
    Detail,
    description="Approving and publishing need a person with the approve permission (an API "
    "client never is); writing drafts needs the routing permissions when logged in.",
    examples=[
        OpenApiExample(
            "403",
            value={
                "detail": "Approving and publishing routing versions needs the approve permission.",
                "code": "permission_denied",
            },
            status_codes=["403"],
        )
    ],
)
WRITE_RESPONSES: dict[int, Any] = {
    **errors(*WRITE_ERRORS, 404),
    400: RULES_INVALID,
    403: NO_APPROVER,
    409: STATE_CONFLICT,
}


def _answer(call: Callable[[], RuleVersion], *, status: int = 200) -> Response:
    """Run a version service and say what came of it in HTTP: rules that do not hold are field
    errors under `content`; the service's own permission refusal is a 403, every other domain
    refusal a 409 (errors.py)."""
    try:
        version = call()
    except RulesInvalid as exc:
        return Response({"errors": {"content": [error_dict(e) for e in exc.errors]}}, status=400)
    except ApplicationError as exc:
        if exc.code == "permission_denied":
            raise exceptions.PermissionDenied(exc.message) from exc
        raise
    return Response(VersionDetailOutput(version).data, status=status)


class RoutingApi(ScopedAPIView):
    max_body_bytes = RULES_BYTES

    def principal(self) -> Any:
        request = self.request
        return request.auth if isinstance(request.auth, ApiClient) else request.user

    def require_perm(self, perm: str) -> None:
        """A person writes drafts only with the model permission the admin asks for too."""
        principal = self.principal()
        if not isinstance(principal, ApiClient) and not principal.has_perm(perm):
            raise exceptions.PermissionDenied("Writing routing rules needs the routing permission.")

    def rule_set(self, rule_set_id: int) -> RuleSet:
        found = rule_sets_visible(access=self.access).filter(pk=rule_set_id).first()
        if found is None:
            raise Http404
        return found

    def version(self, version_id: int) -> RuleVersion:
        found = version_visible(access=self.access, version_id=version_id)
        if found is None:
            raise Http404
        return found


class RuleSetListApi(RoutingApi):
    query_serializer = PageQuery

    @extend_schema(
        parameters=[PageQuery],
        responses={200: page_serializer(RuleSetOutput, "RuleSetPage"), **errors(*READ_ERRORS)},
        summary="Routing rule sets the caller may see",
        operation_id="routing_rule_sets_list",
        description="Those of the caller's markets; the global fallback only for callers with "
        "every market. Keyset pages on `(created_at, id)`.",
    )
    def get(self, request: Request) -> Response:
        wanted = self.query()
        page = BY_CREATION.paginate(
            rule_sets_visible(access=self.access),
            cursor=wanted.get("cursor"),
            page_size=wanted["page_size"],
        )
        return Response(page.body(RuleSetOutput(page.rows, many=True).data))


class RuleSetInput(serializers.Serializer):
    market = serializers.CharField(
        allow_null=True,
        help_text="The market's code, or null for the global fallback (needs every market).",
    )


class RuleSetEnsureApi(RuleSetListApi):
    @extend_schema(
        request=RuleSetInput,
        responses={
            200: RuleSetOutput,
            201: RuleSetOutput,
            **errors(*WRITE_ERRORS, 404),
        },
        summary="The rule set of a market, made on first use",
        operation_id="routing_rule_sets_ensure",
        description="Idempotent: 201 when it was made now, 200 when it existed. A market outside "
        "the caller's scope is 404.",
    )
    def post(self, request: Request) -> Response:
        self.require_perm("routing.add_ruleset")
        data = RuleSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["market"]
        if code is None:
            if not self.access.see_global:
                raise Http404
            market = None
        else:
            market = Market.objects.filter(
                code=code.strip().upper(), pk__in=sorted(self.access.market_ids)
            ).first()
            if market is None:
                raise Http404
        existed = RuleSet.objects.filter(market=market).exists()
        rule_set_ensure(actor=self.principal(), market=market)
        found = rule_sets_visible(access=self.access).get(market=market)
        return Response(RuleSetOutput(found).data, status=200 if existed else 201)


class RuleSetVersionsApi(RoutingApi):
    query_serializer = PageQuery

    @extend_schema(
        parameters=[PageQuery],
        responses={
            200: page_serializer(VersionOutput, "RuleVersionPage"),
            **errors(*READ_ERRORS, 404),
        },
        summary="Versions of one rule set, oldest first",
        operation_id="routing_rule_set_versions_list",
    )
    def get(self, request: Request, rule_set_id: int) -> Response:
        wanted = self.query()
        page = BY_CREATION.paginate(
            rule_set_versions(rule_set=self.rule_set(rule_set_id)),
            cursor=wanted.get("cursor"),
            page_size=wanted["page_size"],
        )
        return Response(page.body(VersionOutput(page.rows, many=True).data))

    @extend_schema(
        request=DraftInput,
        responses={201: VersionDetailOutput, **WRITE_RESPONSES},
        examples=[OpenApiExample("A first rule", value=DRAFT_EXAMPLE, request_only=True)],
        summary="Write a new draft version",
        operation_id="routing_versions_create",
        description="The rules are checked on save: their shape and operators, then teams and "
        "people that must exist in the rule set's market.",
    )
    def post(self, request: Request, rule_set_id: int) -> Response:
        self.require_perm("routing.add_ruleversion")
        rule_set = self.rule_set(rule_set_id)
        data = DraftInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            lambda: version_draft_create(
                actor=self.principal(),
                rule_set=rule_set,
                content=data.validated_data["content"],
                change_note=data.validated_data["change_note"],
            ),
            status=201,
        )


class VersionDetailApi(RoutingApi):
    @extend_schema(
        responses={200: VersionDetailOutput, **errors(*READ_ERRORS, 404)},
        summary="One version with its rules and fixtures",
        operation_id="routing_version_get",
    )
    def get(self, request: Request, version_id: int) -> Response:
        return Response(VersionDetailOutput(self.version(version_id)).data)

    @extend_schema(
        request=DraftUpdateInput,
        responses={200: VersionDetailOutput, **WRITE_RESPONSES},
        summary="Replace a draft's rules",
        operation_id="routing_version_update",
        description="Only a draft changes (409 `wrong_state` otherwise).",
    )
    def put(self, request: Request, version_id: int) -> Response:
        self.require_perm("routing.change_ruleversion")
        version = self.version(version_id)
        data = DraftUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            lambda: version_draft_update(
                actor=self.principal(),
                version=version,
                content=data.validated_data["content"],
                change_note=data.validated_data.get("change_note"),
            )
        )


class VersionSubmitApi(RoutingApi):
    @extend_schema(
        request=None,
        responses={200: VersionDetailOutput, **WRITE_RESPONSES},
        summary="Submit a draft for approval",
        operation_id="routing_version_submit",
        description="The rules are checked again and every fixture lead must pass (409 "
        "`fixtures_fail` lists those that do not).",
    )
    def post(self, request: Request, version_id: int) -> Response:
        self.require_perm("routing.change_ruleversion")
        version = self.version(version_id)
        return _answer(lambda: version_submit(actor=self.principal(), version=version))


class VersionApproveApi(RoutingApi):
    @extend_schema(
        request=ApproveInput,
        responses={200: VersionDetailOutput, **WRITE_RESPONSES},
        summary="Approve a submitted version",
        operation_id="routing_version_approve",
        description="A person with the approve permission who is not the author.",
    )
    def post(self, request: Request, version_id: int) -> Response:
        version = self.version(version_id)
        data = ApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        return _answer(
            lambda: version_approve(
                actor=self.principal(), version=version, note=data.validated_data["note"]
            )
        )


class VersionPublishApi(RoutingApi):
    @extend_schema(
        request=None,
        responses={200: VersionDetailOutput, **WRITE_RESPONSES},
        summary="Put an approved version in force",
        operation_id="routing_version_publish",
        description="The version in force until now retires.",
    )
    def post(self, request: Request, version_id: int) -> Response:
        version = self.version(version_id)
        return _answer(lambda: version_publish(actor=self.principal(), version=version))
