"""Alignment runs' lifecycle: created from checked settings, one task per model on the ``gpu``
queue (each embeds and records its worker), then one finisher that computes the benchmark and
stores its files. ``manage.py align`` runs the same benchmark on files."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from analysis.config import AlignmentConfig
from analysis.models import AlignmentRun
from analysis.services.alignment_inputs import (
    human_of_data,
    images_of_set,
)
from analysis.services.alignment_outputs import alignment_files
from analysis.services.benchmark import alignment_compute, embedding_compute
from analysis.services.zoo_models import ZooModel, zoo_models_check
from inversion.models import TargetSet
from metamer.errors import MetamerError
from metamer.finite import finite
from science.downstream import check_probe_labels
from science.networks import NetworkError
from surveys.models import SimilarityData

logger = logging.getLogger(__name__)


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
            check_probe_labels(list(probe_set.targets.values_list("label", flat=True)), config.probe_shots)
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
    """One task per model. A task queue that cannot be reached fails the run, saying what to do,
    instead of the request: the run never sits pending with nothing coming."""
    from analysis.tasks import embed_alignment_model

    run = AlignmentRun.objects.get(pk=run_id)
    try:
        for name in run.config["models"]:
            embed_alignment_model.delay(run_id, name)
    except OperationalError:
        logger.exception("the task queue could not be reached for alignment run %s", run_id)
        _run_failed(
            run_id,
            "the task queue could not be reached: check that Redis (CELERY_BROKER_URL) is up and a worker runs "
            "on the gpu queue, then create the run again",
        )


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
    files = alignment_files(benchmark=benchmark, title=str(run))
    run.csv.save(f"{stem}.csv", ContentFile(files["csv"]), save=False)
    run.rdms.save(f"{stem}-rdms.npz", ContentFile(files["rdms"]), save=False)
    run.report.save(f"{stem}.html", ContentFile(files["report"]), save=False)
    run.results = finite(
        {
            "rows": benchmark.rows,
            "ceiling": benchmark.ceiling,
            "probes": benchmark.probes,
            "downstream": {
                k: {kk: vv for kk, vv in v.items() if kk != "points"} for k, v in benchmark.downstream.items()
            },
        }
    )
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
