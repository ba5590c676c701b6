"""Request size limits, per endpoint, checked before the body is parsed.

A single lead or source submission is small (a full one with 50 attributes of 1,000 characters
is about 60 KB), so 256 KiB is generous; the batch endpoint takes up to 1,000 items in one body,
each held to its own limit. Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` (settings) is the largest of
these, so no body beyond it is ever read into memory.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.request import Request

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
