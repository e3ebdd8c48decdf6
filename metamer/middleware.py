"""What a request meets when the database is briefly out of reach."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1


class DatabaseUnavailableMiddleware:
    """A request whose database connection was dropped (a restarted or failed-over server, a
    killed backend) answers 503 with ``Retry-After`` instead of a 500: nothing was stored, and
    Django replaces the broken connection before the next request. Workers' pages retry
    answers on any 5xx with the same idempotency key, so no answer is lost or doubled.

    This is what lets persistent connections skip Django's per-request health check (one round
    trip to the database on every request, the answer endpoint's included)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        message = "the database is briefly unavailable; nothing was stored. Try again in a moment."
        if request.content_type == "application/json" or request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": message, "code": "unavailable"}, status=503)
        else:
            response = HttpResponse(message.capitalize(), content_type="text/plain; charset=utf-8", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


class RefuseNulMiddleware:
    """A NUL character in the path or the query string is never part of a valid request, and
    PostgreSQL refuses it in any text it is handed (Django would answer 500): refused here with
    400, before any view or database sees it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            message = "the address holds a NUL character; remove it and try again"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "code": "invalid"}, status=400)
            return HttpResponse(message.capitalize(), content_type="text/plain; charset=utf-8", status=400)
        return self.get_response(request)
