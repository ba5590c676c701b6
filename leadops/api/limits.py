"""Request size limits, per endpoint, checked before the body is parsed.

A single lead or source submission is small (a full one with 50 attributes of 1,000 characters
is about 60 KB), so 256 KiB is generous; the batch endpoint takes up to 1,000 items in one body,
each held to its own limit. Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` (settings) is the largest of
these, so no body beyond it is ever read into memory.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.views import APIView

SINGLE_LEAD_BYTES = 256 * 1024
BATCH_BYTES = 8 * 1024 * 1024
BATCH_ITEM_BYTES = 64 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def body_size(request: Request) -> int:
    """The body's size in bytes: the declared Content-Length, else what was sent (at most
    Django's upload cap is read; beyond it the size is reported as just over that cap)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.strip().isdigit():
        return int(declared)
    try:
        return len(request._request.body)
    except RequestDataTooBig:
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) + 1


def too_large_message(size: int, limit: int) -> str:
    return (
        f"The request body is {size:,} bytes; this endpoint takes at most {limit:,} bytes "
        f"({limit // 1024:,} KiB)."
    )


class BodyLimitMixin(APIView):
    """Refuses a body over `max_body_bytes` with 413 before anything parses it.

    `body_refused` runs first, so an intake endpoint can keep a record of what it refused."""

    max_body_bytes = SINGLE_LEAD_BYTES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in ("POST", "PUT", "PATCH"):
            return
        size = body_size(request)
        if size > self.max_body_bytes:
            message = too_large_message(size, self.max_body_bytes)
            self.body_refused(request, size=size, message=message)
            raise PayloadTooLarge(message)

    def body_refused(self, request: Request, *, size: int, message: str) -> None:
        """Hook: record a refused body (intake endpoints store a rejected submission)."""
