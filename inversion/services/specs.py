"""Registering a network and one of its layers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from django.conf import settings
from django.core.files.base import ContentFile

from inversion.models import ModelSpec
from metamer.errors import MetamerError
from science.networks import (
    BUILTINS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LayerRepresentation,
    NetworkError,
    build_network,
    default_layer,
    layer_names,
)


@dataclass(frozen=True)
class CheckedSpec:
    """What registration will store: the layer resolved (the penultimate when none was named)."""

    layer: str
    input_size: int
    mean: list[float]
    std: list[float]


def model_spec_check(
    *,
    name: str,
    source: str = ModelSpec.Source.BUILTIN,
    architecture: str,
    layer: str = "",
    checkpoint: Path | None = None,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    cifar_stem: bool = False,
    fake_relu: bool = False,
) -> CheckedSpec:
    """Say what is wrong with a registration, storing nothing: the name is free, the network
    builds (with its checkpoint) and the layer exists."""
    if ModelSpec.objects.filter(name=name).exists():
        raise MetamerError(f"a model spec named {name!r} exists already; pick another name", field="name")
    try:
        net = build_network(
            source, architecture, checkpoint, cifar_stem=cifar_stem, cache_dir=settings.METAMER_CACHE_DIR
        )
    except NetworkError as exc:
        raise MetamerError(str(exc), field="checkpoint" if checkpoint else "architecture") from None
    layer = layer or default_layer(net)
    if layer not in layer_names(net):
        raise MetamerError(f"no layer named {layer!r}; choose one of: {', '.join(layer_names(net)[1:])}", field="layer")
    if fake_relu:
        try:
            LayerRepresentation(net, layer, IMAGENET_MEAN, IMAGENET_STD, optimize=False, fake_relu=True)
        except NetworkError as exc:
            raise MetamerError(str(exc), field="fake_relu") from None
    for label, values in (("mean", mean), ("std", std)):
        if values and len(values) != 3:
            raise MetamerError(f"{label} needs one value per colour channel (3), got {len(values)}", field=label)
    builtin = BUILTINS.get(architecture) if source == ModelSpec.Source.BUILTIN else None
    checked = CheckedSpec(
        layer=layer,
        input_size=input_size or (32 if cifar_stem else 224),
        mean=list(mean or (builtin.mean if builtin else IMAGENET_MEAN)),
        std=list(std or (builtin.std if builtin else IMAGENET_STD)),
    )
    # Run with the normalisation the spec will store, so what is checked is what jobs will use.
    _check_runs(net, layer, checked.input_size, checked.mean, checked.std)
    return checked


MAX_REPRESENTATION = 50_000_000


def _check_runs(net, layer: str, size: int, mean, std) -> None:
    """Run the representation once on a dummy image, so a network that fails, or answers
    with something other than a tensor of a sane size, is refused at registration, not at job
    time."""
    try:
        g = LayerRepresentation(net, layer, mean, std, optimize=False)
        with torch.no_grad():
            out = g(torch.full((1, 3, size, size), 0.5))
    except Exception as exc:
        raise MetamerError(
            f"the network fails on a {size}×{size} image at layer {layer!r}: {type(exc).__name__}: {exc}"[:500],
            field="layer",
        ) from None
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise MetamerError(
            f"layer {layer!r} gives {type(out).__name__}, not a tensor of numbers: choose a layer that outputs one",
            field="layer",
        )
    if out.numel() > MAX_REPRESENTATION or not torch.isfinite(out).all():
        raise MetamerError(
            f"layer {layer!r} gives {out.numel():,} values or non-finite ones: choose another", field="layer"
        )


def model_spec_register(
    *,
    name: str,
    source: str = ModelSpec.Source.BUILTIN,
    architecture: str,
    layer: str = "",
    checkpoint: Path | None = None,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    cifar_stem: bool = False,
    fake_relu: bool = False,
) -> ModelSpec:
    """Register a network + layer once ``model_spec_check`` passes: checked now, never at job time."""
    checked = model_spec_check(
        name=name,
        source=source,
        architecture=architecture,
        layer=layer,
        checkpoint=checkpoint,
        input_size=input_size,
        mean=mean,
        std=std,
        cifar_stem=cifar_stem,
        fake_relu=fake_relu,
    )
    spec = ModelSpec(
        name=name,
        source=source,
        architecture=architecture,
        layer=checked.layer,
        cifar_stem=cifar_stem,
        fake_relu=fake_relu,
        input_size=checked.input_size,
        mean=checked.mean,
        std=checked.std,
    )
    if checkpoint is not None:
        spec.checkpoint.save(Path(checkpoint).name, ContentFile(Path(checkpoint).read_bytes()), save=False)
    spec.full_clean()
    spec.save()
    return spec
