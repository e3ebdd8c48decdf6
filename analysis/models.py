"""The reports built from a study."""

from __future__ import annotations

from django.db import models

from surveys.models import Study


class Report(models.Model):
    """A study's results at one moment, as files; built by a worker (``status``)."""

    class Status(models.TextChoices):
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="reports")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.READY)
    message = models.TextField(blank=True, help_text="Why the build failed.")
    enqueued_at = models.DateTimeField(null=True, blank=True, help_text="When the task queue took the build.")
    html = models.FileField(upload_to="reports/", blank=True)
    csv = models.FileField(upload_to="reports/", blank=True, help_text="Every judgement, one row each.")
    summary_csv = models.FileField(upload_to="reports/", blank=True, help_text="Per condition and survey kind.")
    triplets_csv = models.FileField(
        upload_to="reports/",
        blank=True,
        help_text="Every judgement as triplets (reference, closer, farther) by worker.",
    )
    workers_csv = models.FileField(
        upload_to="reports/",
        blank=True,
        help_text="One row per worker: status, time, attention checks, alignment, excluded and why, exit answers.",
    )
    audit_csv = models.FileField(
        upload_to="reports/",
        blank=True,
        help_text="The audit log: every later decision (exclusions, approvals, flags, bonuses), who took it and why.",
    )
    codebook = models.FileField(upload_to="reports/", blank=True, help_text="What every CSV column means.")
    summary_json = models.FileField(upload_to="reports/", blank=True, help_text="The summary as JSON.")
    summary = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"report {self.pk} on {self.study}"


class AlignmentRun(models.Model):
    """Many models' alignment with one set of human similarity data (and, with a labelled
    image set, their few-shot probes): one row per model in ``results``, and the files a
    researcher publishes from (``alignment.csv``, the models' matrices, the report)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=100, blank=True)
    human = models.ForeignKey(
        "surveys.SimilarityData",
        on_delete=models.PROTECT,
        related_name="alignment_runs",
        verbose_name="human similarity data",
    )
    probe_set = models.ForeignKey(
        "inversion.TargetSet",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A labelled image set (class folders) for few-shot probes; optional.",
    )
    config = models.JSONField(default=dict, help_text="The run's settings (analysis.config.AlignmentConfig).")
    resolved_models = models.JSONField(
        default=list, blank=True, help_text="Each model as resolved at creation: name, layer, input size, weights."
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    progress = models.JSONField(default=dict, blank=True, help_text="Models embedded so far, of all.")
    results = models.JSONField(default=dict, blank=True)
    csv = models.FileField(upload_to="alignment/", blank=True, help_text="alignment.csv: one row per model.")
    rdms = models.FileField(upload_to="alignment/", blank=True, help_text="The models' matrices (.npz).")
    report = models.FileField(upload_to="alignment/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name or f"alignment run {self.pk}"
