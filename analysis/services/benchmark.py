"""The alignment benchmark: many models' embeddings of an image set (cached by the images' and
the model's hashes), their alignment with human similarity judgements, few-shot probes and the
paper's downstream analyses."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from analysis.config import AlignmentConfig
from analysis.services.alignment_inputs import (
    Images,
)
from analysis.services.zoo_models import ZooModel
from metamer.errors import MetamerError
from science import zoo
from science.alignment import HumanJudgements, channel_capacity
from science.comparison import METHODS
from science.downstream import downstream_analysis, few_shot_probe


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _cache_name(model: ZooModel, images: Images) -> str:
    weights = hashlib.sha256(f"{model.key}|{model.layer}|{model.input_size}".encode()).hexdigest()[:20]
    return f"embeddings/{weights}/{images.key[:20]}.npy"


def embedding_compute(
    *,
    model: ZooModel,
    images: Images,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The model's features of the images (N×D), from the cache when this model, layer and
    input size met these very images before, else computed (on the GPU when there is one) and
    cached in media storage, so every worker of a fanned-out run finds it."""
    name = _cache_name(model, images)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as f:
            return np.load(f, allow_pickle=False)
    features = zoo.embed(
        model.representation(),
        images.pixels,
        input_size=model.input_size,
        device=_device(),
        batch_size=batch_size,
        on_progress=on_progress,
    )
    buffer = io.BytesIO()
    np.save(buffer, features.astype(np.float32), allow_pickle=False)
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(buffer.getvalue()))
    return features


@dataclass
class Benchmark:
    """What a benchmark found: one row per model, the models' matrices, the human ceiling, and
    (when asked) probe accuracies and downstream analyses."""

    rows: list[dict]
    matrices: dict[str, np.ndarray]
    ceiling: dict
    """Per metric, the (low, high) ceiling of the comparison the run made (``comparison``)."""
    human: str
    probes: list[dict] = field(default_factory=list)
    downstream: dict[str, dict] = field(default_factory=dict)
    model_by_model: np.ndarray | None = None


def alignment_compute(
    *,
    models: Sequence[ZooModel],
    features: dict[str, np.ndarray],
    human: HumanJudgements,
    human_label: str,
    config: AlignmentConfig,
    order: np.ndarray | None = None,
    probe_features: dict[str, np.ndarray] | None = None,
    probe_labels: Sequence[str] = (),
    scores: pd.DataFrame | None = None,
) -> Benchmark:
    """Every model's alignment with the people (and its probes), from its features; ``order``
    is ``Images.canonical_order``. ``scores`` (per model: ``top1`` and other downstream
    scores) default to the registered specs' ImageNet top-1."""
    try:
        ceiling = human.ceiling(config.comparison)
        bands = {
            f"{method}_ceiling_{end}": None if ceiling[method] is None else ceiling[method][n]
            for method in METHODS
            for n, end in enumerate(("low", "high"))
        }
        rows, matrices = [], {}
        for model in models:
            d = zoo.dissimilarity(features[model.name], config.metric)
            matrices[model.name] = d
            result = human.alignment(
                d, comparison=config.comparison, n_boot=config.bootstrap, seed=config.seed, order=order
            )
            triplet = result.row()["triplet"]
            rows.append(
                {
                    "model": model.name,
                    "layer": model.layer_shown or model.layer,
                    "layer_role": model.layer_role,
                    "comparison": config.comparison,
                    **result.row(),
                    **bands,
                    "random_twin_of": model.twin_of or "",
                    "channel_capacity": channel_capacity(min(max(1 - triplet, 0.0), 1.0)),
                    "imagenet_top1": model.imagenet_top1,
                }
            )
    except ValueError as exc:
        raise MetamerError(str(exc), field="comparison") from None
    probes = []
    if probe_features and config.probe_shots:
        for model in models:
            try:
                results = few_shot_probe(
                    probe_features[model.name],
                    probe_labels,
                    shots=config.probe_shots,
                    seeds=config.probe_seeds,
                    head=config.probe_head,
                    seed=config.seed,
                )
            except ValueError as exc:
                raise MetamerError(str(exc), field="probe") from None
            probes += [{"model": model.name, **vars(r)} for r in results]
    benchmark = Benchmark(
        rows,
        matrices,
        ceiling,
        human_label,
        probes,
        model_by_model=zoo.model_by_model(list(matrices.values())) if len(matrices) > 1 else None,
    )
    known = [(m.name, m.imagenet_top1) for m in models if m.imagenet_top1 is not None]
    if scores is None and known:
        scores = pd.DataFrame(known, columns=["model", "top1"])
    benchmark.downstream = _downstream(benchmark, scores)
    return benchmark


def _downstream(benchmark: Benchmark, scores: pd.DataFrame | None) -> dict[str, dict]:
    """The paper's analyses of each downstream score against Spearman alignment: the scores
    imported per model (``scores``: a ``model`` column, maybe ``top1``, other numeric columns)
    and the probes' accuracies at each n."""
    table = pd.DataFrame(benchmark.rows).set_index("model")
    columns: dict[str, pd.Series] = {}
    if benchmark.probes:
        probes = pd.DataFrame(benchmark.probes)
        for shots, group in probes.groupby("shots"):
            columns[f"{shots}-shot {group['head'].iloc[0]} probe accuracy"] = group.set_index("model")["accuracy"]
    top1 = None
    if scores is not None:
        indexed = scores.set_index("model")
        top1 = indexed.get("top1")
        for name in indexed.columns:
            if name != "top1":
                columns[name] = indexed[name]
    out = {}
    for name, series in columns.items():
        score = series.reindex(table.index).astype(float)
        covariate = None if top1 is None else top1.reindex(table.index).astype(float).to_numpy()
        out[name] = {
            **downstream_analysis(table["spearman"].to_numpy(), score.to_numpy(), covariate),
            "points": [[m, a, s] for m, a, s in zip(table.index, table["spearman"], score, strict=True)],
        }
    return out
