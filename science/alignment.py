"""Representational alignment measures (SCIENCE.md §3; Sucholutsky & Griffiths, ICML 2023).

Plain NumPy/SciPy on arrays, no Django. Every result is a float or carries ``.value``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    n: int
    """Triplets (or pairs) the value rests on."""
    exhaustive: bool = True


@dataclass(frozen=True)
class Correlation:
    value: float
    p_value: float
    n: int


def n_triplets(n: int) -> int:
    """Distinct triplets over ``n`` items: ``n(n-1)(n-2)/2`` (swapping j and k flips the answer)."""
    return n * (n - 1) * (n - 2) // 2


def _square(d: np.ndarray, name: str) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {d.shape}")
    return d


def triplet_alignment(
    d_a: np.ndarray, d_b: np.ndarray, samples: int | None = None, seed: int = 0, block: int = 32
) -> Estimate:
    """Share of triplets ``(i; j, k)`` that agents A and B answer alike: is ``i`` closer to ``j``
    than to ``k`` (``d[i, j] < d[i, k]``)? Inputs are dissimilarity matrices over the same items.
    A tie in one agent against a strict answer in the other counts half (whichever of j and k
    is named first); ties in both agree.

    ``samples=None`` is exhaustive over all ``n(n-1)(n-2)/2`` triplets, vectorised in blocks of
    anchors ``i`` (the interval is then the value itself). Otherwise ``samples`` triplets are
    drawn uniformly with ``seed`` and a Wilson 95% interval is given.
    """
    d_a, d_b = _square(d_a, "d_a"), _square(d_b, "d_b")
    if d_a.shape != d_b.shape:
        raise ValueError(f"the matrices cover different items: {d_a.shape} vs {d_b.shape}")
    n = d_a.shape[0]
    total = n_triplets(n)
    if total == 0:
        raise ValueError("triplets need at least 3 items")
    if samples is None:
        value = 1 - _ordered_disagreements(d_a, d_b, block) / 2 / total
        return Estimate(value, value, value, total, exhaustive=True)
    if samples < 1:
        raise ValueError("samples must be a positive number of triplets")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, samples)
    j = (i + rng.integers(1, n, samples)) % n  # j != i
    # k uniform over the n-2 items other than i and j: skip past them in increasing order.
    k = rng.integers(0, n - 2, samples)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    k = k + (k >= lo)
    k = k + (k >= hi)
    a_jk, a_kj = d_a[i, j] < d_a[i, k], d_a[i, k] < d_a[i, j]
    b_jk, b_kj = d_b[i, j] < d_b[i, k], d_b[i, k] < d_b[i, j]
    agree = float(np.sum(((a_jk == b_jk).astype(float) + (a_kj == b_kj)) / 2))
    low, high = wilson_interval(agree, samples)
    return Estimate(agree / samples, low, high, samples, exhaustive=False)


def _ordered_disagreements(d_a: np.ndarray, d_b: np.ndarray, block: int) -> int:
    """Disagreements over ordered pairs ``(j, k)``, ``j != k``, both other than the anchor.

    Counting both orders makes every unordered pair count twice (once for a tie against a
    strict answer), which needs no triangle mask: the diagonal ``j == k`` never disagrees, and
    the pairs that contain the anchor are taken off afterwards, as vectors.
    """
    n = d_a.shape[0]
    disagree = 0
    for start in range(0, n, block):
        rows_a, rows_b = d_a[start : start + block], d_b[start : start + block]
        a = rows_a[:, :, None] < rows_a[:, None, :]
        b = rows_b[:, :, None] < rows_b[:, None, :]
        np.bitwise_xor(a, b, out=a)
        disagree += int(np.count_nonzero(a))
    self_a, self_b = np.diag(d_a)[:, None], np.diag(d_b)[:, None]
    with_anchor = np.count_nonzero((self_a < d_a) ^ (self_b < d_b)) + np.count_nonzero((d_a < self_a) ^ (d_b < self_b))
    return disagree - int(with_anchor)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def pairwise_alignment(s_a: np.ndarray, s_b: np.ndarray, method: str = "pearson") -> Correlation:
    """Pearson or Spearman correlation of the upper triangles of two similarity matrices."""
    s_a, s_b = _square(s_a, "s_a"), _square(s_b, "s_b")
    if s_a.shape != s_b.shape:
        raise ValueError(f"the matrices cover different items: {s_a.shape} vs {s_b.shape}")
    iu = np.triu_indices(s_a.shape[0], k=1)
    if method == "pearson":
        r, p = stats.pearsonr(s_a[iu], s_b[iu])
    elif method == "spearman":
        r, p = stats.spearmanr(s_a[iu], s_b[iu])
    else:
        raise ValueError("method must be 'pearson' or 'spearman'")
    return Correlation(float(r), float(p), len(iu[0]))


def partial_correlation(x: np.ndarray, y: np.ndarray, covariates: np.ndarray, method: str = "pearson") -> Correlation:
    """Correlation of ``x`` and ``y`` with the covariates (n or n×k) regressed out of both, as
    Pingouin's ``partial_corr`` computes it; ``spearman`` ranks everything first."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    z = np.asarray(covariates, float).reshape(len(x), -1)
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
        z = np.column_stack([stats.rankdata(c) for c in z.T])
    elif method != "pearson":
        raise ValueError("method must be 'pearson' or 'spearman'")
    design = np.column_stack([np.ones(len(x)), z])
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r = float(np.corrcoef(rx, ry)[0, 1])
    dof = len(x) - 2 - z.shape[1]
    t = r * math.sqrt(dof / max(1e-300, 1 - r * r))
    return Correlation(r, float(2 * stats.t.sf(abs(t), dof)), len(x))


def z_squared(scores: np.ndarray) -> np.ndarray:
    """``((a - mean) / std)^2`` per model (population std): large at both extremes, for the
    U-shape test."""
    a = np.asarray(scores, float)
    return ((a - a.mean()) / a.std()) ** 2


def high_mid_low(alignment: np.ndarray, downstream: np.ndarray, k: int = 5) -> dict[str, float]:
    """Average downstream score of the ``k`` most aligned, ``k`` closest to the mean alignment,
    and ``k`` least aligned models."""
    a, s = np.asarray(alignment, float), np.asarray(downstream, float)
    if len(a) < k:
        raise ValueError(f"need at least {k} models, got {len(a)}")
    order = np.argsort(a)
    middle = np.argsort(np.abs(a - a.mean()))[:k]
    return {"high": float(s[order[-k:]].mean()), "mid": float(s[middle].mean()), "low": float(s[order[:k]].mean())}


def channel_capacity(e: float) -> float:
    """Capacity of a binary symmetric channel with misalignment ``e``:
    ``1 + e log2 e + (1 - e) log2 (1 - e)`` (with ``0 log 0 = 0``)."""
    if not 0 <= e <= 1:
        raise ValueError("misalignment must be in [0, 1]")
    return 1 + sum(p * math.log2(p) for p in (e, 1 - e) if p > 0)


def triplet_queries(d: int, n: int, e: float) -> float:
    """Order of the triplet queries needed to learn a new item: ``d log n / C(e)``."""
    capacity = channel_capacity(e)
    return math.inf if capacity == 0 else d * math.log(n) / capacity


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa for items × categories rating counts (each row: how many raters chose
    each category). Items may have different numbers of raters (at least 2 each)."""
    counts = np.asarray(counts, dtype=np.float64)
    raters = counts.sum(axis=1)
    if counts.ndim != 2 or len(counts) == 0 or (raters < 2).any():
        raise ValueError("need items × categories counts with at least 2 raters per item")
    agreement = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    shares = counts.sum(axis=0) / raters.sum()
    chance = float((shares**2).sum())
    if chance == 1:
        return 1.0
    return float((agreement.mean() - chance) / (1 - chance))
