"""Reviewing submitted work and paying for it: approval, rejection, blocks, flags, bonuses."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from metamer.errors import MetamerError
from surveys.models import Assignment, Payment, Study
from surveys.recruitment import recruiter_for, request_token
from surveys.selectors import assignment_reward_cents


def _passed_checks(assignment: Assignment) -> bool:
    return not assignment.responses.filter(trial__is_attention_check=True, correct=False).exists()


REJECTION_FEEDBACK = (
    "Your submission failed the attention checks in this survey: in those questions one image was identical to "
    "the reference, and a different one was chosen. We are sorry, but we cannot use the answers."
)


def study_review(*, study: Study, confirm: bool = False, recruiter=None) -> dict[str, int]:
    """Apply the study's review policy to every submitted assignment. The default approves and
    pays everyone who finished (check failures are only left out of the analysis); rejecting
    failures is an opt-in. Moves money, so without ``confirm`` it refuses, stating the cost."""
    recruiter = recruiter or recruiter_for(study)
    pending = list(
        Assignment.objects.filter(survey__study=study, status=Assignment.Status.SUBMITTED).select_related(
            "participant", "survey__study"
        )
    )
    reject = {
        a.pk for a in pending if study.review_policy == Study.ReviewPolicy.REJECT_FAILURES and not _passed_checks(a)
    }
    to_pay = [a for a in pending if a.pk not in reject]
    cost = sum(assignment_reward_cents(a.survey) for a in to_pay)
    if not confirm and cost:
        raise MetamerError(
            f"approving {len(to_pay)} assignments pays {cost / 100:.2f} in rewards (plus the recruiter's fee), "
            f"and rejects {len(reject)}; confirm to go ahead",
            code="confirm",
        )
    counts = {"approved": 0, "rejected": 0}
    for assignment in pending:
        if assignment.pk in reject:
            recruiter.reject(assignment, REJECTION_FEEDBACK)
            assignment.status = Assignment.Status.REJECTED
            counts["rejected"] += 1
        else:
            recruiter.approve(assignment)
            assignment.status = Assignment.Status.APPROVED
            counts["approved"] += 1
        assignment.save(update_fields=["status"])
    return counts


def assignment_approve(*, assignment: Assignment, confirm: bool = False, recruiter=None) -> Assignment:
    """Approve one submitted assignment: the recruiter pays its reward."""
    if assignment.status != Assignment.Status.SUBMITTED:
        raise MetamerError(
            f"only a submitted assignment can be approved; this one is {assignment.status}", code="conflict"
        )
    reward = assignment_reward_cents(assignment.survey)
    if reward and not confirm:
        raise MetamerError(
            f"approving pays {reward / 100:.2f} to {assignment.participant}; confirm to go ahead", code="confirm"
        )
    (recruiter or recruiter_for(assignment.survey.study)).approve(assignment)
    assignment.status = Assignment.Status.APPROVED
    assignment.save(update_fields=["status"])
    return assignment


def assignment_reject(*, assignment: Assignment, feedback: str, recruiter=None) -> Assignment:
    """Reject one submitted assignment, telling the worker why (it hurts their record)."""
    if assignment.status != Assignment.Status.SUBMITTED:
        raise MetamerError(
            f"only a submitted assignment can be rejected; this one is {assignment.status}", code="conflict"
        )
    if not feedback.strip():
        raise MetamerError("a rejection needs feedback telling the worker why", field="feedback")
    (recruiter or recruiter_for(assignment.survey.study)).reject(assignment, feedback)
    assignment.status = Assignment.Status.REJECTED
    assignment.save(update_fields=["status"])
    return assignment


def participant_block(*, assignment: Assignment, reason: str, recruiter=None) -> Assignment:
    """Keep a worker out of the recruiter's future tasks (MTurk's worker block)."""
    if not reason.strip():
        raise MetamerError("a block needs a reason", field="reason")
    (recruiter or recruiter_for(assignment.survey.study)).block(assignment, reason)
    return assignment_flag(assignment=assignment, note=f"blocked: {reason}")


def assignment_flag(*, assignment: Assignment, note: str) -> Assignment:
    """Mark an assignment for a closer look; no money moves."""
    assignment.flagged = True
    assignment.review_note = note
    assignment.save(update_fields=["flagged", "review_note"])
    return assignment


def assignment_bonus(
    *, assignment: Assignment, amount_cents: int, reason: str, confirm: bool = False, recruiter=None
) -> Payment:
    """Pay a bonus once. The payment is recorded with its request token before the call, so a
    retry after a lost answer sends the same token and the recruiter pays once."""
    if amount_cents <= 0 or not reason.strip():
        raise MetamerError("a bonus needs a positive amount and a reason the worker will see", field="amount_cents")
    if not confirm:
        raise MetamerError(
            f"this pays {amount_cents / 100:.2f} to {assignment.participant}; confirm to go ahead", code="confirm"
        )
    recruiter = recruiter or recruiter_for(assignment.survey.study)
    with transaction.atomic():
        payment = Payment.objects.filter(
            assignment=assignment, amount_cents=amount_cents, reason=reason, sent_at__isnull=True
        ).first() or Payment.objects.create(
            assignment=assignment,
            amount_cents=amount_cents,
            reason=reason,
            request_token=request_token("bonus", assignment.pk, assignment.payments.count() + 1),
        )
    recruiter.bonus(payment)
    payment.sent_at = timezone.now()
    payment.save(update_fields=["sent_at"])
    return payment
