"""Writes for the alignment benchmark: many models' embeddings of an image set (cached by the
images' and the model's hashes), their alignment with human similarity judgements, few-shot
probes, the paper's analyses, and the files a researcher publishes from (``alignment.csv``, the
models' matrices, ``report.html``). ``manage.py align`` runs it on files; an ``AlignmentRun``
runs it on stored data, one task per model on the ``gpu`` queue."""

from __future__ import annotations

import hashlib
import io
import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from analysis.alignment_report import alignment_report_html
from analysis.config import AlignmentConfig
from analysis.models import AlignmentRun
from analysis.services.reports import spreadsheet_safe_csv
from inversion.archives import ImageError, image_members, load_members
from inversion.models import ModelSpec, TargetSet
from metamer.errors import MetamerError
from science import zoo
from science.alignment import channel_capacity
from science.images import FORMATS, fit, sha256, to_tensor
from science.networks import BUILTINS, LayerRepresentation, NetworkError, build_network, default_layer, layer_names
from science.similarity import check_dissimilarity, check_triplets, embedding_dissimilarity, fit_embedding
from surveys.models import SimilarityData
from surveys.selectors import similarity_arrays
from surveys.services import kriegeskorte92_read, similarity_file_read, triplet_file_read

DEFAULT_INPUT_SIZE = 224
KRIEGESKORTE92_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"


@dataclass(frozen=True)
class ZooModel:
    """One model of a benchmark, resolved and checked: where its weights come from, the layer
    read, the input size, and ``key``, which names its weights for the embedding cache."""

    name: str
    layer: str
    input_size: int
    key: str
    twin_of: str | None = None
    spec_id: int | None = None
    imagenet_top1: float | None = None

    def representation(self) -> LayerRepresentation:
        """``g``: pixels in [0, 1] → the layer's activation (normalisation inside)."""
        if self.spec_id is None:
            builtin = BUILTINS[self.name]
            net = build_network("builtin", self.name, cache_dir=settings.METAMER_CACHE_DIR)
            return LayerRepresentation(net, self.layer, builtin.mean, builtin.std)
        spec = ModelSpec.objects.get(pk=self.spec_id)
        return LayerRepresentation(_spec_network(spec), self.layer, spec.mean, spec.std)


def _spec_network(spec: ModelSpec) -> torch.nn.Module:
    checkpoint = Path(spec.checkpoint.path) if spec.checkpoint else None
    return build_network(
        spec.source, spec.architecture, checkpoint, cifar_stem=spec.cifar_stem, cache_dir=settings.METAMER_CACHE_DIR
    )


def _checked_layer(name: str, names: Sequence[str], layer: str, default: str) -> str:
    chosen = layer or default
    if chosen not in names:
        shown = ", ".join(names[1:31]) + (f", … ({len(names) - 1} in all)" if len(names) > 31 else "")
        raise MetamerError(f"{name} has no layer {chosen!r}; its layers: {shown}", field="layer")
    return chosen


_LAYERS: dict[str, tuple[tuple[str, ...], str]] = {}
"""Each network's layer names and default layer, by ``ZooModel.key`` (which names its weights):
checking a run's models builds each network once per process, not on every check (each admin
form and API call that creates a run checks all of its models)."""


def _layers(key: str, build: Callable[[], torch.nn.Module]) -> tuple[tuple[str, ...], str]:
    known = _LAYERS.get(key)
    if known is None:
        net = build()
        known = _LAYERS[key] = (tuple(layer_names(net)), default_layer(net))
    return known


def zoo_models_check(*, config: AlignmentConfig) -> list[ZooModel]:
    """Resolve the run's models (built-ins, then registered specs by name) and their layers;
    an unknown model or layer is refused naming the valid ones, before any work."""
    specs = {s.name: s for s in ModelSpec.objects.filter(name__in=config.models)}
    unknown = [m for m in config.models if m not in BUILTINS and m not in specs]
    if unknown:
        registered = list(ModelSpec.objects.order_by("name").values_list("name", flat=True)[:50])
        raise MetamerError(
            f"unknown model {', '.join(map(repr, unknown))}; built-ins: {', '.join(BUILTINS)}"
            + (f"; registered: {', '.join(registered)}" if registered else "; no model specs are registered"),
            field="models",
        )
    return [_resolve(name, config.layer, specs.get(name)) for name in config.models]


def _resolve(name: str, layer: str, spec: ModelSpec | None) -> ZooModel:
    if spec is None:
        key = f"builtin:{name}"
        names, default = _layers(key, lambda: build_network("builtin", name, cache_dir=settings.METAMER_CACHE_DIR))
        chosen = _checked_layer(name, names, layer, default)
        return ZooModel(name, chosen, DEFAULT_INPUT_SIZE, key, twin_of=BUILTINS[name].twin_of)
    checkpoint = spec.checkpoint.name if spec.checkpoint else ""
    key = f"spec:{spec.pk}:{spec.source}:{spec.architecture}:{checkpoint}:{spec.cifar_stem}:{spec.mean}:{spec.std}"
    try:
        names, _ = _layers(key, lambda: _spec_network(spec))
    except (NetworkError, FileNotFoundError) as exc:
        raise MetamerError(f"{name}: {exc}", field="models") from None
    chosen = _checked_layer(name, names, layer, spec.layer)
    return ZooModel(name, chosen, spec.input_size, key, spec_id=spec.pk, imagenet_top1=spec.imagenet_top1)


@dataclass(frozen=True)
class Images:
    """An image set as the benchmark reads it: pixels N×3×S×S in [0, 1], labels, and ``key``,
    the hash of the images' own hashes in order (the embedding cache's name for them)."""

    pixels: torch.Tensor
    labels: list[str]
    hashes: list[str]
    """Each image's SHA-256 (of its pixels as stored here)."""
    key: str

    @property
    def canonical_order(self) -> np.ndarray:
        """The images sorted by hash: the order random draws follow, whatever order they came in."""
        return np.argsort(np.asarray(self.hashes), kind="stable")


def _images(pairs: Sequence[tuple[str, object]]) -> Images:
    sizes = {img.size for _, img in pairs}
    # One size for all, so the images stack; each model resizes to its own input size.
    side = next(iter(sizes))[0] if len(sizes) == 1 and len({*next(iter(sizes))}) == 1 else DEFAULT_INPUT_SIZE
    tensors = [to_tensor(fit(img, side)) for _, img in pairs]
    hashes = [sha256((t * 255).round().to(torch.uint8).numpy().tobytes()) for t in tensors]
    key = hashlib.sha256("".join(hashes).encode()).hexdigest()
    return Images(torch.stack(tensors), [label for label, _ in pairs], hashes, key)


def images_read(*, path: Path, per_class: int | None = None, seed: int = 0) -> Images:
    """Images from a folder, .zip or .tar (sorted by name; a class folder gives the label), or
    the kriegeskorte92 folder (its 92 images in the published order); ``per_class`` draws that
    many of each class with ``seed`` (for probes on a large labelled set)."""
    path = Path(path)
    if (path / KRIEGESKORTE92_FILE).is_file():
        return _images(kriegeskorte92_read(path=path)[0])
    if not path.exists():
        raise MetamerError(f"{path} does not exist: give a folder or archive of images", field="images")
    try:
        names = image_members(path)
        if per_class is not None:
            by_class: dict[str, list[str]] = {}
            for name in names:
                by_class.setdefault(Path(name).parent.name, []).append(name)
            rng = random.Random(seed)
            names = sorted(
                n for members in by_class.values() for n in rng.sample(members, min(per_class, len(members)))
            )
        if not names:
            raise MetamerError(f"{path} holds no images", field="images")
        return _images(list(load_members(path, names)))
    except ImageError as exc:
        raise MetamerError(f"{path}: {exc}", field="images") from None


def images_of_set(target_set: TargetSet) -> Images:
    targets = target_set.targets.select_related("stimulus").order_by("index")
    return _images([(t.label, _stored_image(t.stimulus)) for t in targets])


def _stored_image(stimulus) -> Image.Image:
    with stimulus.image.open("rb") as f, Image.open(f, formats=FORMATS) as img:
        return img.convert("RGB")


def human_read(*, path: Path, n_items: int, variable: str = "", similarities: bool = False) -> zoo.HumanJudgements:
    """People's judgements from a file in any format the similarity-data import takes:
    matrices (.csv, .npy, .mat; one per person or averaged; dissimilarities, or similarities
    with ``similarities``) or a triplet CSV (``i,j,k,choice`` or ``i,j,k,chosen``, optional
    ``worker``), or the kriegeskorte92 folder; checked against ``n_items`` images."""
    path = Path(path)
    if (path / KRIEGESKORTE92_FILE).is_file():
        people = kriegeskorte92_read(path=path)[1]
        return _checked_human(people, n_items, path.name)
    if not path.is_file():
        raise MetamerError(f"{path} is not a file: give a matrix (.csv, .npy, .mat) or a triplet CSV", field="human")
    with path.open("rb") as f:
        head = f.read(200).split(b"\n", 1)[0].decode("utf-8", "replace").replace(" ", "").lower().split(",")
        f.seek(0)
        if path.suffix.lower() == ".csv" and {"i", "j", "k"} <= set(head):
            triplets, answers, workers = triplet_file_read(file=f, filename=path.name)
            try:
                check_triplets(triplets, answers, n_items=n_items)
            except ValueError as exc:
                raise MetamerError(f"{path.name}: {exc}", field="human") from None
            generator = torch.Generator().manual_seed(0)
            group = embedding_dissimilarity(fit_embedding(triplets, answers, n_items, generator=generator))
            return zoo.HumanJudgements(group, triplets=triplets, answers=answers, workers=np.asarray(workers, str))
        matrices = similarity_file_read(file=f, filename=path.name, variable=variable)
    if similarities:
        matrices = np.stack([m.max() - m for m in matrices])
    return _checked_human(matrices, n_items, path.name)


def _checked_human(matrices: np.ndarray, n_items: int, name: str) -> zoo.HumanJudgements:
    try:
        stack = np.stack(
            [check_dissimilarity(m, n_items=n_items, name=f"{name}, matrix {p + 1}") for p, m in enumerate(matrices)]
        )
    except ValueError as exc:
        raise MetamerError(str(exc), field="human") from None
    return zoo.HumanJudgements(stack.mean(0), people=stack if len(stack) > 1 else None)


def human_of_data(data: SimilarityData) -> zoo.HumanJudgements:
    arrays = similarity_arrays(data)
    if data.kind == SimilarityData.Kind.TRIPLETS:
        return zoo.HumanJudgements(
            arrays["group"], triplets=arrays["triplets"], answers=arrays["choices"], workers=arrays["workers"]
        )
    people = arrays["matrices"]
    return zoo.HumanJudgements(arrays["group"], people=people if len(people) > 1 else None)


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
    ceiling: dict[str, float | None]
    human: str
    probes: list[dict] = field(default_factory=list)
    downstream: dict[str, dict] = field(default_factory=dict)
    model_by_model: np.ndarray | None = None


def alignment_compute(
    *,
    models: Sequence[ZooModel],
    features: dict[str, np.ndarray],
    human: zoo.HumanJudgements,
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
    ceiling = human.ceiling()
    rows, matrices = [], {}
    for model in models:
        d = zoo.dissimilarity(features[model.name], config.metric)
        matrices[model.name] = d
        result = human.alignment(d, n_boot=config.bootstrap, seed=config.seed, order=order)
        triplet = result.row()["triplet"]
        rows.append(
            {
                "model": model.name,
                "layer": model.layer,
                **result.row(),
                **{k: ceiling[k] for k in ("noise_ceiling_low", "noise_ceiling_high")},
                "random_twin_of": model.twin_of or "",
                "channel_capacity": channel_capacity(min(max(1 - triplet, 0.0), 1.0)),
                "imagenet_top1": model.imagenet_top1,
            }
        )
    probes = []
    if probe_features and config.probe_shots:
        for model in models:
            try:
                results = zoo.few_shot_probe(
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
            **zoo.downstream_analysis(table["spearman"].to_numpy(), score.to_numpy(), covariate),
            "points": [[m, a, s] for m, a, s in zip(table.index, table["spearman"], score, strict=True)],
        }
    return out


def scores_read(*, path: Path) -> pd.DataFrame:
    """Per-model scores from a CSV: a ``model`` column, optionally ``top1`` (ImageNet top-1, the
    covariate), and any other numeric columns (e.g. ImageNet-A accuracy)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MetamerError(f"{path}: not a readable CSV ({exc})", field="scores") from None
    if "model" not in frame.columns or len(frame.columns) < 2:
        raise MetamerError(f"{path}: needs a model column and at least one score column", field="scores")
    numeric = frame.drop(columns="model").apply(pd.to_numeric, errors="coerce")
    bad = [c for c in numeric.columns if numeric[c].isna().all()]
    if bad:
        raise MetamerError(f"{path}: column {bad[0]!r} holds no numbers", field="scores")
    return pd.concat([frame[["model"]].astype(str), numeric], axis=1)


CSV_COLUMNS = [
    "model",
    "layer",
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
    "noise_ceiling_low",
    "noise_ceiling_high",
    "random_twin_of",
    "channel_capacity",
    "imagenet_top1",
]


def _csv(rows: list[dict], columns: list[str]) -> bytes:
    return spreadsheet_safe_csv(pd.DataFrame(rows, columns=columns))


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


def alignment_run_create(
    *, human: SimilarityData, config: AlignmentConfig, probe_set: TargetSet | None = None, name: str = ""
) -> AlignmentRun:
    """Check and store a run, then queue it (one task per model). Unknown models or layers, or
    a labelled set with too few examples per class for the shots asked, are refused first."""
    models = zoo_models_check(config=config)
    if config.probe_shots and probe_set is None:
        raise MetamerError("probe shots were given but no labelled image set to probe on", field="probe_set")
    if probe_set is not None:
        if not config.probe_shots:
            raise MetamerError("a probe set needs probe shots (e.g. 1, 5, 10)", field="probe_shots")
        try:
            zoo.check_probe_labels(list(probe_set.targets.values_list("label", flat=True)), config.probe_shots)
        except ValueError as exc:
            raise MetamerError(f"{probe_set.name}: {exc}", field="probe_shots") from None
    with transaction.atomic():
        run = AlignmentRun.objects.create(
            name=name[:100],
            human=human,
            probe_set=probe_set,
            config=config.to_dict(),
            resolved_models=[asdict(m) for m in models],
            progress={"done": [], "total": len(models)},
        )
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from analysis.tasks import embed_alignment_model

    run = AlignmentRun.objects.get(pk=run_id)
    for name in run.config["models"]:
        embed_alignment_model.delay(run_id, name)


def alignment_run_embed(*, run_id: int, model_name: str) -> AlignmentRun:
    """One model's share of a run (its embeddings, cached); the task that embeds the last model
    finishes the run. A failure marks the run FAILED with the reason."""
    run = AlignmentRun.objects.select_related("human__image_set", "probe_set").get(pk=run_id)
    if run.status in (AlignmentRun.Status.DONE, AlignmentRun.Status.FAILED):
        return run
    AlignmentRun.objects.filter(pk=run_id, status=AlignmentRun.Status.PENDING).update(
        status=AlignmentRun.Status.RUNNING
    )
    config = AlignmentConfig.from_dict(run.config)
    try:
        model = next(ZooModel(**m) for m in run.resolved_models if m["name"] == model_name)
        embedding_compute(model=model, images=images_of_set(run.human.image_set), batch_size=config.batch_size)
        if run.probe_set is not None:
            embedding_compute(model=model, images=images_of_set(run.probe_set), batch_size=config.batch_size)
    except (MetamerError, NetworkError, ValueError, RuntimeError) as exc:
        return _run_failed(run_id, f"{model_name}: {exc}")
    with transaction.atomic():
        run = AlignmentRun.objects.select_for_update().get(pk=run_id)
        done = sorted(set(run.progress.get("done", [])) | {model_name})
        # Which worker embedded each model: a fanned-out run shows its spread.
        workers = {**run.progress.get("workers", {}), model_name: f"{socket.gethostname()}:{os.getpid()}"}
        run.progress = {**run.progress, "done": done, "workers": workers}
        run.save(update_fields=["progress"])
        complete = len(done) >= len(config.models) and run.status == AlignmentRun.Status.RUNNING
    return alignment_run_finish(run_id=run_id) if complete else run


def _run_failed(run_id: int, reason: str) -> AlignmentRun:
    AlignmentRun.objects.filter(pk=run_id).exclude(status=AlignmentRun.Status.DONE).update(
        status=AlignmentRun.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
    )
    return AlignmentRun.objects.get(pk=run_id)


def alignment_run_finish(*, run_id: int) -> AlignmentRun:
    """Align every model of the run from its cached embeddings and store the files."""
    with transaction.atomic():
        run = AlignmentRun.objects.select_for_update().get(pk=run_id)
        # One finisher: a redelivered last task finds the run being analysed, or done.
        if run.status != AlignmentRun.Status.RUNNING or run.progress.get("stage") == "analysing":
            return run
        run.progress = {**run.progress, "stage": "analysing"}
        run.save(update_fields=["progress"])
    run = AlignmentRun.objects.select_related("human__image_set", "probe_set").get(pk=run_id)
    config = AlignmentConfig.from_dict(run.config)
    try:
        models = [ZooModel(**m) for m in run.resolved_models]
        images = images_of_set(run.human.image_set)
        features = {m.name: embedding_compute(model=m, images=images) for m in models}
        probe_features, probe_labels = None, []
        if run.probe_set is not None:
            probe_images = images_of_set(run.probe_set)
            probe_features = {m.name: embedding_compute(model=m, images=probe_images) for m in models}
            probe_labels = probe_images.labels
        benchmark = alignment_compute(
            models=models,
            features=features,
            human=human_of_data(run.human),
            human_label=f"{run.human.name} ({run.human.get_kind_display().lower()}; {run.human.source})",
            config=config,
            order=images.canonical_order,
            probe_features=probe_features,
            probe_labels=probe_labels,
        )
    except (MetamerError, ValueError, RuntimeError) as exc:
        return _run_failed(run_id, str(exc))
    stem = f"alignment-{run.pk}"
    rdms = io.BytesIO()
    np.savez_compressed(rdms, **benchmark.matrices)
    run.csv.save(f"{stem}.csv", ContentFile(_csv(benchmark.rows, CSV_COLUMNS)), save=False)
    run.rdms.save(f"{stem}-rdms.npz", ContentFile(rdms.getvalue()), save=False)
    html = alignment_report_html(benchmark=benchmark, title=str(run))
    run.report.save(f"{stem}.html", ContentFile(html.encode()), save=False)
    run.results = {
        "rows": benchmark.rows,
        "ceiling": benchmark.ceiling,
        "probes": benchmark.probes,
        "downstream": {k: {kk: vv for kk, vv in v.items() if kk != "points"} for k, v in benchmark.downstream.items()},
    }
    run.status, run.finished_at = AlignmentRun.Status.DONE, timezone.now()
    run.progress = {**run.progress, "stage": "done"}
    run.save()
    return run


def alignment_run_execute(*, run_id: int, on_progress: Callable[[str], None] | None = None) -> AlignmentRun:
    """A whole run in this process, model after model (the CLI's and the tests' path)."""
    run = AlignmentRun.objects.get(pk=run_id)
    for name in run.config["models"]:
        run = alignment_run_embed(run_id=run_id, model_name=name)
        if on_progress is not None:
            on_progress(name)
        if run.status == AlignmentRun.Status.FAILED:
            break
    return run
