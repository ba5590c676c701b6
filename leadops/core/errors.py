"""The one base class for domain errors; interfaces (API, admin, commands) translate them."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A domain rule said no. `code` is stable for machines, `message` is for people."""

    code = "application_error"

    def __init__(
        self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}
