"""Human similarity data: imported or collected, read-only once stored."""

import base64
import io

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join

from inversion.admin import thumbnail
from metamer.admin import CreatedByServiceAdmin
from metamer.kept import KeepsUploads
from surveys import services
from surveys.models import (
    SimilarityData,
)
from surveys.selectors import (
    ceiling_sentence,
    similarity_group_matrix,
)


class SimilarityImportForm(KeepsUploads, forms.ModelForm):
    kept_uploads = ("file", "images")

    file = forms.FileField(
        help_text="Matrices: a .csv (one n×n matrix), .npy (n×n or people×n×n) or .mat (rsatoolbox's layout). "
        "Triplets: a .csv with a header row i,j,k,choice (1: i is closer to j) or i,j,k,chosen, and "
        "optionally worker. Indices and rows follow the image set's order."
    )
    variable = forms.CharField(required=False, help_text="The .mat variable, when the file holds several matrices.")
    similarities = forms.BooleanField(
        required=False, help_text="The matrices hold similarities (larger = more alike), not dissimilarities."
    )
    images = forms.FileField(
        required=False,
        help_text="Instead of an image set: the images the data are about, as a .zip or .tar, imported in the same "
        "step as an image set of this name. Rows, columns and indices follow their file names, sorted.",
    )
    image_size = forms.IntegerField(
        required=False,
        initial=224,
        min_value=8,
        max_value=1024,
        help_text="With images: the side they are resized to, in pixels (empty: 224).",
    )

    class Meta:
        model = SimilarityData
        fields = ["name", "image_set", "kind", "source"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["image_set"].required = False


@admin.register(SimilarityData)
class SimilarityDataAdmin(CreatedByServiceAdmin):
    list_display = ["name", "image_set", "kind", "n_items", "n_people", "n_judgements", "split_half", "ceiling"]
    list_filter = ["kind"]
    readonly_fields = ["split_half", "ceiling", "least_reliable_images", "group_matrix"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SimilarityImportForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "image_set", "images", "image_size", "kind", "file", "variable", "similarities", "source"]
        return ["name", "image_set", "kind", "source", "n_items", "n_people", "n_judgements", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["image_set", "kind", "n_items", "n_people", "n_judgements", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None):
        # Imported or collected judgements stay as recorded: analyses and reports cite them.
        return False

    def create(self, request, data):
        fields = ("name", "kind", "file", "image_set", "images", "image_size", "variable", "similarities", "source")
        return services.similarity_data_create(
            **{field: data[field] for field in fields} | {"image_size": data["image_size"] or 224}
        )

    @admin.display(description="split-half reliability")
    def split_half(self, obj):
        r = obj.reliability
        if not r:
            return "— (one matrix)" if obj.kind == SimilarityData.Kind.MATRICES else "— (one worker)"
        if obj.kind == SimilarityData.Kind.TRIPLETS:
            agreement = r.get("split_half_agreement")
            return "— (no triplet asked twice)" if agreement is None else f"halves agree on {agreement:.0%} of triplets"
        return (
            f"r = {r['split_half_r']:.2f} (Spearman–Brown {r['spearman_brown']:.2f}); "
            f"95% of splits {r['r_low']:.2f}–{r['r_high']:.2f}"
        )

    @admin.display(description="noise ceiling")
    def ceiling(self, obj):
        r = obj.reliability
        if not r:
            return "—"
        if obj.kind == SimilarityData.Kind.TRIPLETS:
            value = r.get("noise_ceiling")
            return "—" if value is None else f"{value:.0%} triplet agreement (leave one worker out)"
        return ceiling_sentence(r)

    @admin.display(description="the group's dissimilarities")
    def group_matrix(self, obj):
        from matplotlib.figure import Figure

        matrix = similarity_group_matrix(obj)
        fig = Figure(figsize=(4.2, 3.6))
        ax = fig.subplots()
        shown = ax.imshow(matrix, cmap="viridis", interpolation="nearest")
        fig.colorbar(shown, ax=ax, label="dissimilarity")
        ax.set_xlabel("image (index in the set)")
        ax.set_ylabel("image")
        ax.set_title("mean over people" if obj.kind == SimilarityData.Kind.MATRICES else "t-STE fit to the triplets")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return format_html(
            '<img alt="The group\'s dissimilarity matrix" src="data:image/png;base64,{}">',
            base64.b64encode(buffer.getvalue()).decode(),
        )

    @admin.display(description="least reliable images")
    def least_reliable_images(self, obj):
        per_item = obj.reliability.get("item_reliability") if obj.reliability else None
        if not per_item:
            return "—"
        targets = {t.index: t for t in obj.image_set.targets.select_related("stimulus")}
        worst = sorted(range(len(per_item)), key=lambda i: per_item[i])[:6]
        return format_html_join(
            " ",
            '<span style="display:inline-block;text-align:center;margin-right:6px">{}<br>#{} r={}</span>',
            ((thumbnail(targets[i].stimulus, 56), i, f"{per_item[i]:.2f}") for i in worst if i in targets),
        )
