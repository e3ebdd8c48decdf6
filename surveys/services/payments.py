"""Reviewing submitted work and paying for it: approval, rejection, blocks, flags, bonuses.
Every decision is written to the study's audit log with who took it (``actor``)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from metamer.errors import MetamerError
from surveys.models import Assignment, AuditEntry, Payment, Study
from surveys.recruitment import recruiter_for, request_token
from surveys.recruitment.base import refused_before_acting
from surveys.selectors import assignment_reward_cents
from surveys.services.audit import PROCESS, audit_record

logger = logging.getLogger(__name__)


def _passed_checks(assignment: Assignment) -> bool:
    return not assignment.responses.filter(trial__is_attention_check=True, correct=False).exists()


REJECTION_FEEDBACK = (
    "Your submission failed the attention checks in this survey: in those questions one image was identical to "
    "the reference, and a different one was chosen. We are sorry, but we cannot use the answers."
)


@dataclass
class ReviewResult:
    """What a review did: assignments approved and rejected (some found already done at the
    recruiter, recorded as such), and the ones that failed, each with the reason."""

    approved: int = 0
    rejected: int = 0
    already_done: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.approved} approved, {self.rejected} rejected"
        if self.already_done:
            text += f" ({self.already_done} of them already done at the recruiter, now recorded)"
        if self.failures:
            listed = "; ".join(f"{f['participant']}: {f['error']}" for f in self.failures)
            text += f"; {len(self.failures)} failed, to retry: {listed}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _settle(recruiter, assignment: Assignment, want: str, act, *, actor: str, reason: str = "") -> bool:
    """Reconcile, then act: read the recruiter's review state first and take "already done"
    as done; after a failed call, read it again, since the call may have acted before its
    answer was lost. Records the outcome, in the audit log too; returns whether it was found
    already done."""
    state = recruiter.review_state(assignment)
    already = state == want
    study = assignment.survey.study
    if state not in (None, "submitted", want):
        assignment.status = state
        assignment.save(update_fields=["status"])
        audit_record(
            study=study,
            assignment=assignment,
            action=AuditEntry.Action.RECORD,
            actor=actor,
            reason=f"{recruiter.name} had it as {state} already",
            details={"status": state},
        )
        raise MetamerError(
            f"{recruiter.name} has this assignment as {state} already; recorded that instead", code="conflict"
        )
    if not already:
        try:
            act()
        except Exception:
            try:
                acted = recruiter.review_state(assignment) == want
            except Exception:
                acted = False
            if not acted:
                raise
    assignment.status = want
    assignment.save(update_fields=["status"])
    action = AuditEntry.Action.APPROVE if want == Assignment.Status.APPROVED else AuditEntry.Action.REJECT
    details = {"found_done_at_recruiter": True} if already else {}
    audit_record(study=study, assignment=assignment, action=action, actor=actor, reason=reason, details=details)
    return already


def study_review(*, study: Study, confirm: bool = False, recruiter=None, actor: str = PROCESS) -> ReviewResult:
    """Apply the study's review policy to every submitted assignment. The default approves and
    pays everyone who finished (check failures are only left out of the analysis); rejecting
    failures is an opt-in. Moves money, so without ``confirm`` it refuses, stating the cost.
    Each assignment is reconciled with the recruiter before acting; one failure never stops the
    rest, and failures are listed in the result (run it again to retry them)."""
    recruiter = recruiter or recruiter_for(study)
    pending = list(
        Assignment.objects.filter(survey__study=study, status=Assignment.Status.SUBMITTED)
        .select_related("participant", "survey__study")
        .order_by("pk")
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
    result = ReviewResult()
    for assignment in pending:
        rejecting = assignment.pk in reject
        try:
            if rejecting:
                already = _settle(
                    recruiter,
                    assignment,
                    Assignment.Status.REJECTED,
                    lambda a=assignment: recruiter.reject(a, REJECTION_FEEDBACK),
                    actor=actor,
                    reason="review policy: failed an attention check",
                )
            else:
                already = _settle(
                    recruiter,
                    assignment,
                    Assignment.Status.APPROVED,
                    lambda a=assignment: recruiter.approve(a),
                    actor=actor,
                    reason="review policy",
                )
        except Exception as exc:
            message = exc.message if isinstance(exc, MetamerError) else f"{type(exc).__name__}: {exc}"
            logger.warning("review of assignment %s failed: %s", assignment.pk, message)
            result.failures.append(
                {"assignment": assignment.pk, "participant": assignment.participant.external_id, "error": message}
            )
            continue
        result.already_done += already
        if rejecting:
            result.rejected += 1
        else:
            result.approved += 1
    return result


def assignment_approve(
    *, assignment: Assignment, confirm: bool = False, recruiter=None, actor: str = PROCESS
) -> Assignment:
    """Approve one submitted assignment: the recruiter pays its reward (reconciled first, so a
    retry after a lost answer records what the recruiter already did)."""
    if assignment.status != Assignment.Status.SUBMITTED:
        raise MetamerError(
            f"only a submitted assignment can be approved; this one is {assignment.status}", code="conflict"
        )
    reward = assignment_reward_cents(assignment.survey)
    if reward and not confirm:
        raise MetamerError(
            f"approving pays {reward / 100:.2f} to {assignment.participant}; confirm to go ahead", code="confirm"
        )
    recruiter = recruiter or recruiter_for(assignment.survey.study)
    _settle(recruiter, assignment, Assignment.Status.APPROVED, lambda: recruiter.approve(assignment), actor=actor)
    return assignment


def assignment_reject(*, assignment: Assignment, feedback: str, recruiter=None, actor: str = PROCESS) -> Assignment:
    """Reject one submitted assignment, telling the worker why (it hurts their record)."""
    if assignment.status != Assignment.Status.SUBMITTED:
        raise MetamerError(
            f"only a submitted assignment can be rejected; this one is {assignment.status}", code="conflict"
        )
    if not feedback.strip():
        raise MetamerError("a rejection needs feedback telling the worker why", field="feedback")
    recruiter = recruiter or recruiter_for(assignment.survey.study)
    _settle(
        recruiter,
        assignment,
        Assignment.Status.REJECTED,
        lambda: recruiter.reject(assignment, feedback),
        actor=actor,
        reason=feedback,
    )
    return assignment


def participant_block(*, assignment: Assignment, reason: str, recruiter=None, actor: str = PROCESS) -> Assignment:
    """Keep a worker out of the recruiter's future tasks (MTurk's worker block)."""
    if not reason.strip():
        raise MetamerError("a block needs a reason", field="reason")
    (recruiter or recruiter_for(assignment.survey.study)).block(assignment, reason)
    audit_record(
        study=assignment.survey.study,
        assignment=assignment,
        action=AuditEntry.Action.BLOCK,
        actor=actor,
        reason=reason,
    )
    return assignment_flag(assignment=assignment, note=f"blocked: {reason}", actor=actor)


def assignment_flag(*, assignment: Assignment, note: str, actor: str = PROCESS) -> Assignment:
    """Mark an assignment for a closer look; no money moves."""
    assignment.flagged = True
    assignment.review_note = note
    assignment.save(update_fields=["flagged", "review_note"])
    audit_record(
        study=assignment.survey.study, assignment=assignment, action=AuditEntry.Action.FLAG, actor=actor, reason=note
    )
    return assignment


def assignment_bonus(
    *,
    assignment: Assignment,
    amount_cents: int,
    reason: str,
    confirm: bool = False,
    recruiter=None,
    actor: str = PROCESS,
) -> Payment:
    """Pay a bonus once. The payment is stored with its request token before any call, and
    reconciled with the recruiter before paying: a bonus the recruiter already shows (an
    earlier try whose answer was lost) is recorded, not paid again. A payment sent to a
    recruiter whose paying call is not idempotent (Prolific) and not yet confirmed is never
    resent blind. ``sent_at`` is set exactly once."""
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
    if _bonus_already_paid(recruiter, payment):
        return _bonus_sent(payment, actor)
    if payment.requested_at and not recruiter.bonus_idempotent:
        raise MetamerError(
            f"this bonus was sent to {recruiter.name} at {payment.requested_at:%Y-%m-%d %H:%M} UTC and is not "
            f"confirmed yet ({recruiter.name} pays bonuses within minutes): try again later; it is never sent twice",
            code="conflict",
        )
    try:
        recruiter.bonus(payment)
    except Exception as exc:
        if _bonus_already_paid(recruiter, payment, quiet=True):
            return _bonus_sent(payment, actor)
        if refused_before_acting(exc):
            # The recruiter did not pay, so a later try may send it again.
            Payment.objects.filter(pk=payment.pk).update(requested_at=None)
        raise
    return _bonus_sent(payment, actor)


def _bonus_already_paid(recruiter, payment: Payment, *, quiet: bool = False) -> bool:
    """Whether the recruiter shows more bonuses like this one than Metamer has recorded as sent."""
    try:
        paid = recruiter.bonuses_paid(payment)
    except Exception:
        if quiet:
            return False
        raise
    if paid is None:
        return False
    recorded = Payment.objects.filter(
        assignment=payment.assignment,
        amount_cents=payment.amount_cents,
        reason=payment.reason,
        sent_at__isnull=False,
    ).count()
    return paid > recorded


def _bonus_sent(payment: Payment, actor: str) -> Payment:
    if Payment.objects.filter(pk=payment.pk, sent_at__isnull=True).update(sent_at=timezone.now()):
        assignment = payment.assignment
        audit_record(
            study=assignment.survey.study,
            assignment=assignment,
            action=AuditEntry.Action.BONUS,
            actor=actor,
            reason=payment.reason,
            details={"amount_cents": payment.amount_cents, "payment": payment.pk},
        )
    payment.refresh_from_db()
    return payment
