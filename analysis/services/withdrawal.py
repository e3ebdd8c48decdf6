"""A participant's withdrawal across the apps: their answers and identifiers (``surveys``) and
the study's built reports, which list them (``analysis``)."""

from __future__ import annotations

from django.db import transaction

from analysis.models import Report
from surveys.models import Participant
from surveys.services import participant_withdraw
from surveys.services.withdrawal import Withdrawal

REPORT_FILES = ("html", "csv", "summary_csv", "triplets_csv", "workers_csv", "audit_csv", "codebook", "summary_json")


@transaction.atomic
def participant_delete(*, participant: Participant, reason: str, actor: str) -> tuple[Withdrawal, int]:
    """Withdraw ``participant`` everywhere: their answers and identifiers, and every report built
    from the study (files included), which a researcher builds again from what is left.
    Recorded in the audit log. Returns what was removed and how many reports."""
    reports = list(Report.objects.filter(study=participant.study))
    withdrawal = participant_withdraw(
        participant=participant, reason=reason, actor=actor, details={"reports_deleted": len(reports)}
    )
    for report in reports:
        for name in REPORT_FILES:
            attachment = getattr(report, name)
            if attachment:
                attachment.delete(save=False)
        report.delete()
    return withdrawal, len(reports)
