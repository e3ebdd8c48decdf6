import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.http import JsonResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from inversion import services
from inversion.config import InversionConfig
from inversion.forms import SETTINGS, InversionJobForm, setting_fieldsets
from inversion.models import (
    IRI,
    NOISE_LAWS,
    InversionJob,
    LpipsJudgement,
    ModelSpec,
    Stimulus,
    Target,
    TargetSet,
)
from inversion.selectors import architecture_choices, architecture_layers, job_convergence, job_progress
from metamer.admin import (
    CreatedByServiceAdmin,
    ReadOnlyInline,
    RecordedOnly,
    RefreshWhileRunning,
    act_on_each,
    check_in_form,
)
from metamer.kept import KeepsUploads


def thumbnail(stimulus: Stimulus | None, size: int = 64) -> str:
    if stimulus is None:
        return "–"
    return format_html(
        '<img src="{}" width="{}" height="{}" style="image-rendering: pixelated" alt="{}">',
        stimulus.image.url,
        size,
        size,
        stimulus.role,
    )


@admin.register(Stimulus)
class StimulusAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["id", "preview", "role", "width", "height", "sha256", "created_at"]
    list_filter = ["role"]
    readonly_fields = ["preview", "sha256", "width", "height"]

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj)


class ListedTextInput(forms.TextInput):
    """Free text with the browser's list of suggestions (a ``<datalist>``): long lists of valid
    names (timm's ~1,300 architectures) that can still be typed and filtered."""

    def __init__(self, list_id: str, options: list[str] | None = None, attrs=None):
        super().__init__({**(attrs or {}), "list": list_id, "autocomplete": "off"})
        self.list_id, self.options = list_id, options or []

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((o,) for o in self.options))
        return format_html('{}<datalist id="{}">{}</datalist>', field, self.list_id, options)


class ChannelsField(forms.JSONField):
    """Three per-channel numbers as JSON on one line; empty (shown as the placeholder) when unset."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput({"size": 30, "placeholder": "[0.485, 0.456, 0.406]"}))
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return "" if value in (None, [], "") else super().prepare_value(value)


class ModelSpecForm(KeepsUploads, forms.ModelForm):
    kept_uploads = ("checkpoint",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "architecture" in self.fields:  # a registered spec shows its fields read-only
            names = architecture_choices()
            self.fields["architecture"].widget = ListedTextInput(
                "architectures", [n for source in names.values() for n in source], {"size": 40}
            )
            self.fields["architecture"].help_text = (
                "Built-in: " + ", ".join(names[ModelSpec.Source.BUILTIN]) + ". Or any torchvision or timm "
                "architecture (type to filter the list), with its checkpoint."
            )
            self.fields["layer"].widget = ListedTextInput("layer-names", attrs={"size": 40})
            for channels in ("mean", "std"):  # three numbers on a line, empty by default (not "[]")
                self.fields[channels] = ChannelsField(
                    label=channels.capitalize(), help_text=ModelSpec._meta.get_field(channels).help_text
                )
            self.fields["layer"].help_text = (
                "A graph node name; the list shows the architecture's layers once one is chosen. "
                "Empty: the classifier head's input where there is one (penultimate), else the last layer."
            )

    class Media:
        js = ["inversion/modelspec.js"]

    class Meta:
        model = ModelSpec
        fields = [
            "name",
            "source",
            "architecture",
            "checkpoint",
            "cifar_stem",
            "layer",
            "fake_relu",
            "input_size",
            "mean",
            "std",
            "imagenet_top1",
        ]

    def clean(self):
        data = super().clean()
        if not self.errors and not self.instance.pk:
            # What needs no network; the network itself is built and run in the background.
            check_in_form(self, services.model_spec_check_settings, **_spec_fields(data, None))
        return data


def _spec_fields(data: dict, checkpoint: Path | None) -> dict:
    return {
        "name": data["name"],
        "source": data["source"],
        "architecture": data["architecture"],
        "layer": data.get("layer", ""),
        "checkpoint": checkpoint,
        "input_size": data.get("input_size"),
        "mean": data.get("mean") or None,
        "std": data.get("std") or None,
        "cifar_stem": data.get("cifar_stem", False),
        "fake_relu": data.get("fake_relu", False),
        "imagenet_top1": data.get("imagenet_top1"),
    }


@contextmanager
def _uploaded_path(upload) -> Iterator[Path | None]:
    """An uploaded checkpoint as a file under its own name, removed afterwards."""
    if not upload:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        upload.seek(0)
        path.write_bytes(upload.read())
        yield path


@admin.register(ModelSpec)
class ModelSpecAdmin(RefreshWhileRunning, CreatedByServiceAdmin):
    form = ModelSpecForm

    def is_running(self, obj):
        return obj.status == ModelSpec.Status.CHECKING

    @admin.display(description="check")
    def check_state(self, obj):
        if obj.status == ModelSpec.Status.CHECKING:
            return "being checked: the network is built and run once on one image (seconds)"
        if obj.status == ModelSpec.Status.FAILED:
            return f"failed: {obj.message} (register it again with this fixed)"
        return "ready"

    def get_urls(self):
        layers = path("layers/", self.admin_site.admin_view(self.layers_view), name="inversion_modelspec_layers")
        return [layers, *super().get_urls()]

    def layers_view(self, request):
        """The layers of ``?source=&architecture=`` as JSON, for the registration form's list."""
        names, default = architecture_layers(request.GET.get("source", ""), request.GET.get("architecture", "")[:100])
        return JsonResponse({"layers": names, "default": default})

    list_display = ["name", "check_state", "source", "architecture", "layer", "input_size", "imagenet_top1"]
    search_fields = ["name", "architecture", "layer"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request, obj)
        return ["check_state", *self.get_readonly_fields(request, obj)]

    def get_readonly_fields(self, request, obj=None):
        # A spec that jobs point at must not change under them.
        hidden = {"id", "status", "message", "enqueued_at"}
        return ["check_state", *(f.name for f in ModelSpec._meta.fields if f.name not in hidden)] if obj else []

    def create(self, request, data):
        with _uploaded_path(data.get("checkpoint")) as checkpoint:
            return services.model_spec_register(**_spec_fields(data, checkpoint), in_background=True)


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
    n = forms.IntegerField(required=False, min_value=1, label="number of noise targets")
    raw = forms.BooleanField(
        required=False,
        label="raw noise targets (the paper's setting)",
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
class TargetSetAdmin(RefreshWhileRunning, CreatedByServiceAdmin):
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
        return services.target_set_create(**_target_set_fields(data))

    @admin.display(description="targets")
    def n_targets(self, obj):
        return obj.targets.count()


class IRIInline(ReadOnlyInline):
    model = IRI
    fields = [
        "target_preview",
        "seed_preview",
        "iri_preview",
        "rep_distance",
        "converged",
        "activation_rho",
        "beats_null",
        "best_step",
        "device",
    ]

    @admin.display(description="target")
    def target_preview(self, obj):
        return thumbnail(obj.target.stimulus, 48)

    @admin.display(description="seed")
    def seed_preview(self, obj):
        return thumbnail(obj.seed, 48)

    @admin.display(description="IRI")
    def iri_preview(self, obj):
        return thumbnail(obj.stimulus, 48)


@admin.register(InversionJob)
class InversionJobAdmin(RefreshWhileRunning, CreatedByServiceAdmin):
    form = InversionJobForm
    list_display = ["id", "model_spec", "target_set", "status", "progress", "converged", "device", "created_at"]
    list_filter = ["status", "model_spec"]
    inlines = [IRIInline]
    actions = ["cancel", "resume"]

    def is_running(self, obj):
        return obj.status in (InversionJob.Status.QUEUED, InversionJob.Status.RUNNING)

    def has_change_permission(self, request, obj=None):
        # A finished job is a record: its page is for reading (its IRIs, its convergence).
        if obj is not None and obj.status in (InversionJob.Status.DONE, InversionJob.Status.CANCELLED):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # What a job made stays as made: only a job with no IRIs yet may be deleted.
        if obj is not None and obj.iris.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["model_spec", "target_set", "preset", *(f.name for f in SETTINGS)]
        return self.get_readonly_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["model_spec", "target_set", "preset"]}), *setting_fieldsets()]
        return super().get_fieldsets(request, obj)

    @admin.display(description="progress")
    def progress(self, obj):
        p = job_progress(obj)
        eta = f", ETA {p['eta_seconds']:.0f} s" if p["eta_seconds"] else ""
        stalled = "; stalled: its worker went silent, resume it" if p["stalled"] else ""
        stalled += f"; waiting: {p['waiting']}" if p["waiting"] else ""
        return format_html(
            '<progress value="{}" max="100" style="width: 8em; vertical-align: middle"></progress> {}',
            round(p["percent"], 1),
            f"{p['done']}/{p['total']} IRIs stored ({p['percent']:.0f}% of the steps{eta}){stalled}",
        )

    def get_queryset(self, request):
        # One query for the list's "converged" column instead of two per job.
        return (
            super()
            .get_queryset(request)
            .annotate(n_converged=Count("iris", filter=Q(iris__converged=True)), n_iris=Count("iris"))
        )

    @admin.display(description="converged")
    def converged(self, obj):
        return f"{obj.n_converged}/{obj.n_iris}"

    @admin.display(description="convergence")
    def convergence(self, obj):
        c = job_convergence(obj)
        if not c["stored"]:
            return "–"
        text = f"{c['converged']}/{c['stored']} under the threshold, median distance {c['median_distance']}"
        if c["tested_against_null"]:
            text += (
                f"; {c['beat_null']}/{c['tested_against_null']} beat the null (Feather et al.: activations' "
                "Spearman ρ with the target above every random pair of the target set's images)"
            )
        return f"{text}. {c['advice']}" if c["advice"] else text

    def get_readonly_fields(self, request, obj=None):
        return (
            [
                "model_spec",
                "target_set",
                "config",
                "status",
                "progress",
                "done",
                "total",
                "convergence",
                "device",
                "error",
                "started_at",
                "finished_at",
            ]
            if obj
            else []
        )

    def create(self, request, data):
        return services.inversion_job_create(
            model_spec=data["model_spec"],
            target_set=data["target_set"],
            config=InversionConfig.from_dict(data["config"]),
        )

    @admin.action(description="Cancel the selected jobs")
    def cancel(self, request, queryset):
        act_on_each(self, request, queryset, lambda job: services.inversion_job_cancel(job=job))

    @admin.action(description="Resume the selected failed or stalled jobs where they stopped")
    def resume(self, request, queryset):
        act_on_each(
            self,
            request,
            queryset,
            lambda job: services.inversion_job_resume(job=job),
            done=lambda job: f"job {job.pk}: queued again; {job.done} of {job.total} IRIs kept",
        )


@admin.register(IRI)
class IRIAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["id", "iri_preview", "job", "target", "seed_index", "rep_distance", "converged"]
    list_filter = ["converged", "job__model_spec"]

    @admin.display(description="IRI")
    def iri_preview(self, obj):
        return thumbnail(obj.stimulus, 48)


@admin.register(LpipsJudgement)
class LpipsJudgementAdmin(RecordedOnly, admin.ModelAdmin):
    list_display = ["iri", "variant", "d_target", "d_seed", "aligned"]
    list_filter = ["variant", "iri__job__model_spec"]

    @admin.display(boolean=True)
    def aligned(self, obj):
        return obj.aligned
