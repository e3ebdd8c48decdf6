"""Do other networks recognise an IRI? (Feather et al. 2023's cross-model test, in the form that
needs no class labels.)

A classifier *recognises* an IRI when its top-1 class for the IRI is its top-1 class for the
IRI's target: the IRI carries what that classifier reads from the target. The same test on the
IRI's seed is the floor (what noise shares with the target by chance). Every classifier is read
at its own input size, normalising inside (as ``science.networks.LayerRepresentation`` does),
so one matrix sets each inverted network's IRIs against every classifier's reading.

Plain PyTorch/NumPy, no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from science.alignment import wilson_interval
from science.zoo import embed


@dataclass(frozen=True)
class Recognition:
    """One classifier's reading of one set of IRIs: how many of ``n`` it recognised, how many of
    their seeds it gave the target's class (the floor), and 95% Wilson intervals."""

    n: int
    recognised: int
    seeds_recognised: int

    @property
    def rate(self) -> float:
        return self.recognised / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.recognised, self.n)

    @property
    def seed_rate(self) -> float:
        return self.seeds_recognised / self.n if self.n else float("nan")


def top1(
    classifier: nn.Module, images: Tensor, *, input_size: int, device: torch.device | str, batch_size: int = 32
) -> np.ndarray:
    """The classifier's top-1 class of each image (N×3×H×W, pixels in [0, 1], resized to
    ``input_size`` square): an N int64 array."""
    logits = embed(classifier, images, input_size=input_size, device=device, batch_size=batch_size)
    return logits.argmax(axis=1)


def recognise(
    classifier: nn.Module,
    *,
    targets: Tensor,
    iris: Tensor,
    seeds: Tensor,
    input_size: int,
    device: torch.device | str,
) -> Recognition:
    """``classifier``'s recognition of ``iris`` (row i made towards ``targets[i]`` from
    ``seeds[i]``; all N×3×H×W in [0, 1])."""
    if not (len(targets) == len(iris) == len(seeds)):
        raise ValueError(f"one target and one seed per IRI: {len(targets)}, {len(iris)}, {len(seeds)}")
    classes = top1(classifier, torch.cat([targets, iris, seeds]), input_size=input_size, device=device)
    target, iri, seed = np.split(classes, 3)
    return Recognition(n=len(iris), recognised=int((iri == target).sum()), seeds_recognised=int((seed == target).sum()))
