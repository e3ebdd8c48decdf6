"""The one error type for expected failures, and where it becomes an API response."""

from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "invalid": 400,
    "taken": 403,
    "link": 404,
    "conflict": 409,
    "confirm": 409,
    "full": 409,
    "expired": 410,
    "too_large": 413,
}
"""Each error code's HTTP status, for the API and the worker's pages alike: a refused input is
400; an illegal state move, a spending action not yet confirmed (its message states the cost)
or a full survey 409; a place taken in another browser 403; a link that is not the survey's
404; a place whose time ran out 410; a body too large 413; a recruiter that refused 502."""


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

    @property
    def status(self) -> int:
        """The HTTP status this failure answers with (``HTTP_STATUS``)."""
        return HTTP_STATUS.get(self.code, 400)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        return body


def api_exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, plus MetamerError → its code's status (``HTTP_STATUS``)."""
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, MetamerError):
        return Response(exc.as_dict(), status=exc.status)
    return exception_handler(exc, context)
