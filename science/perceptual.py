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
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TypeVar

import lpips
import numpy as np
import torch

from science.backbones import converted_weights, load_convs
from science.images import read_image
from science.lpips_variants import RANDOM_LINEAR, check_variant, variant_backbone


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
    # Convolutions run faster on this layout on CPU (measured: VGG16 110 → 137 GFLOP/s on 2 cores).
    model.net.to(memory_format=torch.channels_last)
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


IMAGES_PER_PASS = 8
"""Images sent through a backbone at once: on 2 cores VGG16 runs fastest (per image) in small
batches, and a pass's activations stay small."""


def _features(model: lpips.LPIPS, images: torch.Tensor) -> list[torch.Tensor]:
    """The unit-normalised backbone features LPIPS compares, of images in [0, 1] (N×3×H×W)."""
    with torch.inference_mode():
        # What ``normalize=True`` does in lpips' own forward: [0, 1] to the [-1, 1] it expects.
        x = (images * 2 - 1).contiguous(memory_format=torch.channels_last)
        x = model.scaling_layer(x) if model.version == "0.1" else x
        return [lpips.normalize_tensor(f) for f in model.net(x)]


def _distances(models: Sequence[lpips.LPIPS], first: list[torch.Tensor], second: list[torch.Tensor]) -> torch.Tensor:
    """LPIPS between paired features (``_features`` of two batches of one length) under each of
    ``models`` (variants on one backbone), as models × pairs. Each squared difference is taken
    once for all the variants: it is most of the work after the backbone."""
    with torch.inference_mode():
        total = torch.zeros(len(models), len(first[0]), device=first[0].device)
        for layer, (a, b) in enumerate(zip(first, second, strict=True)):
            diff = (a - b) ** 2
            for n, model in enumerate(models):
                weighted = model.lins[layer](diff) if model.lpips else diff.sum(dim=1, keepdim=True)
                total[n] += lpips.spatial_average(weighted, keepdim=True).flatten()
    return total


Key = TypeVar("Key", bound=Hashable)


def lpips_pair_distances(
    load: Callable[[Key], torch.Tensor],
    pairs: Sequence[tuple[Key, Key]],
    variants: Sequence[str],
    *,
    cache_dir: Path | None = None,
    device: torch.device | str = "cpu",
    images_per_pass: int = IMAGES_PER_PASS,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[float]]:
    """Each variant's LPIPS distance for each pair of images named by keys (``load(key)``: a
    3×H×W image in [0, 1]; the two images of a pair have one size). A key paired with itself is 0.

    Variants on one backbone share its features, so each image goes through each backbone
    once, ``images_per_pass`` at a time, and its features are kept only until its last pair is
    scored: give the pairs in an order that keeps each image's pairs close (trial by trial).
    ``on_progress(done, total)`` counts images through backbones."""
    scored = [i for i, (a, b) in enumerate(pairs) if a != b]
    passes = _passes([pairs[i] for i in scored], images_per_pass)
    by_backbone: dict[str, list[str]] = {}
    for variant in variants:
        by_backbone.setdefault(variant_backbone(variant), []).append(variant)
    result = {variant: [0.0] * len(pairs) for variant in variants}
    total = sum(len(new) for new, _ in passes) * len(by_backbone)
    done = 0
    for names in by_backbone.values():
        models = [load_lpips(name, device=device, cache_dir=cache_dir) for name in names]
        uses = Counter(key for i in scored for key in pairs[i])
        features: dict[Key, list[torch.Tensor]] = {}
        for new, members in passes:
            for keys in _same_size(new, load, device):
                batch = _features(models[0], torch.stack([image for _, image in keys]))
                # Cloned, so that a kept image does not keep its whole pass alive.
                features.update({key: [f[n].clone() for f in batch] for n, (key, _) in enumerate(keys)})
            done += len(new)
            if on_progress is not None:
                on_progress(done, total)
            indices = [scored[m] for m in members]
            for i in indices:
                # Pair by pair: stacking the pairs' features would copy them all once more.
                a, b = ([f[None] for f in features[key]] for key in pairs[i])
                for name, value in zip(names, _distances(models, a, b)[:, 0].tolist(), strict=True):
                    result[name][i] = value
                for key in pairs[i]:
                    uses[key] -= 1
                    if not uses[key]:
                        del features[key]
    return result


def _passes(pairs: list[tuple[Key, Key]], size: int) -> list[tuple[list[Key], list[int]]]:
    """Pairs (in their order) in passes that each bring at most ``size`` new images: each pass's
    new images and the pairs it can score (those whose images have all come)."""
    passes: list[tuple[list[Key], list[int]]] = []
    seen: set[Key] = set()
    new: list[Key] = []
    members: list[int] = []
    for index, pair in enumerate(pairs):
        arriving = [key for key in dict.fromkeys(pair) if key not in seen]
        if new and len(new) + len(arriving) > size:
            passes.append((new, members))
            new, members = [], []
        new += arriving
        seen.update(arriving)
        members.append(index)
    if members:
        passes.append((new, members))
    return passes


def _same_size(keys: list[Key], load: Callable[[Key], torch.Tensor], device: torch.device | str):
    """The images of ``keys`` loaded, in groups of one size (a batch must be)."""
    groups: dict[tuple[int, ...], list[tuple[Key, torch.Tensor]]] = {}
    for key in keys:
        image = load(key).to(device)
        groups.setdefault(tuple(image.shape), []).append((key, image))
    return list(groups.values())


def pairwise_lpips(paths: list[str | Path], variant: str = "alex-lin", *, cache_dir: Path | None = None) -> np.ndarray:
    """LPIPS distances between every pair of images (same size), as an n×n matrix."""
    rows, cols = np.triu_indices(len(paths), k=1)
    pairs = list(zip(rows.tolist(), cols.tolist(), strict=True))
    values = lpips_pair_distances(lambda n: read_image(paths[n])[0], pairs, [variant], cache_dir=cache_dir)[variant]
    distances = np.zeros((len(paths), len(paths)))
    distances[rows, cols] = distances[cols, rows] = values
    return distances
