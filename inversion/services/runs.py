"""Running inversion jobs, resumably, in chunks, and storing the IRIs they make: the part of a
job only the processes that invert import (torch, the networks, the engine)."""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

import numpy as np
import torch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inversion.config import SEED_KINDS, InversionConfig, invert_options
from inversion.models import IRI, ActivationNull, InversionJob, Stimulus, Target
from inversion.selectors import job_chunks, model_spec_representation, target_tensor
from inversion.services.jobs import _finish_if_complete
from inversion.services.targets import stimulus_create
from science import images as imageio
from science.engine import autocast_dtype, invert, relative_distance
from science.fourier import AuthorsFourierImage
from science.seeding import derive_seed, seed_everything
from science.success import NULL_PAIRS, beats_null, null_distribution, rank_correlations

logger = logging.getLogger(__name__)


HEARTBEAT_SECONDS = 30


def _heartbeat(job: InversionJob) -> None:
    InversionJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())


def _heartbeat_when_due(job: InversionJob) -> Callable[[], None]:
    """A call for every optimisation step that renews the job's lease once every
    ``HEARTBEAT_SECONDS``, not on every step."""
    last = [time.monotonic()]

    def beat() -> None:
        if time.monotonic() - last[0] > HEARTBEAT_SECONDS:
            last[0] = time.monotonic()
            _heartbeat(job)

    return beat


STEPS_EVERY_SECONDS = 2.0
"""How often a running chunk adds its steps to the job's progress."""


class _Steps:
    """A chunk's optimisation steps, added to the job's ``steps_in_flight`` every
    ``STEPS_EVERY_SECONDS`` (an atomic increment: chunks on other workers add theirs) and taken
    back when its IRIs are stored, which count as whole."""

    def __init__(self, job: InversionJob, images: int) -> None:
        self.rows = InversionJob.objects.filter(pk=job.pk)
        self.images = images
        self.pending = self.reported = 0
        self.last = time.monotonic()

    def step(self) -> None:
        self.pending += self.images
        if time.monotonic() - self.last > STEPS_EVERY_SECONDS:
            self.last = time.monotonic()
            self.rows.update(steps_in_flight=F("steps_in_flight") + self.pending)
            self.reported += self.pending
            self.pending = 0

    def take_back(self) -> None:
        if self.reported:
            self.rows.update(steps_in_flight=F("steps_in_flight") - self.reported)
        self.pending = self.reported = 0


@functools.lru_cache(maxsize=1)
def _network_and_seeds(job_uuid: uuid.UUID, device: str) -> tuple[torch.nn.Module, dict[tuple[int, int], torch.Tensor]]:
    """A job's network and seed images, kept for its next chunk in this process: a fanned-out
    job's chunks land on the same few workers, and neither changes during a job (one job at a
    time is kept; the key is the job's uuid, which is never reused)."""
    job = InversionJob.objects.select_related("model_spec", "target_set").get(uuid=job_uuid)
    on = torch.device(device)
    return model_spec_representation(job.model_spec).to(on), _seed_images(
        job, InversionConfig.from_dict(job.config), on
    )


def _device() -> torch.device:
    if settings.METAMER_DEVICE:
        return torch.device(settings.METAMER_DEVICE)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _claim(job_id: int, device: torch.device, *, retry_failed: bool) -> InversionJob | None:
    """Mark the job running on this worker, in one conditional update so that concurrent chunk
    tasks never overwrite a cancellation or another chunk's failure; None when the job is not
    runnable."""
    now = timezone.now()
    runnable = [InversionJob.Status.QUEUED, InversionJob.Status.RUNNING]
    if retry_failed:
        runnable.append(InversionJob.Status.FAILED)
    claimed = InversionJob.objects.filter(pk=job_id, status__in=runnable).update(
        status=InversionJob.Status.RUNNING,
        started_at=Coalesce(F("started_at"), Value(now)),
        heartbeat_at=now,
        device=str(device),
        error="",
        finished_at=None,
    )
    return InversionJob.objects.select_related("model_spec", "target_set").get(pk=job_id) if claimed else None


def _fail(job: InversionJob, exc: Exception) -> None:
    InversionJob.objects.filter(pk=job.pk, status=InversionJob.Status.RUNNING).update(
        status=InversionJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
    )


def inversion_job_run(*, job_id: int, on_progress: Callable[[int, int], None] | None = None) -> InversionJob:
    """Run (or resume, or retry when it failed) a whole job here, chunk after chunk (the CLI,
    the demo). Each chunk is stored in one transaction, so a worker killed midway leaves a job
    the next run finishes without duplicates. ``on_progress(done, total)`` counts optimisation
    steps times images."""
    device = _device()
    job = _claim(job_id, device, retry_failed=True)
    if job is None:
        return InversionJob.objects.get(pk=job_id)
    config = InversionConfig.from_dict(job.config)
    try:
        g, seeds = _network_and_seeds(job.uuid, str(device))
        chunks = job_chunks(job)
        units = (config.steps + 1) * sum(len(chunk) for _, chunk in chunks)
        base = 0
        beat = _heartbeat_when_due(job)
        for _, chunk in chunks:
            job.refresh_from_db(fields=["status"])
            if job.status == InversionJob.Status.CANCELLED:
                return job

            steps = _Steps(job, len(chunk))

            def on_step(
                step: int, _loss: torch.Tensor, base: int = base, n: int = len(chunk), steps: _Steps = steps
            ) -> None:
                beat()
                steps.step()
                if on_progress is not None:
                    on_progress(base + (step + 1) * n, units)

            _run_chunk(job, config, g, seeds, chunk, device, on_step, steps)
            _heartbeat(job)
            base += (config.steps + 1) * len(chunk)
    except Exception as exc:
        _fail(job, exc)
        raise
    _finish_if_complete(job)
    job.refresh_from_db()
    return job


def inversion_job_chunk_run(*, job_id: int, chunk: int) -> InversionJob:
    """Run one chunk of a job (a fanned-out task): the chunk's IRIs not stored yet, then the job
    is DONE once every chunk is. A cancelled or failed job runs nothing."""
    device = _device()
    job = _claim(job_id, device, retry_failed=False)
    if job is None:
        return InversionJob.objects.get(pk=job_id)
    pending = dict(job_chunks(job)).get(chunk, [])
    if pending:
        beat = _heartbeat_when_due(job)
        try:
            g, seeds = _network_and_seeds(job.uuid, str(device))
            steps = _Steps(job, len(pending))

            def on_step(*_) -> None:
                beat()
                steps.step()

            _run_chunk(job, InversionConfig.from_dict(job.config), g, seeds, pending, device, on_step, steps)
        except Exception as exc:
            _fail(job, exc)
            raise
    _finish_if_complete(job)
    job.refresh_from_db()
    return job


NULL_IMAGES = 256
"""At most this many of the target set's images make its null distribution."""


def _activation_null(job: InversionJob, g: torch.nn.Module, device: torch.device) -> np.ndarray:
    """The job's network and layer's null distribution over its target set: read back, or made
    now from up to ``NULL_IMAGES`` of its images and stored (a concurrent chunk may store it
    first: then that one is used)."""
    found = ActivationNull.objects.filter(model_spec=job.model_spec, target_set=job.target_set).first()
    if found is None:
        targets = list(Target.objects.filter(target_set=job.target_set).order_by("index")[:NULL_IMAGES])
        with torch.no_grad():
            activations = torch.cat(
                [
                    g(torch.stack([target_tensor(t) for t in targets[start : start + 32]]).to(device)).cpu()
                    for start in range(0, len(targets), 32)
                ]
            )
        generator = torch.Generator().manual_seed(derive_seed(0, "activation-null"))
        values = null_distribution(activations, pairs=NULL_PAIRS, generator=generator) if len(targets) > 1 else []
        try:
            with transaction.atomic():
                found = ActivationNull.objects.create(
                    model_spec=job.model_spec,
                    target_set=job.target_set,
                    images=len(targets),
                    values=[round(float(v), 6) for v in values],
                    maximum=float(np.max(values)) if len(values) else 1.0,
                )
        except IntegrityError:
            found = ActivationNull.objects.get(model_spec=job.model_spec, target_set=job.target_set)
    return np.asarray(found.values, dtype=float)


def _seed_images(
    job: InversionJob, config: InversionConfig, device: torch.device
) -> dict[tuple[int, int], torch.Tensor]:
    """x0 per (target index, seed index): raw ``N(0, s)`` draws, unclamped, which is what the
    optimisation starts from (as in the authors' code), regenerated identically on resume from
    the job's stored seed. The seed image stored and shown to people is its clamped 8-bit PNG."""
    size = job.model_spec.input_size
    generator = seed_everything(derive_seed(config.seed, "seed-images"))
    scale = SEED_KINDS[config.seed_kind]
    n_targets = job.total // config.seeds_per_target
    per_target = n_targets if config.seed_per_target else 1
    # The authors' Fourier form starts from spectra drawn as raw randn, not from pixels.
    shape = AuthorsFourierImage(size, size, "cpu").shape if config.fourier_form == "authors" else (3, size, size)
    noise = scale * torch.randn(per_target, config.seeds_per_target, *shape, generator=generator)
    seeds = noise.to(device)
    return {
        (t, k): seeds[t if config.seed_per_target else 0, k]
        for t in range(n_targets)
        for k in range(config.seeds_per_target)
    }


def _seed_picture(config: InversionConfig, x0: torch.Tensor) -> torch.Tensor:
    """The seed image people see (3×H×W, clamped when stored): the pixels, or the authors'
    spectrum decoded."""
    if config.fourier_form != "authors":
        return x0
    height = x0.shape[1]
    return AuthorsFourierImage(height, height, x0.device).decode(x0[None])[0]


def _precision(config: InversionConfig, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype for this device, and the label stored with each IRI (``cpu bf16``,
    ``cuda:0 tf32``...). Sets CUDA's TF32 switches as the config asks."""
    tf32 = device.type == "cuda" and config.precision == "tf32"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    dtype = autocast_dtype(config.precision, device)
    return dtype, f"{device} {'bf16' if dtype == torch.bfloat16 else 'tf32' if tf32 else 'fp32'}"


def _run_chunk(job, config, g, seeds, chunk, device, on_step, steps: _Steps) -> None:
    targets = torch.stack([target_tensor(t) for t, _ in chunk]).to(device)
    x0 = torch.stack([seeds[(t.index, k)] for t, k in chunk])
    dtype, precision_label = _precision(config, device)
    started = time.perf_counter()
    # Transform draws depend on the job's seed and the chunk, never on other chunks' progress.
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + chunk[0][0].index)
    options = invert_options(
        config,
        device=device,
        image_size=job.model_spec.input_size,
        autocast=dtype,
        generator=generator,
        cache_dir=settings.METAMER_CACHE_DIR,
    )
    try:
        result = invert(g, targets, x0, **options, on_step=on_step)
    except BaseException:
        steps.take_back()
        raise
    stored_images = imageio.quantize(result.images)
    with torch.no_grad():
        # The distance of what is stored (8-bit PNG), which is what people will see.
        wanted, got = g(targets), g(stored_images)
        rep_distance = relative_distance(wanted, got).cpu()
    rho = rank_correlations(wanted, got)
    null = _activation_null(job, g, device)
    per_image = (time.perf_counter() - started) / len(chunk)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        with transaction.atomic():
            # One writer per job at a time: a chunk run twice (a redelivered task, a resume
            # beside a live worker) finds its IRIs already there and stores none again.
            InversionJob.objects.select_for_update().get(pk=job.pk)
            stored = set(IRI.objects.filter(job=job).values_list("target_id", "seed_index"))
            seed_stimuli: dict[tuple[int, int], Stimulus] = {}
            for i, (target, k) in enumerate(chunk):
                if (target.pk, k) in stored:
                    continue
                seed_key = (target.index if config.seed_per_target else 0, k)
                if seed_key not in seed_stimuli:
                    existing = IRI.objects.filter(job=job, seed_index=k).select_related("seed").first()
                    shared = existing.seed if existing and not config.seed_per_target else None
                    seed_stimuli[seed_key] = shared or stimulus_create(
                        role=Stimulus.Role.SEED, image=_seed_picture(config, x0[i])
                    )
                distance = float(rep_distance[i])
                IRI.objects.create(
                    job=job,
                    target=target,
                    seed_index=k,
                    seed=seed_stimuli[seed_key],
                    stimulus=stimulus_create(role=Stimulus.Role.IRI, image=stored_images[i]),
                    rep_distance=distance,
                    converged=distance <= config.convergence_threshold,
                    activation_rho=float(rho[i]) if np.isfinite(rho[i]) else None,
                    beats_null=beats_null(float(rho[i]), null) if len(null) else None,
                    steps=config.steps,
                    best_step=int(result.best_step[i]),
                    wall_time=per_image,
                    device=precision_label,
                    worker=worker,
                )
            InversionJob.objects.filter(pk=job.pk).update(done=IRI.objects.filter(job=job).count())
            steps.take_back()
    except IntegrityError:
        # SQLite takes no row lock: a concurrent writer stored these IRIs first (the unique
        # constraint refused ours), and nothing of this chunk was kept.
        steps.take_back()
        return
