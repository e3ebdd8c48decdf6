"""The one error type for expected failures, and where it becomes an API response."""

from __future__ import annotations

from typing import Any


class MetamerError(Exception):
    """An expected failure with a message that tells the user what to fix.

    ``field`` names the input at fault, when there is one, so forms and the API can attach
    the message to it.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


def api_exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, plus MetamerError → 400 (409 for an illegal state move or a spending
    action that was not confirmed; the message states the cost)."""
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, MetamerError):
        return Response(exc.as_dict(), status=409 if exc.code in ("conflict", "confirm") else 400)
    return exception_handler(exc, context)
