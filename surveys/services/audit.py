"""Later decisions about recorded data, each written to the append-only audit log: who, when,
what and why. What a worker sent is never changed or deleted; excluding a worker leaves their
answers stored and out of the data, with the reason."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from metamer.errors import MetamerError
from surveys.models import Assignment, AuditEntry, Study

PROCESS = "metamer"
"""The actor of decisions no person took (a review policy applied by a scheduled task)."""


def audit_record(
    *,
    study: Study,
    action: str,
    actor: str,
    assignment: Assignment | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one decision to the study's audit log."""
    return AuditEntry.objects.create(
        study=study,
        assignment=assignment,
        action=action,
        actor=(actor or PROCESS)[:150],
        reason=reason,
        details=details or {},
    )


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise MetamerError(f"{what} needs a reason, for the audit log", field="reason")
    return reason


def assignment_exclude(*, assignment: Assignment, reason: str, actor: str) -> Assignment:
    """Leave a worker's answers out of every result, report and export of data (they stay
    stored); the reason goes to the audit log. Replaces deleting anything a worker sent."""
    return _set_excluded(assignment, True, _reason(reason, "an exclusion"), actor)


def assignment_include(*, assignment: Assignment, reason: str, actor: str) -> Assignment:
    """Undo an exclusion: the worker's answers count again (recorded, with the reason)."""
    return _set_excluded(assignment, False, _reason(reason, "including a worker again"), actor)


@transaction.atomic
def _set_excluded(assignment: Assignment, excluded: bool, reason: str, actor: str) -> Assignment:
    # The update only moves from the other state: a repeat is refused, never recorded twice.
    if not Assignment.objects.filter(pk=assignment.pk, excluded=not excluded).update(excluded=excluded):
        state = "excluded already" if excluded else "not excluded"
        raise MetamerError(f"{assignment.participant} is {state}", code="conflict")
    assignment.excluded = excluded
    audit_record(
        study=assignment.survey.study,
        assignment=assignment,
        action=AuditEntry.Action.EXCLUDE if excluded else AuditEntry.Action.INCLUDE,
        actor=actor,
        reason=reason,
    )
    return assignment


@transaction.atomic
def assignment_note(*, assignment: Assignment, note: str, actor: str) -> AuditEntry:
    """A note on an assignment for whoever reviews it next; changes nothing else."""
    return audit_record(
        study=assignment.survey.study,
        assignment=assignment,
        action=AuditEntry.Action.NOTE,
        actor=actor,
        reason=_reason(note, "a note"),
    )
