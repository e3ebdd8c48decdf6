"""The files a researcher publishes an alignment benchmark from: ``alignment.csv``, the models'
matrices and ``report.html``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.alignment_report import alignment_report_html
from analysis.services.benchmark import Benchmark
from analysis.services.reports import spreadsheet_safe_csv

CSV_COLUMNS = [
    "model",
    "layer",
    "layer_role",
    "comparison",
    "n_items",
    "pearson",
    "pearson_low",
    "pearson_high",
    "spearman",
    "spearman_low",
    "spearman_high",
    "triplet",
    "triplet_low",
    "triplet_high",
    "pearson_ceiling_low",
    "pearson_ceiling_high",
    "spearman_ceiling_low",
    "spearman_ceiling_high",
    "triplet_ceiling_low",
    "triplet_ceiling_high",
    "random_twin_of",
    "channel_capacity",
    "imagenet_top1",
]


def _csv(rows: list[dict], columns: list[str]) -> bytes:
    return spreadsheet_safe_csv(pd.DataFrame(rows, columns=columns))


def alignment_files(*, benchmark: Benchmark, title: str) -> dict[str, bytes]:
    """What a stored run keeps: ``csv`` (alignment.csv), ``rdms`` (every model's matrix, .npz)
    and ``report`` (the HTML report)."""
    rdms = io.BytesIO()
    np.savez_compressed(rdms, **benchmark.matrices)
    return {
        "csv": _csv(benchmark.rows, CSV_COLUMNS),
        "rdms": rdms.getvalue(),
        "report": alignment_report_html(benchmark=benchmark, title=title).encode(),
    }


def alignment_write(*, benchmark: Benchmark, out_dir: Path, title: str) -> dict[str, Path]:
    """``alignment.csv`` (one row per model and layer), ``rdms/<model>.npy`` (each model's
    matrix, in the images' order), ``probes.csv`` when probes ran, and ``report.html``."""
    out_dir = Path(out_dir)
    (out_dir / "rdms").mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "alignment.csv", "report": out_dir / "report.html"}
    paths["csv"].write_bytes(_csv(benchmark.rows, CSV_COLUMNS))
    for name, d in benchmark.matrices.items():
        np.save(out_dir / "rdms" / f"{name}.npy", d)
    if benchmark.probes:
        paths["probes"] = out_dir / "probes.csv"
        paths["probes"].write_bytes(_csv(benchmark.probes, list(benchmark.probes[0])))
    paths["report"].write_text(alignment_report_html(benchmark=benchmark, title=title), encoding="utf-8")
    return paths
