"""Target sets: uploaded images or noise, at the input size of the network they are for."""

from django import forms
from django.contrib import admin

from inversion import services
from inversion.admin.stimuli import thumbnail
from inversion.models import (
    NOISE_LAWS,
    ModelSpec,
    Target,
    TargetSet,
)
from metamer.admin import (
    CreatedByServiceAdmin,
    ReadOnlyInline,
    RefreshWhileRunning,
    SaysWhatComesNext,
    check_in_form,
)
from metamer.kept import KeepsUploads


class TargetInline(ReadOnlyInline):
    model = Target
    fields = ["index", "label", "preview"]

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj.stimulus, 48)

    def has_add_permission(self, request, obj=None):
        return False


class TargetSetUploadForm(KeepsUploads, forms.ModelForm):
    """Images from an uploaded image or .zip/.tar archive (optionally a random sample), or noise,
    at the input size of the network they are for."""

    kept_uploads = ("archive",)
    network = forms.ModelChoiceField(
        queryset=ModelSpec.objects.exclude(status=ModelSpec.Status.FAILED).order_by("-created_at"),
        required=False,
        help_text="The network these targets are for: the images are made its input size.",
    )
    image_size = forms.IntegerField(
        required=False,
        min_value=8,
        max_value=1024,
        label="Image size",
        help_text="Side in pixels. Empty: the chosen network's input size (a job needs the two equal).",
    )
    archive = forms.FileField(
        required=False, help_text="An image, or a .zip/.tar of images (class folders give labels)."
    )
    sample = forms.IntegerField(required=False, min_value=1, help_text="Keep a random sample of this many images.")
    seed = forms.IntegerField(initial=0, help_text="Seed of the sample or of the noise (recorded).")
    noise_law = forms.ChoiceField(required=False, choices=[("", "—"), *((k, k) for k in NOISE_LAWS)])
    n = forms.IntegerField(required=False, min_value=1, label="Number of noise targets")
    raw = forms.BooleanField(
        required=False,
        label="Raw noise targets (the paper's setting)",
        help_text="Optimise towards the unclamped noise draw, as the authors' code does; people still see it "
        "clamped to [0, 1].",
    )

    class Meta:
        model = TargetSet
        fields = ["name", "network", "image_size"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        newest = self.fields["network"].queryset.first()
        if newest is not None:  # most sets are made for the network just registered
            self.fields["network"].initial = newest.pk
        self.fields["network"].label_from_instance = lambda spec: f"{spec.name} ({spec.input_size} px)"

    def clean(self):
        data = super().clean()
        if not self.errors:
            data["image_size"] = check_in_form(
                self, services.target_size_choose, image_size=data.get("image_size"), model_spec=data.get("network")
            )
            check_in_form(self, services.target_set_check, **_target_set_fields(data))
        return data


def _target_set_fields(data: dict) -> dict:
    return {
        "name": data["name"],
        "image_size": data["image_size"],
        "archive": data.get("archive"),
        "sample": data.get("sample"),
        "seed": data.get("seed") or 0,
        "noise_law": data.get("noise_law") or None,
        "n": data.get("n"),
        "raw": bool(data.get("raw")),
    }


@admin.register(TargetSet)
class TargetSetAdmin(SaysWhatComesNext, RefreshWhileRunning, CreatedByServiceAdmin):
    list_display = ["name", "kind", "image_size", "n_targets", "import_state", "source", "created_at"]
    inlines = [TargetInline]

    def is_running(self, obj):
        return obj.status == TargetSet.Status.IMPORTING

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TargetSetUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["kind", "source", "image_size", "resize_policy", "sample_seed", "import_state"] if obj else []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        hidden = {"status", "imported", "total", "message", "upload", "pending_files", "enqueued_at"}
        return [f for f in fields if f not in hidden]

    @admin.display(description="import")
    def import_state(self, obj):
        if obj.status == TargetSet.Status.IMPORTING:
            percent = 100 * obj.imported / obj.total if obj.total else 0
            return f"importing: {obj.imported}/{obj.total} images ({percent:.0f}%)"
        if obj.status == TargetSet.Status.FAILED:
            return f"failed: {obj.message}"
        return "ready"

    def create(self, request, data):
        return services.target_set_create(**_target_set_fields(data), in_background=True)

    @admin.display(description="targets")
    def n_targets(self, obj):
        return obj.targets.count()
