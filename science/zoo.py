"""Many networks against people's similarity judgements (SCIENCE.md §3; the second source
paper): embeddings of an image set, model dissimilarity matrices, their alignment with a human
matrix or human triplets (with bootstrap-over-items intervals), and n-shot linear probes.

Plain PyTorch/NumPy/SciPy/scikit-learn, no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import Tensor, nn

from science.alignment import (
    Estimate,
    high_mid_low,
    partial_correlation,
    triplet_alignment,
    wilson_interval,
    z_squared,
)
from science.similarity import noise_ceiling, triplet_agreement, triplet_answers, triplet_reliability

METRICS = ("cosine", "correlation")
EXHAUSTIVE_TRIPLETS_UP_TO = 200
"""Image sets up to this size get exact triplet alignment over every triplet (200 images: 3.9
million triplets, about a second); larger ones a uniform sample with a Wilson interval."""
SAMPLED_TRIPLETS = 200_000


def embed(
    g: nn.Module,
    images: Tensor,
    *,
    input_size: int,
    device: torch.device | str,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``g``'s features of ``images`` (N×3×H×W, pixels in [0, 1]; ``g`` normalises inside, as
    ``science.networks.LayerRepresentation`` does), each image resized to ``input_size`` square
    (bilinear, antialiased), flattened: an N×D float32 array in the images' order.
    ``on_progress(done, total)`` after each batch."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be N×3×H×W, got {tuple(images.shape)}")
    g = g.to(device)
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device, torch.float32)
            if x.shape[-2:] != (input_size, input_size):
                x = F.interpolate(
                    x, size=(input_size, input_size), mode="bilinear", antialias=True, align_corners=False
                )
            out.append(g(x.clamp(0, 1)).flatten(1).float().cpu())
            if on_progress is not None:
                on_progress(min(start + batch_size, len(images)), len(images))
    return torch.cat(out).numpy()


def dissimilarity(features: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """The model's dissimilarity matrix over the images (rows of ``features``): cosine distance
    ``1 − cos`` or correlation distance ``1 − r`` (each row centred first). Symmetric, zero
    diagonal, float64."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if metric == "correlation":
        x = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # A constant image (all-zero features) is as far from everything as an orthogonal one.
    x = x / np.where(norms > 0, norms, 1.0)
    d = 1.0 - x @ x.T
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, 2.0)


def _upper(d: np.ndarray) -> np.ndarray:
    return d[np.triu_indices(len(d), k=1)]


def _correlate(a: np.ndarray, b: np.ndarray, method: str) -> float:
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
    value = _correlate(_upper(d_model), _upper(d_human), method)
    if n_boot < 1:
        return Estimate(value, value, value, n * (n - 1) // 2)
    rng = np.random.default_rng(seed)
    rows, cols = np.triu_indices(n, k=1)
    draws = []
    for _ in range(n_boot):
        pick = rng.integers(0, n, n)
        a, b = pick[rows], pick[cols]
        keep = a != b
        r = _correlate(d_model[a[keep], b[keep]], d_human[a[keep], b[keep]], method)
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
        self, d_model: np.ndarray, *, n_boot: int = 1000, seed: int = 0, order: np.ndarray | None = None
    ) -> Alignment:
        if self.triplets is not None:
            return triplet_data_alignment(
                d_model, self.group, self.triplets, self.answers, n_boot=n_boot, seed=seed, order=order
            )
        return matrix_alignment(d_model, self.group, n_boot=n_boot, seed=seed, order=order)

    def ceiling(self) -> dict[str, float | None]:
        """What the best possible model would reach. ``noise_ceiling_low``/``_high``: Spearman,
        each person against the mean of the others / of everyone (needs two people's
        matrices); ``triplet_ceiling``: each person's triplets against the others' (matrices:
        every triplet of each person against the mean of the others; triplets: the majority of
        the other workers who answered the same triplet). None where it cannot be known."""
        out: dict[str, float | None] = {"noise_ceiling_low": None, "noise_ceiling_high": None, "triplet_ceiling": None}
        if self.people is not None and len(self.people) >= 2:
            ceiling = noise_ceiling(self.people)
            out["noise_ceiling_low"], out["noise_ceiling_high"] = ceiling["low"], ceiling["high"]
            total, p = self.people.sum(0), len(self.people)
            samples = None if self.n_items <= EXHAUSTIVE_TRIPLETS_UP_TO else SAMPLED_TRIPLETS
            out["triplet_ceiling"] = float(
                np.mean([triplet_alignment(m, (total - m) / (p - 1), samples=samples).value for m in self.people])
            )
        elif self.triplets is not None and self.workers is not None:
            out["triplet_ceiling"] = triplet_reliability(self.triplets, self.answers, self.workers)["noise_ceiling"]
        return out


def model_by_model(matrices: Sequence[np.ndarray], method: str = "spearman") -> np.ndarray:
    """Models × models correlation of their matrices' upper triangles."""
    uppers = [_upper(np.asarray(d, np.float64)) for d in matrices]
    out = np.eye(len(uppers))
    for a in range(len(uppers)):
        for b in range(a + 1, len(uppers)):
            out[a, b] = out[b, a] = _correlate(uppers[a], uppers[b], method)
    return out


SHOTS = (1, 5, 10, 20, 40, 80)


@dataclass(frozen=True)
class ProbeResult:
    shots: int
    head: str
    seeds: int
    accuracy: float
    accuracy_std: float


def check_probe_labels(labels: Sequence[str] | np.ndarray, shots: Sequence[int]) -> None:
    """Refuse a labelled set that cannot hold out test examples of every class at the largest n."""
    names, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    biggest = max(shots)
    if len(names) < 2:
        raise ValueError("probes need a labelled set of at least two classes (class folders give the labels)")
    if counts.min() <= biggest:
        raise ValueError(
            f"{biggest}-shot probes need more than {biggest} examples of every class; "
            f"{str(names[int(np.argmin(counts))])!r} has {counts.min()}: use fewer shots or a bigger labelled set"
        )


def few_shot_probe(
    features: np.ndarray,
    labels: Sequence[str] | np.ndarray,
    *,
    shots: Sequence[int] = SHOTS,
    seeds: int = 5,
    head: str = "linear",
    seed: int = 0,
) -> list[ProbeResult]:
    """n-shot classification on frozen features: for each n, ``seeds`` times, n examples per
    class train a head and every other example tests it; mean and spread of test accuracy.
    ``head``: ``linear`` (logistic regression, scikit-learn) or ``mlp1``/``mlp2`` (one or two
    hidden layers with input dropout 0.8, as the paper's heads; PyTorch). Features are
    standardised on the training examples only."""
    check_probe_labels(labels, shots)
    x = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    names, y = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    rng = np.random.default_rng(seed)
    results = []
    for n in shots:
        scores = []
        for s in range(seeds):
            train = np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False) for c in range(len(names))])
            test = np.setdiff1d(np.arange(len(y)), train)
            mean, std = x[train].mean(0), x[train].std(0) + 1e-6
            scores.append(_fit_head(head, (x[train] - mean) / std, y[train], (x[test] - mean) / std, y[test], seed + s))
        results.append(ProbeResult(n, head, seeds, float(np.mean(scores)), float(np.std(scores))))
    return results


HEADS = ("linear", "mlp1", "mlp2")


def _fit_head(head: str, x_train, y_train, x_test, y_test, seed: int) -> float:
    if head == "linear":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=1000)
        model.fit(x_train, y_train)
        return float(model.score(x_test, y_test))
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    generator = torch.Generator().manual_seed(seed)
    classes, width = int(max(y_train.max(), y_test.max())) + 1, 256
    layers: list[nn.Module] = [nn.Dropout(0.8), nn.Linear(x_train.shape[1], width), nn.ReLU()]
    if head == "mlp2":
        layers += [nn.Linear(width, width), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(width, classes))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in net.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train).long()
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        net.train()
        for _ in range(300):
            batch = torch.randint(0, len(xt), (min(256, len(xt)),), generator=generator)
            optimiser.zero_grad()
            F.cross_entropy(net(xt[batch]), yt[batch]).backward()
            optimiser.step()
    net.eval()
    with torch.no_grad():
        predicted = net(torch.from_numpy(x_test)).argmax(1).numpy()
    return float((predicted == y_test).mean())


def downstream_analysis(
    alignment: Sequence[float], score: Sequence[float], top1: Sequence[float] | None = None
) -> dict[str, float | int | list[float] | None]:
    """The paper's questions about one downstream score across models: does it rise with
    alignment (Pearson r), still when ImageNet top-1 is held fixed (partial r, Pingouin's
    definition), and is the relation U-shaped (the score against ``z²`` of alignment, large at
    both extremes; and a quadratic fit)? Plus the mean score of the k most, k middle and k least
    aligned models (k = 5, fewer when there are under 15 models)."""
    a, s = np.asarray(alignment, float), np.asarray(score, float)
    keep = np.isfinite(a) & np.isfinite(s)
    if top1 is not None:
        t = np.asarray(top1, float)
        keep &= np.isfinite(t)
    a, s = a[keep], s[keep]
    n = len(a)
    out: dict[str, float | int | list[float] | None] = {"n_models": n}
    if n < 3 or a.std() == 0 or s.std() == 0:
        return out | {"pearson": None, "p_value": None}
    r = stats.pearsonr(a, s)
    z2 = z_squared(a)
    zr = stats.pearsonr(z2, s)
    k = max(1, min(5, n // 3))
    out |= {
        "pearson": float(r[0]),
        "p_value": float(r[1]),
        "quadratic": [float(c) for c in np.polyfit(a, s, 2)],
        "z2_pearson": float(zr[0]),
        "z2_p_value": float(zr[1]),
        "k": k,
        **high_mid_low(a, s, k=k),
    }
    if top1 is not None and n >= 4:
        t = t[keep]
        partial = partial_correlation(a, s, t)
        out |= {"partial_pearson": partial.value, "partial_p_value": partial.p_value}
        if n >= 5:
            z_partial = partial_correlation(z2, s, t)
            out |= {"z2_partial_pearson": z_partial.value, "z2_partial_p_value": z_partial.p_value}
    return out
