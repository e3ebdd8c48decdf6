"""What alignment predicts (SCIENCE.md §3; the second source paper): n-shot probes on a model's
features, and across models, the correlation of alignment with downstream scores.

Plain PyTorch/NumPy/SciPy/scikit-learn, no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from science.alignment import (
    high_mid_low,
    partial_correlation,
    z_squared,
)
from science.names import HEADS

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
    ``head``: ``linear`` (logistic regression, scikit-learn), or the paper's PyTorch heads with
    input dropout 0.8: ``mlp1`` (``dropout → Linear``) and ``mlp2`` (``dropout → Linear → ReLU →
    Linear``, the one with a hidden ReLU layer; SCIENCE.md). Features are standardised on the
    training examples only; a feature (near) constant there is centred, not scaled (dividing by
    its spread would blow rounding noise up to millions)."""
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
            mean, std = _standardiser(x[train])
            scores.append(_fit_head(head, (x[train] - mean) / std, y[train], (x[test] - mean) / std, y[test], seed + s))
        results.append(ProbeResult(n, head, seeds, float(np.mean(scores)), float(np.std(scores))))
    return results


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and the spread to divide by: its standard deviation, or 1 where that
    is under ``1e-6`` of the feature's scale (as scikit-learn's ``StandardScaler`` treats zeros)."""
    mean, std = x.mean(0), x.std(0)
    scale = np.maximum(np.abs(mean), 1.0)
    return mean, np.where(std > 1e-6 * scale, std, 1.0).astype(x.dtype)


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
    if head == "mlp1":
        net = nn.Sequential(nn.Dropout(0.8), nn.Linear(x_train.shape[1], classes))
    else:
        net = nn.Sequential(nn.Dropout(0.8), nn.Linear(x_train.shape[1], width), nn.ReLU(), nn.Linear(width, classes))
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


MIN_MODELS_FOR_A_FIT = 10
"""Fewer models than this carry a correlation (with its interval) but no fitted curve."""
GAP_SHARE = 1 / 3
"""An empty stretch of alignment wider than this share of the models' range splits them into
clusters: a relation across it says mostly that the clusters differ."""


def alignment_gap(alignment: Sequence[float]) -> tuple[float, float] | None:
    """The widest stretch between neighbouring models' alignment, when wider than ``GAP_SHARE``
    of their range: (the last model below, the first above)."""
    x = np.sort(np.asarray(alignment, float))
    if len(x) < 3 or x[-1] == x[0]:
        return None
    widths = np.diff(x)
    i = int(np.argmax(widths))
    return (float(x[i]), float(x[i + 1])) if widths[i] > GAP_SHARE * (x[-1] - x[0]) else None


def correlation_interval(r: float, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Fisher's z interval for a Pearson r over ``n`` models (None under 4)."""
    if n < 4 or not np.isfinite(r):
        return None
    z, half = np.arctanh(np.clip(r, -0.999999, 0.999999)), stats.norm.ppf(0.5 + confidence / 2) / np.sqrt(n - 3)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def downstream_analysis(
    alignment: Sequence[float], score: Sequence[float], top1: Sequence[float] | None = None
) -> dict[str, float | int | list[float] | None]:
    """The paper's questions about one downstream score across models: does it rise with
    alignment (Pearson r), still when ImageNet top-1 is held fixed (partial r, Pingouin's
    definition), and is the relation U-shaped (the score against ``z²`` of alignment, large at
    both extremes; and a quadratic fit)? Plus the mean score of the k most, k middle and k least
    aligned models (k = 5, fewer when there are under 15 models).

    What the models cannot carry is said in ``warnings`` instead of drawn: under
    ``MIN_MODELS_FOR_A_FIT`` models, or models in clusters with an empty stretch between them
    (``gap``), no quadratic is fitted; every r comes with a 95% interval."""
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
    gap = alignment_gap(a)
    warnings = []
    if n < MIN_MODELS_FOR_A_FIT:
        warnings.append(
            f"only {n} models: too few to tell a relation across models from chance arrangement (the paper "
            f"compared hundreds); no curve is fitted under {MIN_MODELS_FOR_A_FIT}"
        )
    if gap is not None:
        warnings.append(
            f"the models fall in separate clusters, none with alignment between {gap[0]:.3f} and {gap[1]:.3f}: "
            "a correlation across them says mostly that the clusters differ, and no curve is drawn through the gap"
        )
    out |= {
        "pearson": float(r[0]),
        "p_value": float(r[1]),
        "pearson_interval": correlation_interval(float(r[0]), n),
        "warnings": warnings,
        "gap": None if gap is None else list(gap),
        "quadratic": None if warnings else [float(c) for c in np.polyfit(a, s, 2)],
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
