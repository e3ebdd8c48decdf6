"""Simulated-human judgements and the reports built from a study."""

from __future__ import annotations

from django.db import models

from inversion.models import IRI
from surveys.models import Study


class LpipsJudgement(models.Model):
    """LPIPS 2AFC for one IRI and one variant: aligned when ``d(xr, xt) <= d(xr, x0)``."""

    iri = models.ForeignKey(IRI, on_delete=models.CASCADE, related_name="lpips_judgements")
    variant = models.CharField(max_length=10)
    d_target = models.FloatField()
    d_seed = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["iri", "variant"], name="one_judgement_per_variant")]

    def __str__(self) -> str:
        return f"{self.variant} on IRI {self.iri_id}: {'aligned' if self.aligned else 'not aligned'}"

    @property
    def aligned(self) -> bool:
        # The authors' code counts ties as aligned.
        return self.d_target <= self.d_seed

    @property
    def margin(self) -> float:
        return self.d_seed - self.d_target


class TrialLpipsChoice(models.Model):
    """What an LPIPS variant answers on a trial, stored beside the people's answers.

    ``choice`` has the shape of an answer (2AFC: option index; clustering: a column per row);
    ``margin`` is how clear it was: the other distance minus the chosen one (per row)."""

    trial = models.ForeignKey("surveys.Trial", on_delete=models.CASCADE, related_name="lpips_choices")
    variant = models.CharField(max_length=10)
    choice = models.JSONField()
    margin = models.JSONField()
    distances = models.JSONField(help_text="Per query/row: its LPIPS distance to each option/column.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trial", "variant"], name="one_choice_per_variant")]

    def __str__(self) -> str:
        return f"{self.variant} on {self.trial}: {self.choice}"


class Report(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reports")
    html = models.FileField(upload_to="reports/")
    csv = models.FileField(upload_to="reports/", help_text="Every judgement, one row each.")
    summary_csv = models.FileField(upload_to="reports/", help_text="Per condition and survey kind.")
    summary = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"report {self.pk} on {self.study}"
