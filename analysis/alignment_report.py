"""The alignment benchmark's report: one HTML file with its plots inside, to read and publish from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from django.template.loader import render_to_string
from django.utils import timezone
from matplotlib.figure import Figure

from analysis.services.reports import figure_png
from science.comparison import COMPARISON_WORDS, METHOD_WORDS, METHODS, known

if TYPE_CHECKING:
    from analysis.services.benchmark import Benchmark

TRAINED, RANDOM = "#1d4ed8", "#9ca3af"


def _alignment_plot(rows: pd.DataFrame, column: str, label: str, band: tuple) -> str:
    rows = rows.sort_values(column)
    fig = Figure(figsize=(6.4, 0.9 + 0.36 * len(rows)))
    ax = fig.subplots()
    ys = np.arange(len(rows))
    errors = np.array([rows[column] - rows[f"{column}_low"], rows[f"{column}_high"] - rows[column]])
    colours = [RANDOM if twin else TRAINED for twin in rows["random_twin_of"]]
    ax.barh(ys, rows[column], xerr=np.nan_to_num(errors.clip(min=0)), color=colours, capsize=3)
    if known(band):
        if band[0] == band[1]:
            ax.axvline(band[0], color="#d97706", lw=1.5, label="ceiling")
        else:
            ax.axvspan(band[0], band[1], color="#fde68a", alpha=0.6, label="ceiling", zorder=0)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_yticks(ys, rows["model"], fontsize=8)
    ax.set_xlabel(f"{label} (grey: random-weight twins)")
    ax.axvline(0.5 if column == "triplet" else 0.0, color="grey", lw=0.8, ls=":")
    return figure_png(fig)


def _beats(trained: pd.Series, twin: pd.Series) -> str:
    """Whether a trained model beats its random twin on both Spearman and triplet alignment,
    by intervals that do not overlap; "unclear" when they overlap on either."""
    ahead = [trained[f"{m}_low"] > twin[f"{m}_high"] for m in ("spearman", "triplet")]
    behind = [trained[f"{m}_high"] < twin[f"{m}_low"] for m in ("spearman", "triplet")]
    if all(ahead):
        return "yes"
    return "no" if any(behind) else "unclear (intervals overlap)"


def _heatmap(matrix: np.ndarray, names: list[str]) -> str:
    fig = Figure(figsize=(1.6 + 0.42 * len(names), 1.2 + 0.42 * len(names)))
    ax = fig.subplots()
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.7, label="Spearman between models' matrices")
    return figure_png(fig)


def _scatter(name: str, analysis: dict) -> str:
    fig = Figure(figsize=(4.4, 3.6))
    ax = fig.subplots()
    points = [(m, a, s) for m, a, s in analysis["points"] if np.isfinite(a) and np.isfinite(s)]
    ax.scatter([a for _, a, _ in points], [s for _, _, s in points], color=TRAINED)
    for m, a, s in points:
        ax.annotate(m, (a, s), fontsize=6, xytext=(3, 2), textcoords="offset points")
    if points:
        # The axes follow the models, not the fit: a steep curve is cut at the frame.
        scores = [s for _, _, s in points]
        pad = 0.1 * (max(scores) - min(scores) or 1.0)
        ax.set_ylim(min(scores) - pad, max(scores) + pad)
    if analysis.get("gap"):
        ax.axvspan(*analysis["gap"], color="#f3f4f6", zorder=0, label="no models here")
        ax.legend(fontsize=7)
    if analysis.get("quadratic") and points:
        xs = np.linspace(min(a for _, a, _ in points), max(a for _, a, _ in points), 100)
        ax.plot(xs, np.polyval(analysis["quadratic"], xs), color="#b45309", lw=1, label="quadratic fit")
        ax.legend(fontsize=7)
    ax.set_xlabel("alignment with people (Spearman)")
    ax.set_ylabel(name, fontsize=8)
    return figure_png(fig)


def _probe_plot(probes: pd.DataFrame) -> str:
    fig = Figure(figsize=(5.2, 3.6))
    ax = fig.subplots()
    for model, group in probes.groupby("model", sort=False):
        group = group.sort_values("shots")
        ax.errorbar(group["shots"], group["accuracy"], yerr=group["accuracy_std"], marker="o", ms=3, label=model)
    ax.set_xscale("log")
    ax.set_xlabel("training examples per class")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=6, ncol=2)
    return figure_png(fig)


def alignment_report_html(*, benchmark: Benchmark, title: str) -> str:
    rows = pd.DataFrame(benchmark.rows)
    ceiling = benchmark.ceiling
    twins = []
    by_name = rows.set_index("model")
    for model, row in by_name.iterrows():
        if row["random_twin_of"] and row["random_twin_of"] in by_name.index:
            trained = by_name.loc[row["random_twin_of"]]
            twins.append(
                {
                    "trained": row["random_twin_of"],
                    "twin": model,
                    "spearman": trained["spearman"] - row["spearman"],
                    "triplet": trained["triplet"] - row["triplet"],
                    # Decided on the intervals: the trained model's lower end above the twin's upper end.
                    "beats": _beats(trained, row),
                }
            )
    against = COMPARISON_WORDS[ceiling.get("comparison", "group")]
    plots = {
        method: _alignment_plot(rows, method, f"{METHOD_WORDS[method]} {against}", ceiling.get(method))
        for method in METHODS
    }
    if benchmark.model_by_model is not None:
        plots["models"] = _heatmap(benchmark.model_by_model, list(rows["model"]))
    downstream = [
        {"name": name, "plot": _scatter(name, analysis), **{k: v for k, v in analysis.items() if k != "points"}}
        for name, analysis in benchmark.downstream.items()
    ]
    if benchmark.probes:
        plots["probes"] = _probe_plot(pd.DataFrame(benchmark.probes))
    return render_to_string(
        "analysis/alignment_report.html",
        {
            "title": title,
            "human": benchmark.human,
            "rows": rows.sort_values("spearman", ascending=False).to_dict("records"),
            "ceiling": ceiling,
            "ceilings": [
                f"{METHOD_WORDS[m]} {ceiling[m][0]:.3f}–{ceiling[m][1]:.3f}" for m in METHODS if known(ceiling.get(m))
            ],
            "against": against,
            "twins": twins,
            "plots": plots,
            "downstream": downstream,
            "created": timezone.now(),
        },
    )
