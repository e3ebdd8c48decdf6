"""Which human matrix a model is set beside, and the ceiling that fits (SCIENCE.md §3).

Two comparisons, each with its own figures, intervals and ceilings, for all three metrics:

- ``group``: the model against the group-mean matrix. Its ceiling comes from the group mean's
  split-half reliability ``R`` (Spearman–Brown corrected to the whole group): ``R`` is what
  another group of as many people would reach (low), ``√R`` what the noise-free truth would
  (high). Triplet agreement ``a`` is taken on the ``2a − 1`` scale for the same correction.
- ``person``: the model against each person's matrix, averaged over people (rsatoolbox's
  convention). Its ceiling is Nili et al.'s: each person against the mean of the others (low)
  and of everyone (high), averaged.

Intervals resample images (pairs or triplets of an image with itself left out) and, per person,
people too; triplet intervals use ``TRIPLETS_PER_DRAW`` sampled triplets per draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from science.names import COMPARISONS
from science.similarity import spearman_brown, upper

METHODS = ("pearson", "spearman", "triplet")
TRIPLETS_PER_DRAW = 20_000
"""Triplets sampled per bootstrap draw: their own sampling error (about ±0.007) is small beside
the images' (about ±0.025 on 92 images)."""


COMPARISON_WORDS = {
    "group": "against the group-mean matrix",
    "person": "against each person's matrix, averaged over people",
}
METHOD_WORDS = {"pearson": "Pearson", "spearman": "Spearman", "triplet": "Triplet agreement"}


def ceiling_words(ceiling: dict) -> list[str]:
    """Each metric's ceiling in a sentence that names its comparison."""
    against = COMPARISON_WORDS[ceiling.get("comparison", "group")]
    return [
        f"{METHOD_WORDS[method]} {against}: ceiling {band[0]:.3f}–{band[1]:.3f}"
        for method in METHODS
        if known(band := ceiling.get(method))
    ]


def known(band: Sequence[float | None] | None) -> bool:
    """Whether a (low, high) ceiling was measured (stored data keep an unknown end as None)."""
    return band is not None and all(end is not None and np.isfinite(end) for end in band)


def check_comparison(comparison: str, people: np.ndarray | None) -> None:
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {', '.join(COMPARISONS)}")
    if comparison == "person" and (people is None or len(people) < 2):
        raise ValueError(
            "comparing with each person needs two or more people's own matrices; these data have only "
            "the group's: compare with the group mean"
        )


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.rankdata(x, axis=-1)


def _correlations(model: np.ndarray, people: np.ndarray, method: str) -> np.ndarray:
    """Pearson or Spearman r of one vector (m) with each row of ``people`` (p×m)."""
    if method == "spearman":
        model, people = _ranks(model), _ranks(people)
    a = model - model.mean()
    b = people - people.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((a**2).sum() * (b**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (b @ a) / denominator


def _random_triplets(n: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``count`` triplets of distinct positions ``(i; j, k)`` among ``n``, uniformly."""
    i = rng.integers(0, n, count)
    j = (i + rng.integers(1, n, count)) % n
    k = rng.integers(0, n - 2, count)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    k = k + (k >= lo)
    k = k + (k >= hi)
    return i, j, k


def _agreement(a_ij: np.ndarray, a_ik: np.ndarray, b_ij: np.ndarray, b_ik: np.ndarray) -> np.ndarray:
    """Per triplet ``(i; j, k)`` from the two agents' dissimilarities: 1 when they answer alike,
    0 when not, ½ for a tie against a strict answer (``science.alignment.triplet_alignment``)."""
    return ((a_ij < a_ik) == (b_ij < b_ik)).astype(float) / 2 + ((a_ik < a_ij) == (b_ik < b_ij)) / 2


def person_values(d_model: np.ndarray, people: np.ndarray) -> dict[str, float]:
    """The model against each person, averaged over people, per metric (triplets: every
    triplet up to ``EXHAUSTIVE_TRIPLETS_UP_TO`` images, else a fixed sample)."""
    from science.alignment import EXHAUSTIVE_TRIPLETS_UP_TO, SAMPLED_TRIPLETS, triplet_alignment

    mine, theirs = upper(d_model), np.stack([upper(p) for p in people])
    samples = None if len(d_model) <= EXHAUSTIVE_TRIPLETS_UP_TO else SAMPLED_TRIPLETS
    return {
        "pearson": float(np.nanmean(_correlations(mine, theirs, "pearson"))),
        "spearman": float(np.nanmean(_correlations(mine, theirs, "spearman"))),
        "triplet": float(np.mean([triplet_alignment(d_model, p, samples=samples).value for p in people])),
    }


def bootstrap_intervals(
    d_model: np.ndarray,
    human: np.ndarray,
    *,
    comparison: str,
    n_boot: int,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals for every metric: images resampled with replacement in each draw
    (and, per person, people too). ``human``: the group's matrix (n×n) or the people's (p×n×n)."""
    d_model = np.asarray(d_model, np.float64)
    people = np.asarray(human, np.float64) if comparison == "person" else np.asarray(human, np.float64)[None]
    n, p = len(d_model), len(people)
    rng = np.random.default_rng(seed)
    rows, cols = np.triu_indices(n, k=1)
    draws: dict[str, list[float]] = {method: [] for method in METHODS}
    for _ in range(n_boot):
        pick = rng.integers(0, n, n)
        who = rng.integers(0, p, p) if comparison == "person" else np.zeros(1, dtype=int)
        a, b = pick[rows], pick[cols]
        keep = a != b
        a, b = a[keep], b[keep]
        mine, theirs = d_model[a, b], people[who][:, a, b]
        for method in ("pearson", "spearman"):
            r = _correlations(mine, theirs, method)
            if np.isfinite(r).any():
                draws[method].append(float(np.nanmean(r)))
        i, j, k = (pick[x] for x in _random_triplets(n, TRIPLETS_PER_DRAW, rng))
        distinct = (i != j) & (i != k) & (j != k)
        i, j, k = i[distinct], j[distinct], k[distinct]
        # Each triplet is set beside one drawn person: the mean is the people's average agreement.
        person = who[rng.integers(0, len(who), len(i))]
        agree = _agreement(d_model[i, j], d_model[i, k], people[person, i, j], people[person, i, k])
        draws["triplet"].append(float(np.mean(agree)))
    tail = (1 - confidence) / 2 * 100
    return {
        method: tuple(float(x) for x in np.percentile(values, [tail, 100 - tail])) if values else (np.nan, np.nan)
        for method, values in draws.items()
    }


def person_ceiling(people: np.ndarray) -> dict[str, tuple[float, float]]:
    """Nili et al.'s bounds per metric: each person against the mean of the others (low) and
    of everyone (high), averaged over people."""
    people = np.asarray(people, np.float64)
    p = len(people)
    total = people.sum(0)
    out = {}
    for method in METHODS:
        low, high = [], []
        for s in range(p):
            others, everyone = (total - people[s]) / (p - 1), total / p
            if method == "triplet":
                low.append(person_values(others, people[s : s + 1])["triplet"])
                high.append(person_values(everyone, people[s : s + 1])["triplet"])
            else:
                low.append(float(_correlations(upper(others), upper(people[s])[None], method)[0]))
                high.append(float(_correlations(upper(everyone), upper(people[s])[None], method)[0]))
        out[method] = (float(np.nanmean(low)), float(np.nanmean(high)))
    return out


def group_ceiling(people: np.ndarray, *, splits: int = 100, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per metric: the group mean's split-half reliability ``R`` (halves' means compared,
    Spearman–Brown corrected; triplets on the ``2a − 1`` scale) as the low bound and ``√R`` as
    the high one."""
    from science.alignment import triplet_alignment

    people = np.asarray(people, np.float64)
    p, n = len(people), people.shape[1]
    rng = np.random.default_rng(seed)
    halves: dict[str, list[float]] = {method: [] for method in METHODS}
    samples = 20_000 if n > 60 else None
    for split in range(splits):
        order = rng.permutation(p)
        first, second = people[order[: p // 2]].mean(0), people[order[p // 2 :]].mean(0)
        for method in ("pearson", "spearman"):
            halves[method].append(float(_correlations(upper(first), upper(second)[None], method)[0]))
        agreement = triplet_alignment(first, second, samples=samples, seed=seed + split).value
        halves["triplet"].append(2 * agreement - 1)
    out = {}
    for method, values in halves.items():
        reliability = min(max(spearman_brown(float(np.mean(values))), 0.0), 1.0)
        if method == "triplet":
            out[method] = ((1 + reliability) / 2, (1 + np.sqrt(reliability)) / 2)
        else:
            out[method] = (reliability, float(np.sqrt(reliability)))
    return {method: (float(low), float(high)) for method, (low, high) in out.items()}
