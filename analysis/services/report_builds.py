"""Starting a study's report, importing neither pandas nor matplotlib: the request stores the
report *building* and a worker writes its files (``reports.report_fill``)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from analysis.models import Report
from inversion.models import InversionJob
from metamer.errors import MetamerError
from metamer.queue import send_stamped
from surveys.models import Study


def report_build(*, study: Study, in_background: bool = False) -> Report:
    """A report on the study as it is now. ``in_background`` (the admin and the API): stored
    BUILDING and written by a worker; otherwise written here and returned READY (or the reason
    it could not be, raised)."""
    if not InversionJob.objects.filter(surveys__study=study).exists():
        raise MetamerError("the study has no surveys built from inversion jobs yet", field="study")
    with transaction.atomic():
        report = Report.objects.create(study=study, status=Report.Status.BUILDING)
        if in_background:
            _send(report)
            return report
    from analysis.services.reports import report_fill

    report = report_fill(report_id=report.pk)
    if report.status == Report.Status.FAILED:
        message = report.message
        report.delete()
        raise MetamerError(message, field="study")
    return report


def _send(report: Report) -> None:
    from analysis.tasks import build_report

    send_stamped(build_report, report)


def reports_send_unsent(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Reports the task queue never took (the broker was down), sent again; how many."""
    stale = list(
        Report.objects.filter(
            status=Report.Status.BUILDING, enqueued_at__isnull=True, created_at__lt=timezone.now() - older_than
        )
    )
    for report in stale:
        _send(report)
    return len(stale)
