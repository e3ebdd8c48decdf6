"""The reports built from a study."""

from __future__ import annotations

from django.db import models

from surveys.models import Study


class Report(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reports")
    html = models.FileField(upload_to="reports/")
    csv = models.FileField(upload_to="reports/", help_text="Every judgement, one row each.")
    summary_csv = models.FileField(upload_to="reports/", help_text="Per condition and survey kind.")
    triplets_csv = models.FileField(
        upload_to="reports/",
        blank=True,
        help_text="Every judgement as triplets (reference, closer, farther) by worker.",
    )
    summary = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"report {self.pk} on {self.study}"
