"""Which networks an alignment run embeds: built-ins, registered model specs and their layers,
checked once per process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from django.conf import settings

from analysis.config import AlignmentConfig
from inversion.models import ModelSpec
from inversion.selectors import model_spec_network
from metamer.errors import MetamerError
from science.networks import (
    BUILTINS,
    LayerRepresentation,
    NetworkError,
    build_network,
    default_layer,
    has_classifier_head,
    layer_names,
    layer_role,
)

DEFAULT_INPUT_SIZE = 224
"""The input side of built-ins (ImageNet networks)."""


@dataclass(frozen=True)
class ZooModel:
    """One model of a benchmark, resolved and checked: where its weights come from, the layer
    read, the input size, and ``key``, which names its weights for the embedding cache."""

    name: str
    layer: str
    input_size: int
    key: str
    twin_of: str | None = None
    spec_id: int | None = None
    imagenet_top1: float | None = None
    layer_shown: str = ""
    """The layer as the network's library names it (``features.12`` for AlexNet's pool5)."""
    layer_role: str = ""
    """What the layer is, in words ("penultimate: the classifier head's input", …)."""

    def representation(self) -> LayerRepresentation:
        """``g``: pixels in [0, 1] → the layer's activation (normalisation inside)."""
        if self.spec_id is None:
            builtin = BUILTINS[self.name]
            net = build_network("builtin", self.name, cache_dir=settings.METAMER_CACHE_DIR)
            return LayerRepresentation(net, self.layer, builtin.mean, builtin.std)
        spec = ModelSpec.objects.get(pk=self.spec_id)
        return LayerRepresentation(model_spec_network(spec), self.layer, spec.mean, spec.std)


def _checked_layer(name: str, names: Sequence[str], layer: str, default: str, within: str = "") -> str:
    chosen = (layer.removeprefix(f"{within}.") if within else layer) or default
    if chosen not in names:
        shown = ", ".join(names[1:31]) + (f", … ({len(names) - 1} in all)" if len(names) > 31 else "")
        raise MetamerError(f"{name} has no layer {chosen!r}; its layers: {shown}", field="layer")
    return chosen


_LAYERS: dict[str, tuple[tuple[str, ...], str, bool]] = {}
"""Each network's layer names, default layer and whether it has a classifier head, by ``ZooModel.key`` (which names its weights):
checking a run's models builds each network once per process, not on every check (each admin
form and API call that creates a run checks all of its models)."""


def _layers(key: str, build: Callable[[], torch.nn.Module]) -> tuple[tuple[str, ...], str, bool]:
    known = _LAYERS.get(key)
    if known is None:
        net = build()
        known = _LAYERS[key] = (tuple(layer_names(net)), default_layer(net), has_classifier_head(net))
    return known


def zoo_models_check(*, config: AlignmentConfig) -> list[ZooModel]:
    """Resolve the run's models (built-ins, then registered specs by name) and their layers;
    an unknown model or layer is refused naming the valid ones, before any work."""
    specs = {s.name: s for s in ModelSpec.objects.filter(name__in=config.models)}
    unknown = [m for m in config.models if m not in BUILTINS and m not in specs]
    if unknown:
        registered = list(ModelSpec.objects.order_by("name").values_list("name", flat=True)[:50])
        raise MetamerError(
            f"unknown model {', '.join(map(repr, unknown))}; built-ins: {', '.join(BUILTINS)}"
            + (f"; registered: {', '.join(registered)}" if registered else "; no model specs are registered"),
            field="models",
        )
    return [_resolve(name, config.layer, specs.get(name)) for name in config.models]


def _resolve(name: str, layer: str, spec: ModelSpec | None) -> ZooModel:
    if spec is None:
        key = f"builtin:{name}"
        builtin = BUILTINS[name]
        names, default, head = _layers(
            key, lambda: build_network("builtin", name, cache_dir=settings.METAMER_CACHE_DIR)
        )
        chosen = _checked_layer(name, names, layer, default, builtin.within)
        return ZooModel(
            name,
            chosen,
            DEFAULT_INPUT_SIZE,
            key,
            twin_of=builtin.twin_of,
            layer_shown=builtin.layer_shown(chosen),
            layer_role=layer_role(names, chosen, head),
        )
    checkpoint = spec.checkpoint.name if spec.checkpoint else ""
    key = f"spec:{spec.pk}:{spec.source}:{spec.architecture}:{checkpoint}:{spec.cifar_stem}:{spec.mean}:{spec.std}"
    try:
        names, _, head = _layers(key, lambda: model_spec_network(spec))
    except (NetworkError, FileNotFoundError) as exc:
        raise MetamerError(f"{name}: {exc}", field="models") from None
    chosen = _checked_layer(name, names, layer, spec.layer)
    return ZooModel(
        name,
        chosen,
        spec.input_size,
        key,
        spec_id=spec.pk,
        imagenet_top1=spec.imagenet_top1,
        layer_shown=chosen,
        layer_role=layer_role(names, chosen, head),
    )
