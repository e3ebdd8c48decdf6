"""Handing work to the task queue after the rows it needs are committed, without letting an
unreachable broker turn a stored request into an error page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def send_after_commit(
    task: Any, *args: Any, sent: Callable[[], None] | None = None, unsent: Callable[[], None] | None = None
) -> None:
    """Queue ``task(*args)`` once the surrounding transaction commits, then call ``sent``. When the
    broker cannot be reached, what was stored stays stored, the request still succeeds, and
    ``unsent`` says so on the row (a job is sent again by the beat; see its service)."""

    def send() -> None:
        try:
            task.delay(*args)
        except OperationalError:
            logger.exception("the task queue could not be reached: %s%s not sent", task.name, args)
            if unsent is not None:
                unsent()
            return
        if sent is not None:
            sent()

    transaction.on_commit(send)


def send_stamped(task: Any, row: Any) -> None:
    """Queue ``task(row.pk)`` once committed; the row's ``enqueued_at`` stays empty until the
    queue has taken it, so the beat can find what was never sent."""
    rows = type(row).objects.filter(pk=row.pk)
    rows.update(enqueued_at=None)
    send_after_commit(task, row.pk, sent=lambda: rows.update(enqueued_at=timezone.now()))
