"""Representational alignment measures (SCIENCE.md §3; Sucholutsky & Griffiths, ICML 2023).

Plain NumPy/SciPy on arrays, no Django. Every result is a float or carries ``.value``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from science.comparison import (
    METHODS,
    bootstrap_intervals,
    check_comparison,
    group_ceiling,
    person_ceiling,
    person_values,
)
from science.similarity import triplet_agreement, triplet_answers, triplet_reliability, upper


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
    """Wilson score interval for a binomial proportion (the standard library's normal quantile:
    web processes show these intervals without loading SciPy)."""
    if n == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def pairwise_alignment(s_a: np.ndarray, s_b: np.ndarray, method: str = "pearson") -> Correlation:
    """Pearson or Spearman correlation of the upper triangles of two similarity matrices."""
    from scipy import stats

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
    from scipy import stats

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


EXHAUSTIVE_TRIPLETS_UP_TO = 200
"""Image sets up to this size get exact triplet alignment over every triplet (200 images: 3.9
million triplets, about a second); larger ones a uniform sample with a Wilson interval."""
SAMPLED_TRIPLETS = 200_000


def correlate(a: np.ndarray, b: np.ndarray, method: str) -> float:
    """Pearson or Spearman correlation of two vectors; NaN when either is constant."""
    from scipy import stats

    if method == "spearman":
        a, b = stats.rankdata(a), stats.rankdata(b)
    elif method != "pearson":
        raise ValueError("method must be 'pearson' or 'spearman'")
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def bootstrap_correlation(
    d_model: np.ndarray,
    d_human: np.ndarray,
    *,
    method: str,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Estimate:
    """Pearson or Spearman correlation of two dissimilarity matrices' upper triangles, with a
    percentile interval from resampling the *images* with replacement (pairs of an image with
    its own copy are left out), so the interval speaks for other images of the same kind."""
    d_model, d_human = np.asarray(d_model, np.float64), np.asarray(d_human, np.float64)
    if d_model.shape != d_human.shape or d_model.ndim != 2 or d_model.shape[0] != d_model.shape[1]:
        raise ValueError(f"the matrices cover different images: {d_model.shape} vs {d_human.shape}")
    n = len(d_model)
    value = correlate(upper(d_model), upper(d_human), method)
    if n_boot < 1:
        return Estimate(value, value, value, n * (n - 1) // 2)
    rng = np.random.default_rng(seed)
    rows, cols = np.triu_indices(n, k=1)
    draws = []
    for _ in range(n_boot):
        pick = rng.integers(0, n, n)
        a, b = pick[rows], pick[cols]
        keep = a != b
        r = correlate(d_model[a[keep], b[keep]], d_human[a[keep], b[keep]], method)
        if np.isfinite(r):
            draws.append(r)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail]) if draws else (np.nan, np.nan)
    return Estimate(value, float(low), float(high), n * (n - 1) // 2, exhaustive=False)


@dataclass(frozen=True)
class Alignment:
    """One model's agreement with people over one image set."""

    n_items: int
    pearson: Estimate
    spearman: Estimate
    triplet: Estimate

    def row(self) -> dict[str, float | int]:
        """The figures as ``alignment.csv`` names them."""
        out: dict[str, float | int] = {"n_items": self.n_items}
        for name in ("pearson", "spearman", "triplet"):
            e: Estimate = getattr(self, name)
            out |= {name: e.value, f"{name}_low": e.ci_low, f"{name}_high": e.ci_high}
        return out


def _canonical(d: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    return np.asarray(d, np.float64) if order is None else np.asarray(d, np.float64)[np.ix_(order, order)]


def matrix_alignment(
    d_model: np.ndarray, d_human: np.ndarray, *, n_boot: int = 1000, seed: int = 0, order: np.ndarray | None = None
) -> Alignment:
    """A model's matrix against a human dissimilarity matrix: Pearson and Spearman with
    bootstrap-over-images intervals, and triplet alignment (exact over every triplet up to
    ``EXHAUSTIVE_TRIPLETS_UP_TO`` images, else sampled with a Wilson interval).

    ``order``: the images in a canonical order (e.g. by their hashes) for the random draws, so
    that listing the same images in another order changes no figure, intervals included."""
    d_model, d_human = _canonical(d_model, order), _canonical(d_human, order)
    n = len(d_human)
    samples = None if n <= EXHAUSTIVE_TRIPLETS_UP_TO else SAMPLED_TRIPLETS
    return Alignment(
        n_items=n,
        pearson=bootstrap_correlation(d_model, d_human, method="pearson", n_boot=n_boot, seed=seed),
        spearman=bootstrap_correlation(d_model, d_human, method="spearman", n_boot=n_boot, seed=seed),
        triplet=triplet_alignment(d_model, d_human, samples=samples, seed=seed),
    )


def triplet_data_alignment(
    d_model: np.ndarray,
    d_human: np.ndarray,
    triplets: np.ndarray,
    answers: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    order: np.ndarray | None = None,
) -> Alignment:
    """A model against human *triplets*: triplet alignment is the share of the people's own
    answers the model's matrix gives (Wilson interval over answers); Pearson and Spearman are
    against ``d_human``, the matrix an ordinal embedding of those answers fills in (``order``
    as for ``matrix_alignment``)."""
    agree = triplet_agreement(triplet_answers(d_model, triplets), answers)
    low, high = wilson_interval(agree * len(answers), len(answers))
    d_model, d_human = _canonical(d_model, order), _canonical(d_human, order)
    return Alignment(
        n_items=len(d_human),
        pearson=bootstrap_correlation(d_model, d_human, method="pearson", n_boot=n_boot, seed=seed),
        spearman=bootstrap_correlation(d_model, d_human, method="spearman", n_boot=n_boot, seed=seed),
        triplet=Estimate(agree, low, high, len(answers), exhaustive=False),
    )


@dataclass(frozen=True)
class HumanJudgements:
    """People's judgements over an image set, as alignment reads them: ``group``, the n×n
    dissimilarity matrix models are compared with (the people's mean, or an ordinal embedding's
    distances for triplet data); ``people``, one matrix each (p×n×n) when known; or the
    ``triplets`` (m×3) people answered, ``answers`` (1: i is closer to j) and ``workers``."""

    group: np.ndarray
    people: np.ndarray | None = None
    triplets: np.ndarray | None = None
    answers: np.ndarray | None = None
    workers: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.group)

    def alignment(
        self,
        d_model: np.ndarray,
        *,
        comparison: str = "group",
        n_boot: int = 1000,
        seed: int = 0,
        order: np.ndarray | None = None,
    ) -> Alignment:
        """The model against the group mean or each person (``science.comparison``), every
        metric with an interval from resampling images (and people, per person). Triplet data:
        against the people's own answers (Wilson interval over answers)."""
        if self.triplets is not None:
            if comparison != "group":
                raise ValueError("triplet data are compared as the people's answers: use the group comparison")
            return triplet_data_alignment(
                d_model, self.group, self.triplets, self.answers, n_boot=n_boot, seed=seed, order=order
            )
        check_comparison(comparison, self.people)
        d_model = _canonical(d_model, order)
        if comparison == "person":
            human = self.people if order is None else np.asarray(self.people, np.float64)[:, order][:, :, order]
            values = person_values(d_model, human)
        else:
            human = _canonical(self.group, order)
            samples = None if len(human) <= EXHAUSTIVE_TRIPLETS_UP_TO else SAMPLED_TRIPLETS
            values = {
                "pearson": correlate(upper(d_model), upper(human), "pearson"),
                "spearman": correlate(upper(d_model), upper(human), "spearman"),
                "triplet": triplet_alignment(d_model, human, samples=samples, seed=seed).value,
            }
        n = len(d_model)
        if n_boot < 1:
            intervals = {method: (value, value) for method, value in values.items()}
        else:
            intervals = bootstrap_intervals(d_model, human, comparison=comparison, n_boot=n_boot, seed=seed)
        counts = {"pearson": n * (n - 1) // 2, "spearman": n * (n - 1) // 2, "triplet": n_triplets(n)}
        return Alignment(
            n_items=n,
            **{
                method: Estimate(values[method], *intervals[method], counts[method], exhaustive=n_boot < 1)
                for method in METHODS
            },
        )

    def ceiling(self, comparison: str = "group") -> dict[str, str | tuple[float, float] | None]:
        """What the best possible model would reach in this comparison, per metric, as (low,
        high) (``science.comparison``); None where it cannot be known. Triplet data: only the
        triplet ceiling, each worker's answers against the majority of the other workers who
        answered the same triplet."""
        out: dict[str, str | tuple[float, float] | None] = {"comparison": comparison}
        out |= {method: None for method in METHODS}
        if self.people is not None and len(self.people) >= 2:
            out |= person_ceiling(self.people) if comparison == "person" else group_ceiling(self.people)
        elif self.triplets is not None and self.workers is not None:
            value = triplet_reliability(self.triplets, self.answers, self.workers)["noise_ceiling"]
            out["triplet"] = None if value is None else (value, value)
        return out
