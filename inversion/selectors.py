"""Reads for the inversion app."""

from __future__ import annotations

import functools
import statistics
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from inversion.models import IRI, InversionJob, ModelSpec, Stimulus, Target

if TYPE_CHECKING:
    import torch

    from science.networks import LayerRepresentation

# Reads that need tensors or networks import torch inside them: the rest serve web requests.


def stimulus_tensor(stimulus: Stimulus) -> torch.Tensor:
    """A stored stimulus as a 3×H×W tensor in [0, 1]."""
    from PIL import Image

    from science.images import FORMATS, to_tensor

    with Image.open(stimulus.image, formats=FORMATS) as img:
        return to_tensor(img)


def target_tensor(target: Target) -> torch.Tensor:
    """What a job aims at for ``target`` (3×H×W): the raw noise draw when one is stored
    (unbounded), else the stored image in [0, 1]."""
    if target.raw:
        import numpy as np
        import torch

        with target.raw.open("rb") as f:
            return torch.from_numpy(np.load(f, allow_pickle=False))
    return stimulus_tensor(target.stimulus)


def model_spec_network(spec: ModelSpec) -> torch.nn.Module:
    """A registered spec's whole network, frozen, with its weights (wherever they are stored)."""
    from metamer.uploads import local_path
    from science.networks import build_network

    with local_path(spec.checkpoint) as checkpoint:
        return build_network(
            spec.source,
            spec.architecture,
            checkpoint,
            cifar_stem=spec.cifar_stem,
            cache_dir=settings.METAMER_CACHE_DIR,
        )


def model_spec_representation(spec: ModelSpec) -> LayerRepresentation:
    """``g`` for a registered spec: pixels in [0, 1] → the layer's activation."""
    from science.networks import LayerRepresentation

    net = model_spec_network(spec)
    return LayerRepresentation(
        net, spec.layer, spec.mean, spec.std, fake_relu=spec.fake_relu, fake_relu_rule=spec.fake_relu_rule
    )


def job_chunks(job: InversionJob) -> list[tuple[int, list[tuple[Target, int]]]]:
    """The job's work, numbered: its (target, seed index) pairs in order, cut into chunks of
    ``batch_size``. The cut is fixed for the job's life, so a chunk's number names the same IRIs
    in every task, worker and resume; each chunk comes with its pairs that have no IRI yet, and
    chunks with nothing left are left out."""
    config = job.config
    seeds_per_target, batch = config.get("seeds_per_target", 1), config.get("batch_size", 32)
    stored = set(IRI.objects.filter(job=job).values_list("target_id", "seed_index"))
    targets = Target.objects.filter(target_set=job.target_set).select_related("stimulus").order_by("index")
    work = [(t, k) for t in targets for k in range(seeds_per_target)]
    chunks = ((n, work[start : start + batch]) for n, start in enumerate(range(0, len(work), batch)))
    pending = ((n, [(t, k) for t, k in chunk if (t.pk, k) not in stored]) for n, chunk in chunks)
    return [(n, chunk) for n, chunk in pending if chunk]


def survey_ready_iris(
    jobs: QuerySet[InversionJob] | list[InversionJob],
    *,
    include_unconverged: bool = False,
    only_beating_null: bool = False,
) -> QuerySet[IRI]:
    """IRIs a survey may use: converged ones unless the researcher asks otherwise; with
    ``only_beating_null``, only those that beat their job's null distribution (Feather et al.)."""
    iris = IRI.objects.filter(job__in=jobs).select_related("stimulus", "seed", "target__stimulus", "job__model_spec")
    iris = iris if include_unconverged else iris.filter(converged=True)
    return iris.filter(beats_null=True) if only_beating_null else iris


def job_stalled(job: InversionJob) -> bool:
    """A running job whose worker has been silent longer than the lease (killed, or its
    machine lost): ``inversion_job_resume`` puts it back in the queue."""
    if job.status != InversionJob.Status.RUNNING:
        return False
    last = job.heartbeat_at or job.started_at
    return last is None or (timezone.now() - last).total_seconds() > settings.METAMER_JOB_LEASE_SECONDS


def job_waiting(job: InversionJob) -> str:
    """Why a queued job has not started, in words, when it waits longer than it should: the task
    queue could not take it, or no worker has taken it for ``METAMER_QUEUE_WAIT_MINUTES``.
    Empty otherwise."""
    if job.status != InversionJob.Status.QUEUED:
        return ""
    if job.enqueued_at is None:
        return "the task queue could not be reached when it was made; Metamer sends it again every minute"
    minutes = (timezone.now() - job.enqueued_at).total_seconds() / 60
    if minutes < settings.METAMER_QUEUE_WAIT_MINUTES:
        return ""
    return (
        f"no worker has taken it for {minutes:.0f} minutes: check that a Celery worker runs on the gpu queue "
        "(celery -A metamer worker -Q gpu,celery; make serve starts one)"
    )


def job_progress(job: InversionJob) -> dict[str, float | int | str | None]:
    """Done/total IRIs; percent of the optimisation steps run (stored IRIs whole, chunks in
    flight by their steps so far), and an ETA in seconds from the pace so far (None until known)."""
    steps = job.config.get("steps", 0) + 1
    remaining = (job.total - job.done) * steps
    in_flight = min(max(job.steps_in_flight, 0), remaining)
    fraction = (job.done * steps + in_flight) / (job.total * steps) if job.total else 0.0
    percent = 100 * fraction
    eta = None
    if job.status == InversionJob.Status.RUNNING and job.started_at and 0 < fraction < 1:
        elapsed = (timezone.now() - job.started_at).total_seconds()
        eta = round(elapsed / fraction * (1 - fraction), 1)
    elif job.status == InversionJob.Status.DONE:
        eta = 0.0
    return {
        "done": job.done,
        "total": job.total,
        "percent": round(percent, 1),
        "eta_seconds": eta,
        "stalled": job_stalled(job),
        "waiting": job_waiting(job),
    }


def job_convergence(job: InversionJob) -> dict[str, float | int | str | None]:
    """How many stored IRIs are under the job's threshold, their median distance, and what to
    do when some are not: more steps when the optimisation was still improving at its end."""
    rows = list(job.iris.values_list("rep_distance", "converged", "best_step"))
    tested = list(job.iris.exclude(beats_null=None).values_list("beats_null", flat=True))
    threshold = job.config.get("convergence_threshold", 0.05)
    steps = job.config.get("steps", 0)
    converged = sum(1 for _, ok, _ in rows if ok)
    summary: dict[str, float | int | str | None] = {
        "converged": converged,
        "stored": len(rows),
        "median_distance": round(statistics.median(d for d, _, _ in rows), 4) if rows else None,
        "beat_null": sum(tested) if tested else None,
        "tested_against_null": len(tested),
        "advice": None,
    }
    if converged < len(rows):
        late = statistics.median(b for _, _, b in rows) >= 0.9 * steps
        summary["advice"] = (
            f"{len(rows) - converged} of {len(rows)} IRIs are above the threshold {threshold}; "
            + (
                f"most were still improving at step {steps}: run again with more steps (late layers often "
                "need 2,000 or more)"
                if late
                else "they stopped improving early: try another update rule or step size"
            )
            + ". Surveys leave them out unless asked to include them."
        )
    return summary


@functools.lru_cache(maxsize=4)
def architecture_choices() -> dict[str, list[str]]:
    """The architectures each network source builds, for the registration form's lists (listed
    once per installation in a child process: no torch here)."""
    from science import catalogue

    return catalogue.architectures(settings.METAMER_CACHE_DIR)


@functools.lru_cache(maxsize=32)
def architecture_layers(source: str, architecture: str) -> tuple[list[str], str]:
    """The layer (graph node) names of an architecture, and the one used when none is chosen
    (the penultimate), from the network built without a checkpoint in a child process; ([], "")
    when it does not build (the registration says why)."""
    from science import catalogue

    return catalogue.layers(settings.METAMER_CACHE_DIR, source, architecture)


def job_recognition(job: InversionJob) -> list[dict]:
    """Every classifier's reading of the job's IRIs: recognised share with its 95% Wilson
    interval, and the seeds' share (the floor), best first."""
    from science.alignment import wilson_interval

    rows = []
    for r in job.recognitions.all():
        low, high = wilson_interval(r.recognised, r.n)
        rows.append(
            {
                "classifier": r.classifier,
                "description": r.description,
                "n": r.n,
                "recognised": r.recognised,
                "rate": r.recognised / r.n if r.n else None,
                "low": low,
                "high": high,
                "seed_rate": r.seeds_recognised / r.n if r.n else None,
            }
        )
    return sorted(rows, key=lambda row: -(row["rate"] or 0))


def recognition_sentence(row: dict) -> str:
    """One classifier's reading in words."""
    return (
        f"{row['classifier']}: {row['recognised']}/{row['n']} recognised ({row['rate']:.0%}, 95% interval "
        f"{row['low']:.0%}–{row['high']:.0%}); their seeds {row['seed_rate']:.0%} (the floor)"
    )
