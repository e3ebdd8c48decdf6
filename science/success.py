"""When is an IRI a metamer? Feather et al.'s test (2023; ``jenellefeather/model_metamers_pytorch``)
beside the relative-distance threshold: the Spearman correlation between the IRI's and its
target's activations at the layer inverted must beat a null distribution, the correlations
between the activations of random pairs of distinct natural images at that layer.

An IRI succeeds when its correlation is above every value of the null (``NULL_PAIRS`` pairs:
a chance of at most about 1 in 1,000 for an IRI no closer to its target than two unrelated
images are to each other). Plain torch and NumPy; no Django.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

NULL_PAIRS = 1000
"""Random image pairs in a null distribution."""


def rank_correlations(a: Tensor, b: Tensor) -> np.ndarray:
    """Spearman's ρ between each row of ``a`` and the same row of ``b`` (N×… activations, any
    shape after the first axis; flattened). Ties get the mean rank. Returns N floats."""
    from scipy import stats

    x = a.detach().flatten(1).double().cpu().numpy()
    y = b.detach().flatten(1).double().cpu().numpy()
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(axis=1) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))


def null_distribution(activations: Tensor, *, pairs: int = NULL_PAIRS, generator: torch.Generator) -> np.ndarray:
    """Spearman's ρ between the activations of ``pairs`` random pairs of distinct images
    (``activations``: one row per natural image, at least two), drawn with ``generator``."""
    n = len(activations)
    if n < 2:
        raise ValueError("a null distribution needs the activations of at least two images")
    first = torch.randint(0, n, (pairs,), generator=generator)
    second = (first + torch.randint(1, n, (pairs,), generator=generator)) % n  # never the same image
    values = rank_correlations(activations[first], activations[second])
    return values[np.isfinite(values)]


def beats_null(correlation: float, null: np.ndarray) -> bool:
    """Whether an IRI's correlation with its target is above every value of the null."""
    return bool(len(null)) and bool(np.isfinite(correlation)) and correlation > float(np.max(null))
