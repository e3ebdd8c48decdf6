"""What was put before a recruiter and what was paid."""

from __future__ import annotations

from django.db import models

from surveys.models.designs import Survey
from surveys.models.studies import Study
from surveys.models.workers import Assignment


class Publication(models.Model):
    """One survey put before a recruiter's workers: an MTurk HIT or a Prolific study."""

    class Status(models.TextChoices):
        CREATING = "creating"
        PUBLISHED = "published"
        STOPPED = "stopped"

    survey = models.OneToOneField(Survey, on_delete=models.PROTECT, related_name="publication")
    recruiter = models.CharField(max_length=10, choices=Study.Recruiter.choices)
    request_token = models.CharField(max_length=64, unique=True, help_text="Makes a retried create a no-op.")
    external_id = models.CharField(max_length=64, blank=True, help_text="HIT id or Prolific study id.")
    external_type_id = models.CharField(max_length=64, blank=True, help_text="MTurk HIT type id.")
    places = models.PositiveIntegerField()
    reward_cents = models.PositiveIntegerField()
    cost_cents = models.PositiveIntegerField(help_text="Rewards plus the recruiter's fee, as confirmed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATING)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.survey} on {self.recruiter} ({self.status})"


class Payment(models.Model):
    """A bonus sent to a worker. The request token makes a retried payment a no-op."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="payments")
    amount_cents = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    request_token = models.CharField(max_length=64, unique=True)
    external_id = models.CharField(
        max_length=100, blank=True, help_text="The recruiter's id for this payment (Prolific: the bulk bonus)."
    )
    requested_at = models.DateTimeField(
        null=True, blank=True, help_text="When the paying call was sent; with no confirmation yet, never resent blind."
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Empty until the recruiter confirmed it.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"bonus {self.amount_cents / 100:.2f} to {self.assignment.participant}"
