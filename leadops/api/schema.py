"""What the OpenAPI document says about errors, headers and examples, shared by every endpoint.

Every endpoint lists each error it can give with the body it comes with: 400 field errors,
`{"detail", "code"}` for the rest (errors.py makes both).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class FieldErrors(serializers.Serializer):
    """`{"errors": {field: [message, …]}}`."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: `errors` is also a Serializer attribute.
        return {
            "errors": serializers.DictField(
                child=serializers.JSONField(),
                help_text="Field name → list of messages (a nested field → the same shape, "
                "nested). Problems with the input as a whole come under `non_field_errors`.",
            )
        }


class Detail(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="A stable code for programs, e.g. `not_found`.")


ERRORS: dict[int, tuple[type[serializers.Serializer], str, dict[str, object]]] = {
    400: (
        FieldErrors,
        "The input does not hold; each field names its problems.",
        {"errors": {"email": ["Give an email or a phone."]}},
    ),
    401: (
        Detail,
        "No API key, or one that is unknown or deactivated.",
        {"detail": "Invalid API key.", "code": "authentication_failed"},
    ),
    403: (
        Detail,
        "The caller may not do this.",
        {
            "detail": "You do not have permission to perform this action.",
            "code": "permission_denied",
        },
    ),
    404: (
        Detail,
        "No such object in the caller's markets.",
        {"detail": "Not found.", "code": "not_found"},
    ),
    409: (
        Detail,
        "The request conflicts with the object's state (or an Idempotency-Key is in flight).",
        {
            "detail": "A request with this Idempotency-Key is still being processed.",
            "code": "idempotency_in_flight",
        },
    ),
    413: (
        Detail,
        "The body is larger than this endpoint takes.",
        {
            "detail": "The request body is 300,000 bytes; this endpoint takes at most "
            "262,144 bytes (256 KiB).",
            "code": "too_large",
        },
    ),
    415: (
        Detail,
        "The body is not JSON (send `Content-Type: application/json`).",
        {
            "detail": 'Unsupported media type "text/plain" in request.',
            "code": "unsupported_media_type",
        },
    ),
    422: (
        Detail,
        "This Idempotency-Key was used before with a different body.",
        {
            "detail": "This Idempotency-Key was used with a different request body.",
            "code": "idempotency_mismatch",
        },
    ),
    429: (
        Detail,
        "Too many requests for this client; `Retry-After` says when to try again.",
        {"detail": "Request was throttled. Expected available in 12 seconds.", "code": "throttled"},
    ),
}

RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, description="Seconds to wait."
)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses `statuses`, each with its body shape and an example."""
    documented = {}
    for status in statuses:
        serializer, description, example = ERRORS[status]
        documented[status] = OpenApiResponse(
            response=serializer,
            description=description,
            examples=[OpenApiExample(f"{status}", value=example, status_codes=[str(status)])],
        )
    return documented


# What every authenticated endpoint can answer besides its own results.
READ_ERRORS = (400, 401, 403, 429)
WRITE_ERRORS = (400, 401, 403, 413, 415, 429)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional, per client (at most 200 characters). A retry with the same key and "
    "body gets the first answer again, byte for byte; the same key with another body is 422; "
    "one still being processed is 409. A 400 does not use the key up.",
)

ADA = {
    "source": "web",
    "external_id": "crm-4711",
    "email": "ada.lovelace@engines.example",
    "phone": "+49 30 1234567",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "website": "https://engines.example",
    "title": "Head of Research",
    "country": "DE",
    "postal_code": "10115",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "demo-request",
    "attributes": {"plan": "pro", "seats": 12},
}
