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
from science.lpips_variants import is_variant, variant_backbone
from science.names import LPIPS_BACKBONES
from surveys.kinds.layouts import Clustering, PickOfTwo

OPTIONS = {layout.name: layout.references for layout in (PickOfTwo, Clustering)}
"""How many answers a judgement of each kind (its survey's layout) chooses among."""
CHANCE = {kind: 1 / n for kind, n in OPTIONS.items()}
LABELS = {PickOfTwo.name: "2AFC", Clustering.name: "clustering"}
"""What guessing scores. A model whose IRIs people see as their seeds scores near 0 in 2AFC,
not near chance (SCIENCE.md §2)."""


def circular_variants(network: str | None, variants: list[str]) -> list[str]:
    """LPIPS variants built on the same backbone as ``network`` (a model spec's architecture):
    they agree with its IRIs by construction, so they do not judge it."""
    backbone = LPIPS_BACKBONES.get(network or "")
    return [v for v in variants if is_variant(v) and variant_backbone(v) == backbone]


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
    """Per condition × survey kind: participants (mean ± std across workers, bootstrap CI over
    workers), LPIPS (mean ± std across the variants not built on the condition's own backbone,
    each variant alone, bootstrap CI over items), chance, and how often participants and each
    variant give the same answer."""
    rows = []
    data = scored(frame)
    for (condition, kind), group in data.groupby(["condition", "kind"], sort=False):
        per_worker = group.groupby("worker").correct.mean()
        items = group.drop_duplicates(["trial", "row"])
        by_variant = {v: float((items[f"lpips:{v}"] == items.correct_answer).mean()) for v in variants}
        circular = circular_variants(group["network"].iloc[0] if "network" in group else None, variants)
        judges = [v for v in variants if v not in circular]
        item_means = (
            np.mean([(items[f"lpips:{v}"] == items.correct_answer).to_numpy() for v in judges], axis=0)
            if judges
            else np.array([])
        )
        values = np.array([by_variant[v] for v in judges])
        rows.append(
            {
                "condition": condition,
                "kind": kind,
                "chance": CHANCE[kind],
                "human_mean": float(per_worker.mean()),
                "human_std": float(per_worker.std(ddof=0)),
                "human_ci": _bootstrap(per_worker.to_numpy(), seed),
                "n_workers": len(per_worker),
                "lpips_mean": float(values.mean()) if judges else None,
                "lpips_std": float(values.std(ddof=0)) if judges else None,
                "lpips_ci": _bootstrap(item_means, seed),
                "lpips_by_variant": by_variant,
                "lpips_circular": circular,
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
        n_refs = OPTIONS[j.kind]
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
            for other in range(OPTIONS[kind]):
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
        categories = OPTIONS[kind]
        per_item = [np.bincount(a.astype(int), minlength=categories) for _, a in group.groupby(["trial", "row"]).answer]
        counts = np.array([c for c in per_item if c.sum() >= 2])
        out[kind] = fleiss_kappa(counts) if len(counts) else None
    return out


def order_effects(frame: pd.DataFrame, bins: int = 4) -> dict[str, Any]:
    """Accuracy by where a trial came in the worker's sequence (``bins`` equal stretches) and
    by the side or column its target was on, over included workers' scored judgements: a
    check that trial order and screen position did not steer the answers."""
    data = scored(frame)
    data = data[data.shown_position.notna()] if "shown_position" in data else data.iloc[:0]
    out: dict[str, Any] = {"by_position": [], "by_side": []}
    if data.empty:
        return out
    position = data.shown_position.astype(int)
    edges = np.linspace(position.min() - 0.5, position.max() + 0.5, min(bins, position.nunique()) + 1)
    groups = pd.cut(position, edges, include_lowest=True)
    for interval, part in data.groupby(groups, observed=True):
        low, high = int(np.ceil(interval.left)), int(np.floor(interval.right))
        out["by_position"].append(
            {"positions": f"{low}–{high}", "accuracy": float(part.correct.mean()), "n": len(part)}
        )
    for (kind, side), part in data.groupby(["kind", "target_side"]):
        out["by_side"].append({"kind": kind, "side": side, "accuracy": float(part.correct.mean()), "n": len(part)})
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
            if any(v in r.get("lpips_circular", []) for r in rows):
                out[kind][v] = {"rho": None, "n": len(rows), "circular": True}
            elif len(rows) < 2 or len(set(human)) < 2 or len(set(machine)) < 2:
                out[kind][v] = {"rho": None, "n": len(rows)}
            else:
                rho = stats.spearmanr(human, machine).statistic
                out[kind][v] = {"rho": float(rho), "n": len(rows)}
    return out


def condition_difference(frame: pd.DataFrame, kind: str, a: str, b: str, seed: int = 0) -> dict[str, Any]:
    """Participants' alignment on condition ``a`` minus ``b``: each worker's own difference (the
    same workers see both in a mixed survey), its mean and a bootstrap 95% interval over workers."""
    data = scored(frame)
    data = data[data.kind == kind]
    per_worker = data.groupby(["worker", "condition"]).correct.mean().unstack()
    both = per_worker[[a, b]].dropna() if {a, b} <= set(per_worker.columns) else per_worker.iloc[:0]
    differences = (both[a] - both[b]).to_numpy()
    low, high = _bootstrap(differences, seed) if len(differences) >= 2 else (None, None)
    return {"value": float(differences.mean()) if len(differences) else None, "ci": (low, high), "n": len(differences)}


def verdict(
    summary: list[dict[str, Any]],
    ordering: dict[str, dict[str, Any]],
    *,
    frame: pd.DataFrame | None = None,
    participants: str = "people",
) -> str:
    """Plain sentences: which condition the participants find best aligned, and what the data
    can say about LPIPS agreeing. Over three or more conditions, the Spearman correlation of
    the orderings; over two, the difference with its bootstrap interval (no rank correlation
    rests on two points)."""
    sentences = []
    for kind in sorted({r["kind"] for r in summary}):
        rows = sorted((r for r in summary if r["kind"] == kind), key=lambda r: r["human_mean"], reverse=True)
        label = LABELS[kind]
        if len(rows) < 2:
            sentences.append(f"{label}: only one condition, nothing to order.")
            continue
        best, worst = rows[0], rows[-1]
        lpips = ", ".join(
            f"{r['condition']} {r['lpips_mean']:.0%}" if r["lpips_mean"] is not None else f"{r['condition']} –"
            for r in rows
        )
        head = (
            f"{label}: {participants} judge {best['condition']} best aligned ({best['human_mean']:.0%}) and "
            f"{worst['condition']} least ({worst['human_mean']:.0%}); LPIPS (variants not built on the network "
            f"judged): {lpips}."
        )
        if len(rows) == 2:
            diff = (
                condition_difference(frame, kind, best["condition"], worst["condition"]) if frame is not None else None
            )
            if diff and diff["value"] is not None and diff["ci"][0] is not None:
                low, high = diff["ci"]
                clear = "a difference the interval supports" if low > 0 else "the interval includes no difference"
                head += (
                    f" The difference is {diff['value']:+.0%} (bootstrap 95% interval {low:+.0%} to {high:+.0%} "
                    f"over {diff['n']} workers): {clear}."
                )
            head += " Two conditions are too few to correlate orderings: add a third to ask whether LPIPS orders them alike."
            sentences.append(head)
            continue
        per_variant = ordering.get(kind, {})
        rhos = {v: o["rho"] for v, o in per_variant.items() if o["rho"] is not None}
        if rhos:
            same = all(rho > 0 for rho in rhos.values()) and np.mean(list(rhos.values())) >= 0.5
            answer = "Yes" if same else "No"
            detail = ", ".join(f"{v} ρ = {rho:+.2f}" for v, rho in rhos.items())
        else:
            answer, detail = "Undecided", "no variation to correlate"
        sentences.append(
            f"{head} Does LPIPS order these models as {participants} do? {answer} "
            f"(Spearman over {len(rows)} conditions: {detail})."
        )
    if sentences and participants == "simulated participants":
        sentences.append(
            "These participants are simulated (they decide by LPIPS themselves), so agreement with LPIPS checks "
            "the pipeline, not whether people see as LPIPS does: run the survey with people for that."
        )
    return " ".join(sentences) or "No answers yet."


def response_times(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Seconds a trial took, per survey kind, for trials under test and attention checks apart
    (one time per answered trial: a clustering trial's rows share it): the count, the median,
    the quartiles and the 90th percentile."""
    timed = frame[frame.response_ms.notna()].drop_duplicates(["worker", "trial"])
    out = []
    for (kind, check), part in timed.groupby(["kind", "attention_check"]):
        seconds = part.response_ms.astype(float).to_numpy() / 1000
        q1, median, q3, p90 = np.percentile(seconds, [25, 50, 75, 90])
        out.append(
            {
                "kind": kind,
                "trials": "attention checks" if check else "trials under test",
                "n": len(seconds),
                "median_s": round(float(median), 2),
                "q1_s": round(float(q1), 2),
                "q3_s": round(float(q3), 2),
                "p90_s": round(float(p90), 2),
            }
        )
    return out


def _why_excluded(failed: int, asked: int, excluded: bool) -> str:
    if failed:
        return f"failed {failed} of {asked} attention checks"
    return "excluded by the researcher (the reason is in the audit log)" if excluded else ""


def worker_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Per worker and survey, from their judgements: attention checks passed of those asked,
    alignment (the share of judgements under test matched to their own target), the median
    seconds a trial took, whether they are left out of the results and why."""
    rows = []
    for (worker, survey), part in frame.groupby(["worker", "survey"], sort=False):
        checks, tested = part[part.attention_check], part[~part.attention_check]
        failed = int((~checks.correct.astype(bool)).sum())
        times = part.drop_duplicates("trial").response_ms.dropna().astype(float)
        rows.append(
            {
                "worker": worker,
                "survey": survey,
                "judgements": len(tested),
                "checks_passed": len(checks) - failed,
                "checks_asked": len(checks),
                "alignment": round(float(tested.correct.mean()), 4) if len(tested) else None,
                "median_trial_s": round(float(times.median()) / 1000, 2) if len(times) else None,
                "excluded": bool(part.excluded.any()),
                "why": _why_excluded(failed, len(checks), bool(part.excluded.any())),
                "simulated": bool(part.simulated.any()),
            }
        )
    columns = [
        "worker", "survey", "judgements", "checks_passed", "checks_asked", "alignment", "median_trial_s",
        "excluded", "why", "simulated",
    ]  # fmt: skip
    return pd.DataFrame.from_records(rows, columns=columns)
