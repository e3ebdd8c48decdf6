"""Study results from a tidy table of judgements (SCIENCE.md §2–3). Plain pandas/SciPy.

One row per judgement: a 2AFC trial, or one row of a clustering trial. Columns: ``worker``,
``kind`` ("2afc" or "clustering"), ``trial``, ``row``, ``condition``, ``attention_check``,
``answer``, ``correct_answer``, ``correct``, ``excluded``, and per LPIPS variant ``V``:
``lpips:V`` (its answer) and ``dist:V`` (its distance from the query/row to each option/column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from science.alignment import fleiss_kappa, wilson_interval

CHANCE = {"2afc": 0.5, "clustering": 1 / 3}


def _bootstrap(values: np.ndarray, seed: int) -> tuple[float | None, float | None]:
    values = np.asarray(values, float)
    if len(values) < 2 or np.all(values == values[0]):
        return (float(values[0]), float(values[0])) if len(values) else (None, None)
    ci = stats.bootstrap(
        (values,), np.mean, n_resamples=2000, method="percentile", random_state=seed
    ).confidence_interval
    return float(ci.low), float(ci.high)


def scored(frame: pd.DataFrame) -> pd.DataFrame:
    """Judgements that count: not attention checks, not from excluded workers."""
    return frame[~frame.attention_check & ~frame.excluded]


def summarise(frame: pd.DataFrame, variants: list[str], seed: int = 0) -> list[dict[str, Any]]:
    """Per condition × survey kind: people (mean ± std across workers, bootstrap CI over
    workers), LPIPS (mean ± std across variants, each alone, bootstrap CI over items), chance,
    and how often people and each variant give the same answer."""
    rows = []
    data = scored(frame)
    for (condition, kind), group in data.groupby(["condition", "kind"], sort=False):
        per_worker = group.groupby("worker").correct.mean()
        items = group.drop_duplicates(["trial", "row"])
        by_variant = {v: float((items[f"lpips:{v}"] == items.correct_answer).mean()) for v in variants}
        item_means = np.mean([(items[f"lpips:{v}"] == items.correct_answer).to_numpy() for v in variants], axis=0)
        values = np.array(list(by_variant.values()))
        rows.append(
            {
                "condition": condition,
                "kind": kind,
                "chance": CHANCE[kind],
                "human_mean": float(per_worker.mean()),
                "human_std": float(per_worker.std(ddof=0)),
                "human_ci": _bootstrap(per_worker.to_numpy(), seed),
                "n_workers": len(per_worker),
                "lpips_mean": float(values.mean()),
                "lpips_std": float(values.std(ddof=0)),
                "lpips_ci": _bootstrap(item_means, seed),
                "lpips_by_variant": by_variant,
                "n_items": len(items),
                "agreement_by_variant": {v: float((group.answer == group[f"lpips:{v}"]).mean()) for v in variants},
            }
        )
    return rows


def human_triplets(frame: pd.DataFrame) -> list[tuple[int, int, int, str]]:
    """Every scored judgement as triplets: (judgement index, chosen, other, worker). A 2AFC
    trial is one triplet; a clustering row matched to column c gives one per other column."""
    out = []
    for index, j in scored(frame).iterrows():
        n_refs = 2 if j.kind == "2afc" else 3
        out += [(index, j.answer, other, j.worker) for other in range(n_refs) if other != j.answer]
    return out


def triplet_agreement(frame: pd.DataFrame, variants: list[str]) -> dict[str, dict[str, float]]:
    """Triplet alignment of people and each LPIPS variant over every collected judgement: the
    share of the people's triplets that the variant answers the same way (ties count half)."""
    triplets = human_triplets(frame)
    result = {}
    for v in variants:
        agree = 0.0
        for index, chosen, other, _ in triplets:
            d = frame.at[index, f"dist:{v}"]
            agree += 1.0 if d[chosen] < d[other] else 0.5 if d[chosen] == d[other] else 0.0
        n = len(triplets)
        low, high = wilson_interval(agree, n)
        result[v] = {"value": agree / n if n else None, "ci_low": low, "ci_high": high, "n": n}
    return result


def noise_ceiling(frame: pd.DataFrame) -> dict[str, float | None]:
    """Leave-one-worker-out triplet agreement: each worker's triplets against the majority of
    the other workers who answered the same triplet (a tie counts half)."""
    agree = total = 0.0
    for (_, _, kind), group in scored(frame).groupby(["trial", "row", "kind"]):
        answers = dict(zip(group.worker, group.answer, strict=True))
        for worker, chosen in answers.items():
            others = [a for w, a in answers.items() if w != worker]
            for other in range(2 if kind == "2afc" else 3):
                votes_for, votes_against = others.count(chosen), others.count(other)
                if other == chosen or votes_for + votes_against == 0:
                    continue
                total += 1
                agree += 1.0 if votes_for > votes_against else 0.5 if votes_for == votes_against else 0.0
    return {"value": agree / total if total else None, "n": int(total)}


def kappa(frame: pd.DataFrame) -> dict[str, float | None]:
    """Fleiss' kappa among the workers, per survey kind, over items answered by 2 or more."""
    out = {}
    for kind, group in scored(frame).groupby("kind"):
        categories = 2 if kind == "2afc" else 3
        per_item = [np.bincount(a.astype(int), minlength=categories) for _, a in group.groupby(["trial", "row"]).answer]
        counts = np.array([c for c in per_item if c.sum() >= 2])
        out[kind] = fleiss_kappa(counts) if len(counts) else None
    return out


def orderings(summary: list[dict[str, Any]], variants: list[str]) -> dict[str, dict[str, Any]]:
    """Spearman correlation, per survey kind, of the condition orderings by people and by each
    LPIPS variant."""
    out: dict[str, dict[str, Any]] = {}
    for kind in {r["kind"] for r in summary}:
        rows = [r for r in summary if r["kind"] == kind]
        human = [r["human_mean"] for r in rows]
        out[kind] = {}
        for v in variants:
            machine = [r["lpips_by_variant"][v] for r in rows]
            if len(rows) < 2 or len(set(human)) < 2 or len(set(machine)) < 2:
                out[kind][v] = {"rho": None, "n": len(rows)}
            else:
                rho = stats.spearmanr(human, machine).statistic
                out[kind][v] = {"rho": float(rho), "n": len(rows)}
    return out


def verdict(summary: list[dict[str, Any]], ordering: dict[str, dict[str, Any]]) -> str:
    """A plain sentence: which condition people find best aligned, and does LPIPS agree?"""
    sentences = []
    for kind, per_variant in sorted(ordering.items()):
        rows = sorted((r for r in summary if r["kind"] == kind), key=lambda r: r["human_mean"], reverse=True)
        label = "2AFC" if kind == "2afc" else "clustering"
        if len(rows) < 2:
            sentences.append(f"{label}: only one condition, nothing to order.")
            continue
        best, worst = rows[0], rows[-1]
        rhos = {v: o["rho"] for v, o in per_variant.items() if o["rho"] is not None}
        if rhos:
            same = all(rho > 0 for rho in rhos.values()) and np.mean(list(rhos.values())) >= 0.5
            answer = "Yes" if same else "No"
            detail = ", ".join(f"{v} ρ = {rho:+.2f}" for v, rho in rhos.items())
        else:
            answer, detail = "Undecided", "no variation to correlate"
        sentences.append(
            f"{label}: people judge {best['condition']} best aligned ({best['human_mean']:.0%}) and "
            f"{worst['condition']} least ({worst['human_mean']:.0%}); LPIPS gives {best['lpips_mean']:.0%} and "
            f"{worst['lpips_mean']:.0%}. Does LPIPS order these models as people do? {answer} "
            f"(Spearman over {len(rows)} conditions: {detail})."
        )
    return " ".join(sentences) or "No answers yet."
