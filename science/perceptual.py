"""LPIPS as a simulated human: four variants with real ImageNet backbones, offline.

Variants (SCIENCE.md §2): ``alex-lin`` and ``vgg-lin`` (v0.1 linear calibration) and
``alex`` and ``vgg`` (uncalibrated: unweighted feature distances, ``lpips=False``): the four
in ``VARIANTS``, used by default.

For reproducing the authors' notebook only, ``alex-randlin-<seed>`` and ``vgg-randlin-<seed>``
are its "uncalibrated" variants: ``lpips=True, pretrained=False``, i.e. linear layers drawn at
random (here from ``<seed>``, so a number can be reproduced; theirs were unseeded). Their
scores move with the seed; never a default.

Every function here takes images in [0, 1]; a model from ``load_lpips`` is called as
``model(a, b, normalize=True)``.
"""

from __future__ import annotations

import copy
import functools
import warnings
from pathlib import Path

import lpips
import numpy as np
import torch

from science.backbones import converted_weights, load_convs
from science.images import read_image
from science.lpips_variants import RANDOM_LINEAR, check_variant


@functools.cache
def _load_cpu(variant: str, cache_dir: Path | None) -> lpips.LPIPS:
    arch, linear = check_variant(variant)
    random_linear = RANDOM_LINEAR.match(variant)
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        # torchvision warns about the deprecated ``pretrained`` argument lpips still uses.
        warnings.simplefilter("ignore")
        if random_linear:
            # The random linear layers are drawn here, from the variant's seed.
            torch.manual_seed(int(random_linear.group(2)))
        model = lpips.LPIPS(net=arch, lpips=linear, pretrained=False, pnet_rand=True, verbose=False)
    weights = converted_weights(arch, cache_dir)
    load_convs(model.net, weights["convs"])
    if linear and not random_linear:
        with torch.no_grad():
            for lin, kernel in zip(model.lins, weights["lins"], strict=True):
                lin.model[-1].weight.copy_(kernel)
    return model.eval().requires_grad_(False)


def load_lpips(variant: str, *, device: torch.device | str = "cpu", cache_dir: Path | None = None) -> lpips.LPIPS:
    """A frozen LPIPS model, loaded once per variant and device. Call it as
    ``model(a, b, normalize=True)`` on images in [0, 1] (N×3×H×W each)."""
    return _load_on(variant, cache_dir, str(torch.device(device)))


@functools.cache
def _load_on(variant: str, cache_dir: Path | None, device: str) -> lpips.LPIPS:
    model = _load_cpu(variant, cache_dir)
    # The CPU copy is shared; another device gets a copy of its own.
    return model if device == "cpu" else copy.deepcopy(model).to(device)


def lpips_distance(
    a: torch.Tensor, b: torch.Tensor, variant: str = "alex-lin", *, cache_dir: Path | None = None
) -> torch.Tensor:
    """Per-image LPIPS distance between batches ``a`` and ``b`` of images in [0, 1] (N×3×H×W)."""
    model = load_lpips(variant, device=a.device, cache_dir=cache_dir)
    with torch.no_grad():
        return model(a, b, normalize=True).flatten()


def lpips_pairs(model: lpips.LPIPS, images: torch.Tensor, pairs: list[tuple[int, int]]) -> torch.Tensor:
    """LPIPS distance of each pair ``(i, j)`` of ``images`` (K×3×H×W in [0, 1]), each image's
    backbone features computed once however many pairs it is in. Equal to
    ``model(images[i], images[j], normalize=True)`` up to float rounding; ``model`` from
    ``load_lpips``."""
    if not pairs:
        return images.new_zeros(0)
    with torch.no_grad():
        # What ``normalize=True`` does in lpips' own forward: [0, 1] to the [-1, 1] it expects.
        x = images * 2 - 1
        x = model.scaling_layer(x) if model.version == "0.1" else x
        features = [lpips.normalize_tensor(f) for f in model.net(x)]
        first = torch.tensor([i for i, _ in pairs], device=images.device)
        second = torch.tensor([j for _, j in pairs], device=images.device)
        total = torch.zeros(len(pairs), device=images.device)
        for layer, f in enumerate(features):
            diff = (f[first] - f[second]) ** 2
            weighted = model.lins[layer](diff) if model.lpips else diff.sum(dim=1, keepdim=True)
            total += lpips.spatial_average(weighted, keepdim=True).flatten()
    return total


def pairwise_lpips(paths: list[str | Path], variant: str = "alex-lin", *, cache_dir: Path | None = None) -> np.ndarray:
    """LPIPS distances between every pair of images (same size), as an n×n matrix."""
    images = torch.cat([read_image(p) for p in paths])
    rows, cols = np.triu_indices(len(images), k=1)
    distances = np.zeros((len(images), len(images)))
    pairs = list(zip(rows.tolist(), cols.tolist(), strict=True))
    d = lpips_pairs(load_lpips(variant, cache_dir=cache_dir), images, pairs).numpy()
    distances[rows, cols] = distances[cols, rows] = d
    return distances
