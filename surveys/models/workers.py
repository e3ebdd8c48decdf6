"""The people who take surveys, every answer they give, and the audit log of later decisions."""

from __future__ import annotations

import secrets

from django.db import models

from surveys.models.designs import Survey, Trial
from surveys.models.studies import Study


class Participant(models.Model):
    """A person as the recruiter knows them (MTurk WorkerId, Prolific PID, or a link label)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Nobody takes part in the same study twice.
            models.UniqueConstraint(fields=["study", "external_id"], name="one_participant_per_study")
        ]

    def __str__(self) -> str:
        return self.external_id


def _link_token() -> str:
    return secrets.token_urlsafe(24)


class SurveyLink(models.Model):
    """One place of a plain-links survey: a long random token, not guessable or sequential.
    Whoever opens it first takes the place; it resumes only in the browser that started it."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="links")
    token = models.CharField(max_length=43, unique=True, default=_link_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"link …{self.token[-6:]} of {self.survey.name}"


class Assignment(models.Model):
    """One participant taking one survey; its token is the capability in the worker's URLs.

    ``sequence`` is what this worker sees, fixed at the start from ``seed`` (derived from the
    survey's seed and ``ordinal``, the arrival order): the trial order and, per trial, the
    option sides (2AFC) or the column and row order (clustering)."""

    class Status(models.TextChoices):
        STARTED = "started"
        SUBMITTED = "submitted"
        APPROVED = "approved"
        REJECTED = "rejected"
        EXPIRED = "expired", "expired (time ran out; the place was freed)"

    token = models.CharField(max_length=43, unique=True, default=secrets.token_urlsafe, editable=False)
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="assignments")
    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="assignment")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    recruiter_data = models.JSONField(default=dict, blank=True, help_text="assignmentId, STUDY_ID, …")
    recruiter_status = models.CharField(max_length=20, blank=True, help_text="The recruiter's record, a cross-check.")
    flagged = models.BooleanField(default=False, help_text="Marked for a closer look; no money moves.")
    review_note = models.TextField(blank=True)
    excluded = models.BooleanField(
        default=False,
        help_text="Left out of the data by the researcher (who, when and why: the audit log); the answers stay stored.",
    )
    ordinal = models.PositiveIntegerField(null=True, blank=True, help_text="Arrival order within the survey (0, 1, …).")
    seed = models.BigIntegerField(null=True, blank=True, help_text="This worker's presentation seed.")
    sequence = models.JSONField(default=list, blank=True, help_text="Trial order and sides, as this worker sees them.")
    session_key = models.CharField(max_length=64, blank=True, help_text="The browser session it is bound to.")
    link = models.OneToOneField(SurveyLink, null=True, blank=True, on_delete=models.PROTECT, related_name="assignment")
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    practice_done = models.PositiveSmallIntegerField(default=0, help_text="Practice questions answered (not data).")
    exit_answers = models.JSONField(
        null=True, blank=True, help_text="Answers to the exit questions ({} when skipped; empty until asked)."
    )

    n_answered: int | None = None
    """Not a column: the answers stored so far, when the read that loaded this assignment counted
    them (``selectors.assignment_for_answer``); None when not known."""
    status_unchecked: bool = False
    """Not a column: True on a copy remembered since it started (``selectors.assignment_for_answer``
    on PostgreSQL), whose status the answer's own statement checks (``services.answers``)."""

    COUNTED = (Status.SUBMITTED, Status.APPROVED, Status.REJECTED)
    """Finished work: what results, reports, exports and payments count."""

    def __str__(self) -> str:
        return f"{self.participant} on {self.survey.name} ({self.status})"


class Response(models.Model):
    """One answer, saved the moment it is given."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="responses")
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="responses")
    answer = models.JSONField(help_text="2AFC: index of the chosen option; clustering: each row's column.")
    correct = models.BooleanField(
        null=True, help_text="All right (for an attention check: the check passed); empty with no right answer."
    )
    score = models.FloatField(
        null=True, help_text="Share right: 2AFC 0 or 1; clustering the share of rows; empty with no right answer."
    )
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=64)
    viewing = models.JSONField(default=dict, blank=True, help_text="Viewport, devicePixelRatio, drawn sizes.")
    presented = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the worker saw: position (1-based), and flip (2AFC: options swapped) or the column and row "
        "order (clustering), with the answer as clicked.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "trial"], name="one_answer_per_trial"),
            models.UniqueConstraint(fields=["assignment", "idempotency_key"], name="unique_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.assignment.participant} → {self.trial}: {self.answer}"


class AuditEntry(models.Model):
    """One later decision about what was recorded: who, when, what and why. Written by services
    only and never changed or deleted (the model has no add, change or delete permission):
    approvals, rejections, flags, notes, exclusions, bonuses and blocks, and what the recruiter
    was found to have done already."""

    class Action(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"
        FLAG = "flag"
        NOTE = "note"
        EXCLUDE = "exclude", "Exclude from the data"
        INCLUDE = "include", "Include in the data again"
        BONUS = "bonus"
        BLOCK = "block"
        RECORD = "record", "Record the recruiter's state"
        WITHDRAW = "withdraw", "Withdraw a participant (their answers and identifiers deleted)"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="audit")
    assignment = models.ForeignKey(Assignment, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    action = models.CharField(max_length=10, choices=Action.choices)
    actor = models.CharField(max_length=150, help_text="Who decided: a staff user, or the process acting alone.")
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        default_permissions = ("view",)
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor}: {self.get_action_display()}"
