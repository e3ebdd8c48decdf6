"""Human similarity data as one currency (SCIENCE.md §3): dissimilarity matrices, triplets,
their reliability across people, an ordinal embedding fitted to triplets, the triplets it is
least sure of, and simulated participants.

Conventions: a *dissimilarity matrix* is ``(n, n)``, symmetric, 0 on the diagonal, in the
image set's order. A *triplet* ``(i, j, k)`` with an answer ``1`` says "``i`` is closer to
``j`` than to ``k``" (``0``: closer to ``k``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

SYMMETRY_TOLERANCE = 1e-6
"""Largest asymmetry |d_ij − d_ji| accepted, relative to the largest entry (rounding in files)."""


def check_dissimilarity(matrix: np.ndarray, *, n_items: int | None = None, name: str = "the matrix") -> np.ndarray:
    """A valid dissimilarity matrix as float64 with an exact 0 diagonal and exact symmetry, or a
    ``ValueError`` that says what to fix."""
    d = np.asarray(matrix, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"{name} is {'×'.join(map(str, d.shape))}: a dissimilarity matrix is square (n×n)")
    if n_items is not None and d.shape[0] != n_items:
        raise ValueError(f"{name} is {d.shape[0]}×{d.shape[0]} but the image set has {n_items} images")
    if not np.isfinite(d).all():
        bad = int((~np.isfinite(d)).sum())
        raise ValueError(f"{name} has {bad} missing or infinite entries (NaN/inf): fill them or drop those images")
    if (d < 0).any():
        raise ValueError(f"{name} has negative dissimilarities (smallest {d.min():.3g}): dissimilarities are ≥ 0")
    scale = max(float(np.abs(d).max()), 1e-12)
    asymmetry = float(np.abs(d - d.T).max())
    if asymmetry > SYMMETRY_TOLERANCE * scale:
        raise ValueError(
            f"{name} is not symmetric (largest |d_ij − d_ji| = {asymmetry:.3g}): "
            "give dissimilarities, the same both ways"
        )
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


def similarity_to_dissimilarity(matrix: np.ndarray) -> np.ndarray:
    """Similarities (larger = more alike, e.g. ratings) as dissimilarities: ``max − s``."""
    s = np.asarray(matrix, dtype=np.float64)
    return s.max() - s


def upper(matrix: np.ndarray) -> np.ndarray:
    """The upper triangle above the diagonal, row by row: the ``n(n−1)/2`` pairs."""
    return matrix[np.triu_indices(matrix.shape[0], k=1)]


def spearman_brown(r: float, factor: float = 2.0) -> float:
    """Reliability of a measure ``factor`` times as long (split-half: the whole from its halves)."""
    return factor * r / (1 + (factor - 1) * r)


def split_half_reliability(matrices: np.ndarray, *, splits: int = 200, seed: int = 0) -> dict[str, float]:
    """How reproducible the group's mean matrix is: people split at random into two halves, the
    Pearson r between the halves' mean matrices (upper triangles), averaged over ``splits``
    splits, and Spearman–Brown corrected to the full group. Needs ≥ 2 people."""
    # scipy loads on use: web processes import this module for its planners.
    from scipy import stats

    subjects = np.asarray(matrices, dtype=np.float64)
    if subjects.ndim != 3 or subjects.shape[0] < 2:
        raise ValueError("split-half reliability needs matrices from at least two people")
    rng = np.random.default_rng(seed)
    n = subjects.shape[0]
    rs = []
    for _ in range(splits):
        order = rng.permutation(n)
        a, b = subjects[order[: n // 2]].mean(0), subjects[order[n // 2 :]].mean(0)
        rs.append(stats.pearsonr(upper(a), upper(b))[0])
    r = float(np.mean(rs))
    return {
        "split_half_r": r,
        "spearman_brown": spearman_brown(r),
        "r_low": float(np.percentile(rs, 2.5)),
        "r_high": float(np.percentile(rs, 97.5)),
        "people": n,
    }


def item_reliability(matrices: np.ndarray, *, splits: int = 50, seed: int = 0) -> np.ndarray:
    """Per image: split-half r (Spearman–Brown corrected) of its row of dissimilarities to every
    other image, over random halves of the people; low values flag images people disagree on."""
    subjects = np.asarray(matrices, dtype=np.float64)
    rng = np.random.default_rng(seed)
    n_people, n = subjects.shape[0], subjects.shape[1]
    out = np.zeros((splits, n))
    others = ~np.eye(n, dtype=bool)
    for s in range(splits):
        order = rng.permutation(n_people)
        a, b = subjects[order[: n_people // 2]].mean(0), subjects[order[n_people // 2 :]].mean(0)
        for i in range(n):
            r = np.corrcoef(a[i, others[i]], b[i, others[i]])[0, 1]
            out[s, i] = spearman_brown(r) if np.isfinite(r) else np.nan
    return np.nanmean(out, axis=0)


def all_triplets(n: int) -> np.ndarray:
    """Every distinct triplet ``(i, j, k)``, ``j < k``, ``i`` neither: ``(science.alignment.n_triplets(n), 3)``."""
    j, k = np.triu_indices(n, k=1)
    i = np.repeat(np.arange(n), len(j))
    jj, kk = np.tile(j, n), np.tile(k, n)
    keep = (i != jj) & (i != kk)
    return np.stack([i[keep], jj[keep], kk[keep]], axis=1)


def sample_triplets(n: int, m: int, *, seed: int = 0) -> np.ndarray:
    """``m`` triplets drawn uniformly from the distinct ones (with replacement), ``j < k``."""
    if n < 3:
        raise ValueError("triplets need at least 3 images")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, m)
    j = rng.integers(0, n - 1, m)
    j = j + (j >= i)  # uniform over the items other than i
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    k = rng.integers(0, n - 2, m)
    k = k + (k >= lo)
    k = k + (k >= hi)  # uniform over the items other than i and j
    return np.stack([i, np.minimum(j, k), np.maximum(j, k)], axis=1)


def triplet_answers(dissimilarity: np.ndarray, triplets: np.ndarray) -> np.ndarray:
    """How a matrix answers each triplet: 1 when ``d[i, j] < d[i, k]``, 0 when greater, and 0.5
    on a tie (no preference)."""
    t = np.asarray(triplets)
    dij, dik = dissimilarity[t[:, 0], t[:, 1]], dissimilarity[t[:, 0], t[:, 2]]
    return np.where(dij < dik, 1.0, np.where(dij > dik, 0.0, 0.5))


def triplet_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of triplets two agents answer alike (a tie against a choice counts half)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.mean(1 - np.abs(a - b)))


def check_triplets(triplets: np.ndarray, answers: np.ndarray, *, n_items: int) -> None:
    """Refuse triplets that name images outside the set, repeat an image, or answers not 0/1."""
    t = np.asarray(triplets)
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValueError("triplets are rows of three image indices i, j, k")
    if len(t) == 0:
        raise ValueError("no triplets given")
    if (t < 0).any() or (t >= n_items).any():
        row = int(np.argmax(((t < 0) | (t >= n_items)).any(axis=1)))
        raise ValueError(f"row {row + 1} names image {t[row].tolist()}: indices run from 0 to {n_items - 1}")
    same = (t[:, 0] == t[:, 1]) | (t[:, 0] == t[:, 2]) | (t[:, 1] == t[:, 2])
    if same.any():
        raise ValueError(f"row {int(np.argmax(same)) + 1} repeats an image: i, j and k must differ")
    if not np.isin(np.asarray(answers), (0, 1)).all():
        raise ValueError("each choice is 1 (i is closer to j) or 0 (i is closer to k)")


def _oriented(triplets: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each triplet as ``(i, min(j, k), max(j, k))`` with its answer flipped when j and k swap."""
    t = np.asarray(triplets)
    swap = t[:, 1] > t[:, 2]
    keys = np.stack([t[:, 0], np.minimum(t[:, 1], t[:, 2]), np.maximum(t[:, 1], t[:, 2])], axis=1)
    return keys, np.where(swap, 1 - np.asarray(answers, dtype=np.float64), np.asarray(answers, dtype=np.float64))


def triplet_reliability(
    triplets: np.ndarray, answers: np.ndarray, workers: np.ndarray, *, splits: int = 100, seed: int = 0
) -> dict[str, float | int | None]:
    """How reproducible people's triplet answers are. ``split_half``: workers split at random
    into halves; on the triplets both halves answered, the share on which the halves' majorities
    agree (a tie counts half), averaged over splits. ``noise_ceiling``: each worker's answers
    against the majority of the other workers who answered the same triplet, the most any model
    can be expected to agree with people. None where no triplet was answered twice."""
    keys, oriented = _oriented(triplets, answers)
    _, triplet_id = np.unique(keys, axis=0, return_inverse=True)
    triplet_id = triplet_id.ravel()
    names, worker_id = np.unique(np.asarray(workers, dtype=str), return_inverse=True)
    worker_id = worker_id.ravel()
    n_triplets_asked = int(triplet_id.max()) + 1 if len(triplet_id) else 0
    votes = np.zeros((n_triplets_asked, 2))  # per triplet: answers 1, answers in all
    np.add.at(votes, triplet_id, np.stack([oriented, np.ones_like(oriented)], axis=1))
    others_for = votes[triplet_id, 0] - oriented
    others_n = votes[triplet_id, 1] - 1
    asked_again = others_n > 0
    ceiling = None
    if asked_again.any():
        majority = others_for[asked_again] / others_n[asked_again]
        mine = oriented[asked_again]
        ceiling = float(np.mean(np.where(majority == 0.5, 0.5, (majority > 0.5) == (mine > 0.5))))
    rng = np.random.default_rng(seed)
    scores = []
    if len(names) >= 2:
        for _ in range(splits):
            half = rng.permutation(len(names))[: len(names) // 2]
            in_a = np.isin(worker_id, half)
            a, b = np.zeros((n_triplets_asked, 2)), np.zeros((n_triplets_asked, 2))
            np.add.at(a, triplet_id[in_a], np.stack([oriented[in_a], np.ones(in_a.sum())], axis=1))
            np.add.at(b, triplet_id[~in_a], np.stack([oriented[~in_a], np.ones((~in_a).sum())], axis=1))
            both = (a[:, 1] > 0) & (b[:, 1] > 0)
            if both.any():
                pa, pb = a[both, 0] / a[both, 1], b[both, 0] / b[both, 1]
                tie = (pa == 0.5) | (pb == 0.5)
                scores.append(float(np.mean(np.where(tie, 0.5, (pa > 0.5) == (pb > 0.5)))))
    return {
        "split_half_agreement": float(np.mean(scores)) if scores else None,
        "noise_ceiling": ceiling,
        "triplets_asked_twice": int((votes[:, 1] > 1).sum()),
        "people": len(names),
    }


def _tste_probability(x: torch.Tensor, t: torch.Tensor, alpha: float) -> torch.Tensor:
    """P(i is closer to j than to k) under the Student-t kernel of t-STE."""
    d_ij = (x[t[:, 0]] - x[t[:, 1]]).pow(2).sum(1)
    d_ik = (x[t[:, 0]] - x[t[:, 2]]).pow(2).sum(1)
    k_ij = (1 + d_ij / alpha).pow(-(alpha + 1) / 2)
    k_ik = (1 + d_ik / alpha).pow(-(alpha + 1) / 2)
    return k_ij / (k_ij + k_ik)


def fit_embedding(
    triplets: np.ndarray,
    answers: np.ndarray,
    n_items: int,
    *,
    dim: int = 5,
    steps: int = 300,
    lr: float = 0.1,
    weight_decay: float = 1e-3,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """An ordinal embedding (t-STE, van der Maaten & Weinberger 2012; ``alpha = dim − 1``) of
    ``n_items`` points in which the answered triplets hold as far as they can; its distances fill
    in pairs nobody was asked. Returns ``(n_items, dim)``."""
    import torch  # here, not at the top: the web processes read this module for its planners

    t = torch.as_tensor(np.asarray(triplets), dtype=torch.long, device=device)
    choice = torch.as_tensor(np.asarray(answers), dtype=torch.float32, device=device)
    # An answer 0 is the same triplet with j and k swapped.
    t = torch.where(choice[:, None] >= 0.5, t, t[:, [0, 2, 1]])
    x = (0.1 * torch.randn(n_items, dim, generator=generator)).to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    alpha = max(dim - 1.0, 1.0)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = -torch.log(_tste_probability(x, t, alpha) + 1e-12).mean() + weight_decay * x.pow(2).sum(1).mean()
        loss.backward()
        optimiser.step()
    return x.detach().cpu().numpy()


def embedding_dissimilarity(embedding: np.ndarray) -> np.ndarray:
    """Euclidean distances between embedded points."""
    x = np.asarray(embedding, dtype=np.float64)
    squared = (x * x).sum(1)
    return np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * x @ x.T, 0.0))


def most_uncertain_triplets(
    embedding: np.ndarray, k: int, *, candidates: int = 20_000, seed: int = 0, exclude: set | None = None
) -> np.ndarray:
    """The adaptive sampler: from ``candidates`` uniformly drawn triplets, the ``k`` whose answer
    the current embedding is least sure of (t-STE probability nearest 0.5), skipping triplets in
    ``exclude`` (already asked, as ``(i, j, k)`` tuples)."""
    import torch

    n, dim = embedding.shape
    pool = sample_triplets(n, candidates, seed=seed)
    with torch.no_grad():
        p = _tste_probability(torch.as_tensor(embedding), torch.as_tensor(pool), max(dim - 1.0, 1.0)).numpy()
    order = np.argsort(np.abs(p - 0.5), kind="stable")
    chosen, seen = [], set(exclude or ())
    for row in pool[order]:
        key = tuple(int(v) for v in row)
        if key not in seen:
            seen.add(key)
            chosen.append(row)
            if len(chosen) == k:
                break
    return np.array(chosen, dtype=np.int64).reshape(-1, 3)


def simulated_answers(features: np.ndarray, triplets: np.ndarray, *, noise: float, seed: int = 0) -> np.ndarray:
    """A simulated participant who judges by a network's features: each triplet answered by the
    features' cosine distances plus Gaussian noise (``noise`` × the distances' spread), so 0 is
    the network itself and larger values are sloppier people."""
    f = np.asarray(features, dtype=np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    d = 1 - f @ f.T
    t = np.asarray(triplets)
    dij, dik = d[t[:, 0], t[:, 1]], d[t[:, 0], t[:, 2]]
    spread = float(np.std(upper(d))) or 1.0
    rng = np.random.default_rng(seed)
    jitter = rng.normal(0.0, noise * spread, size=(2, len(t))) if noise > 0 else np.zeros((2, len(t)))
    return ((dij + jitter[0]) < (dik + jitter[1])).astype(np.float64)


def odd_one_out_triplets(a: int, b: int, odd: int) -> list[tuple[int, int, int]]:
    """An odd-one-out answer over ``{a, b, odd}`` as triplets with answer 1: ``a`` is closer to
    ``b`` than to ``odd``, and ``b`` closer to ``a`` than to ``odd``."""
    return [(a, b, odd), (b, a, odd)]
