"""A participant's withdrawal: the one time what a worker sent is deleted, at their request
(Prolific participants may withdraw; so may anyone under most ethics approvals), and recorded."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.db import transaction

from metamer.errors import MetamerError
from surveys.models import Assignment, AuditEntry, Participant, Response, SimilarityData
from surveys.services.audit import audit_record


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal removes (``participant_withdraw_check``) or removed."""

    participant: Participant
    answers: int
    similarity_data: list[str] = field(default_factory=list)
    """Similarity data saved from this study's surveys that may hold their judgements: to be
    saved again from the survey, which no longer has them."""

    def __str__(self) -> str:
        text = f"{self.answers} answers and their identifiers"
        if self.similarity_data:
            text += (
                f"; save again from their surveys the similarity data that may hold their judgements: "
                f"{', '.join(self.similarity_data)}"
            )
        return text


def participant_withdraw_check(*, participant: Participant) -> Withdrawal:
    """What withdrawing ``participant`` would delete; changes nothing."""
    if participant.external_id.startswith(WITHDRAWN):
        raise MetamerError("this participant has withdrawn already", code="conflict")
    study = participant.study
    surveys = [s.name for s in study.surveys.all()]
    similarity = [
        name
        for name, source in SimilarityData.objects.values_list("name", "source")
        if any(f"survey {s!r}" in source for s in surveys)
    ]
    return Withdrawal(
        participant=participant,
        answers=Response.objects.filter(assignment__participant=participant).count(),
        similarity_data=sorted(similarity),
    )


WITHDRAWN = "withdrawn-"
"""The id a withdrawn participant keeps: no trace of who they were."""


@transaction.atomic
def participant_withdraw(
    *, participant: Participant, reason: str, actor: str, details: dict | None = None
) -> Withdrawal:
    """Delete one person's answers and every identifier this app holds of them (their recruiter
    id, the recruiter's assignment and session ids, their browser session, exit answers),
    keeping an anonymous place so counts and payments stay accountable. Recorded in the audit
    log with who did it, why, and ``details`` (what else the caller removed: the study's built
    reports, ``analysis.services.participant_delete``)."""
    if not (reason or "").strip():
        raise MetamerError("a withdrawal needs a reason, for the audit log", field="reason")
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    withdrawal = participant_withdraw_check(participant=participant)
    assignment = Assignment.objects.filter(participant=participant).select_related("survey__study").first()
    Response.objects.filter(assignment__participant=participant).delete()
    if assignment is not None:
        Assignment.objects.filter(pk=assignment.pk).update(
            recruiter_data={}, session_key="", exit_answers=None, review_note="", excluded=True
        )
    participant.external_id = f"{WITHDRAWN}{secrets.token_hex(6)}"
    participant.save(update_fields=["external_id"])
    audit_record(
        study=participant.study,
        assignment=assignment,
        action=AuditEntry.Action.WITHDRAW,
        actor=actor,
        reason=reason.strip(),
        details={
            "answers_deleted": withdrawal.answers,
            "similarity_data_to_save_again": withdrawal.similarity_data,
            **(details or {}),
        },
    )
    return withdrawal
