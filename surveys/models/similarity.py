"""People's similarity judgements over an image set, imported or collected."""

from __future__ import annotations

from django.db import models


class SimilarityData(models.Model):
    """People's similarity judgements over an image set, in one of two forms: dissimilarity
    matrices (one per person, or one averaged) or triplets ``(i, j, k, choice)``; imported from
    published data or collected here. The arrays live in ``data`` (a NumPy ``.npz``)."""

    class Kind(models.TextChoices):
        MATRICES = "matrices", "Dissimilarity matrices (one per person, or averaged)"
        TRIPLETS = "triplets", "Triplets (i, j, k, choice)"

    name = models.CharField(max_length=100, unique=True)
    image_set = models.ForeignKey(
        "inversion.TargetSet", on_delete=models.PROTECT, related_name="similarity_data", help_text="In its order."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=300, blank=True, help_text="Where the data came from (cite it).")
    data = models.FileField(upload_to="similarity/")
    n_items = models.PositiveIntegerField("images")
    n_people = models.PositiveIntegerField(
        "people", help_text="Matrices or distinct workers; 1 for an averaged matrix."
    )
    n_judgements = models.PositiveIntegerField("judgements", help_text="Pairs per matrix times matrices, or triplets.")
    reliability = models.JSONField(
        default=dict,
        blank=True,
        help_text="Split-half r across people (Spearman–Brown corrected), its 95% range, and the noise ceiling.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "human similarity data"
        verbose_name_plural = "human similarity data"

    def __str__(self) -> str:
        return self.name
