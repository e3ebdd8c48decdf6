"""Registering a network and a layer: lists from a child process, the check in the background."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django import forms
from django.contrib import admin
from django.http import JsonResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from inversion import services
from inversion.models import (
    ModelSpec,
)
from inversion.selectors import architecture_choices, architecture_layers
from metamer.admin import (
    CreatedByServiceAdmin,
    RefreshWhileRunning,
    SaysWhatComesNext,
    check_in_form,
)
from metamer.kept import KeepsUploads


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
            self.fields["fake_relu_rule"].required = False  # empty: the layer's last ReLU
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
            "fake_relu_rule",
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
        "fake_relu_rule": data.get("fake_relu_rule") or "last",
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
class ModelSpecAdmin(SaysWhatComesNext, RefreshWhileRunning, CreatedByServiceAdmin):
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
