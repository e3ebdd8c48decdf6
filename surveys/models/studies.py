"""Studies: one research question, its recruiter and its pool of participants."""

from __future__ import annotations

import secrets

from django.db import models


def _completion_code() -> str:
    return secrets.token_hex(4).upper()


def _english_speaking() -> list[str]:
    return ["US", "GB", "CA", "AU", "NZ", "IE"]


class Study(models.Model):
    """One research question: its surveys share a recruiter and a participant pool."""

    class Recruiter(models.TextChoices):
        LINKS = "links", "Plain links (pilots, no money)"
        MTURK = "mturk", "Amazon Mechanical Turk"
        PROLIFIC = "prolific", "Prolific"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class ReviewPolicy(models.TextChoices):
        APPROVE_ALL = "approve-all", "Approve and pay everyone who finished; exclude check failures from analysis"
        REJECT_FAILURES = "reject-failures", "Reject workers who fail attention checks (hurts their record)"

    recruiter = models.CharField(max_length=10, choices=Recruiter.choices, default=Recruiter.LINKS)
    completion_code = models.CharField(
        max_length=20, default=_completion_code, editable=False, help_text="Made once, when the study is created."
    )
    review_policy = models.CharField(max_length=16, choices=ReviewPolicy.choices, default=ReviewPolicy.APPROVE_ALL)
    mturk_production = models.BooleanField(
        default=False, help_text="Off: Mechanical Turk's sandbox. On: real workers and real money."
    )
    min_approval_rate = models.PositiveSmallIntegerField(
        default=95, help_text="MTurk: approval rate at least this (%)."
    )
    min_approved_hits = models.PositiveIntegerField(default=100, help_text="MTurk: at least this many approved HITs.")
    locales = models.JSONField(
        default=_english_speaking, blank=True, help_text="MTurk: worker countries (ISO codes); empty for any."
    )
    budget_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most this study may spend (rewards plus fees); empty for no limit."
    )
    academic = models.BooleanField(
        default=True, help_text="Prolific: academic/non-profit fee (33.3%) rather than 42.8%."
    )
    qualification_type_id = models.CharField(max_length=64, blank=True, help_text="MTurk 'took part already' type.")
    open_entry = models.BooleanField(
        default=False,
        help_text="Plain links: anyone with the survey's address may take part, each taking one of the listed "
        "places. Off: only the listed links admit.",
    )
    completion_redirect_url = models.URLField(
        blank=True, help_text="Plain links: where a participant goes after the last question (empty: show the code)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name
