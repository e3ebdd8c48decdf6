"""Inversion jobs: creating, running (resumably, in chunks), cancelling; the IRIs they store."""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import torch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError

from inversion.config import SEED_KINDS, InversionConfig, invert_options
from inversion.models import IRI, InversionJob, ModelSpec, Stimulus, TargetSet
from inversion.selectors import job_chunks, job_stalled, model_spec_representation, target_tensor
from inversion.services.targets import stimulus_create
from metamer.errors import MetamerError
from metamer.queue import send_stamped
from science import images as imageio
from science.engine import autocast_dtype, invert, relative_distance
from science.seeding import derive_seed, seed_everything

logger = logging.getLogger(__name__)


def inversion_job_check(*, model_spec: ModelSpec, target_set: TargetSet, config: InversionConfig) -> int:
    """Say what is wrong with a job before it is stored; returns how many IRIs it will make."""
    if target_set.status == TargetSet.Status.IMPORTING:
        raise MetamerError(
            f"{target_set.name} is still importing ({target_set.imported}/{target_set.total} images); "
            "start the job when it is ready",
            field="target_set",
        )
    if target_set.status == TargetSet.Status.FAILED:
        raise MetamerError(f"{target_set.name}'s import failed: {target_set.message}", field="target_set")
    if target_set.image_size != model_spec.input_size:
        raise MetamerError(
            f"the targets are {target_set.image_size}×{target_set.image_size} but {model_spec.name} takes "
            f"{model_spec.input_size}×{model_spec.input_size}; import them at the model's input size",
            field="target_set",
        )
    n_targets = target_set.targets.count()
    if n_targets == 0:
        raise MetamerError("the target set is empty", field="target_set")
    return n_targets * config.seeds_per_target


def inversion_job_create(
    *, model_spec: ModelSpec, target_set: TargetSet, config: InversionConfig, enqueue: bool = True
) -> InversionJob:
    """Create a job once ``inversion_job_check`` passes, and queue it on the ``gpu`` queue once
    the surrounding transaction commits (``enqueue=False``: the caller runs it, e.g. the demo
    with its progress bar)."""
    total = inversion_job_check(model_spec=model_spec, target_set=target_set, config=config)
    job = InversionJob.objects.create(
        model_spec=model_spec, target_set=target_set, config=config.to_dict(), total=total
    )
    if enqueue:
        _send(job)
    return job


def _send(job: InversionJob) -> None:
    """Queue the job once committed; stamp ``enqueued_at`` when the queue took it."""
    from inversion.tasks import run_inversion_job  # tasks import services: resolved at call time

    send_stamped(run_inversion_job, job)


UNSENT_GRACE_SECONDS = 30
"""A queued job unsent for this long (the queue could not be reached) is sent again."""


def inversion_jobs_send_unsent() -> list[int]:
    """Send again every queued job the task queue could not take when it was made (the beat
    runs this every minute). Returns the jobs handed over now."""
    from inversion.tasks import run_inversion_job  # tasks import services: resolved at call time

    since = timezone.now() - timedelta(seconds=UNSENT_GRACE_SECONDS)
    sent = []
    unsent = InversionJob.objects.filter(status=InversionJob.Status.QUEUED, enqueued_at__isnull=True)
    for job_id in unsent.filter(created_at__lt=since).values_list("pk", flat=True):
        try:
            run_inversion_job.delay(job_id)
        except OperationalError:
            logger.warning("the task queue still cannot be reached; job %s waits", job_id)
            break
        InversionJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now())
        sent.append(job_id)
    return sent


_ALLOWED_MOVES = {
    InversionJob.Status.QUEUED: {InversionJob.Status.RUNNING, InversionJob.Status.CANCELLED},
    # RUNNING → RUNNING: a worker killed midway left it running; the next one resumes it.
    # RUNNING → QUEUED: a stalled job put back in the queue (``inversion_job_resume``).
    InversionJob.Status.RUNNING: {
        InversionJob.Status.RUNNING,
        InversionJob.Status.QUEUED,
        InversionJob.Status.DONE,
        InversionJob.Status.FAILED,
        InversionJob.Status.CANCELLED,
    },
    InversionJob.Status.FAILED: {InversionJob.Status.RUNNING, InversionJob.Status.QUEUED},
    InversionJob.Status.DONE: set(),
    InversionJob.Status.CANCELLED: set(),
}


def _move(job: InversionJob, status: str, **fields) -> None:
    if status not in _ALLOWED_MOVES[job.status]:
        raise MetamerError(f"job {job.pk} is {job.status}; it cannot become {status}", code="conflict")
    job.status = status
    for key, value in fields.items():
        setattr(job, key, value)
    job.save(update_fields=["status", *fields])


def inversion_job_cancel(*, job: InversionJob) -> InversionJob:
    _move(job, InversionJob.Status.CANCELLED, finished_at=timezone.now())
    return job


HEARTBEAT_SECONDS = 30


def inversion_job_resume(*, job: InversionJob, enqueue: bool = True) -> InversionJob:
    """Put a failed job, a queued one nobody picked up, or a running one whose worker went
    silent (a killed worker, a lost machine), back in the queue. It resumes where it stopped: IRIs already stored are kept and
    none is made twice. A job whose worker is alive is refused."""
    job.refresh_from_db()  # decide on the job as it is now, not as the caller last read it
    if job.status == InversionJob.Status.RUNNING and not job_stalled(job):
        raise MetamerError(
            f"job {job.pk} is running and its worker was heard from in the last "
            f"{settings.METAMER_JOB_LEASE_SECONDS} s; it is not stalled",
            code="conflict",
        )
    if job.status != InversionJob.Status.QUEUED:  # a queued job (never picked up) just goes again
        _move(job, InversionJob.Status.QUEUED, error="")
    if enqueue:
        _send(job)
    return job


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

            def on_step(step: int, _loss: torch.Tensor, base: int = base, n: int = len(chunk)) -> None:
                beat()
                if on_progress is not None:
                    on_progress(base + (step + 1) * n, units)

            _run_chunk(job, config, g, seeds, chunk, device, on_step)
            _heartbeat(job)
            base += (config.steps + 1) * len(chunk)
    except Exception as exc:
        _fail(job, exc)
        raise
    _finish_if_complete(job)
    job.refresh_from_db()
    return job


def inversion_job_dispatch(*, job_id: int) -> list[int]:
    """Fan a job out: one ``gpu``-queue task per chunk with work left, taken by as many Celery
    workers as are running (each IRI is stored exactly once whoever runs its chunk, however
    often). Returns the chunk numbers sent."""
    from inversion.tasks import run_inversion_chunk  # tasks import services: resolved at call time

    job = InversionJob.objects.select_related("target_set").get(pk=job_id)
    if job.status not in (InversionJob.Status.QUEUED, InversionJob.Status.RUNNING):
        return []
    numbers = [number for number, _ in job_chunks(job)]
    if not numbers:
        _finish_if_complete(job)
    for number in numbers:
        run_inversion_chunk.delay(job.pk, number)
    return numbers


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
            _run_chunk(job, InversionConfig.from_dict(job.config), g, seeds, pending, device, lambda *_: beat())
        except Exception as exc:
            _fail(job, exc)
            raise
    _finish_if_complete(job)
    job.refresh_from_db()
    return job


def _finish_if_complete(job: InversionJob) -> None:
    with transaction.atomic():
        locked = InversionJob.objects.select_for_update().get(pk=job.pk)
        locked.done = IRI.objects.filter(job=job).count()
        if locked.status == InversionJob.Status.RUNNING and locked.done >= locked.total:
            locked.status, locked.finished_at = InversionJob.Status.DONE, timezone.now()
        locked.save(update_fields=["done", "status", "finished_at"])


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
    noise = scale * torch.randn(per_target, config.seeds_per_target, 3, size, size, generator=generator)
    seeds = noise.to(device)
    return {
        (t, k): seeds[t if config.seed_per_target else 0, k]
        for t in range(n_targets)
        for k in range(config.seeds_per_target)
    }


def _precision(config: InversionConfig, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype for this device, and the label stored with each IRI (``cpu bf16``,
    ``cuda:0 tf32``...). Sets CUDA's TF32 switches as the config asks."""
    tf32 = device.type == "cuda" and config.precision == "tf32"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    dtype = autocast_dtype(config.precision, device)
    return dtype, f"{device} {'bf16' if dtype == torch.bfloat16 else 'tf32' if tf32 else 'fp32'}"


def _run_chunk(job, config, g, seeds, chunk, device, on_step) -> None:
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
    result = invert(g, targets, x0, **options, on_step=on_step)
    stored_images = imageio.quantize(result.images)
    with torch.no_grad():
        # The distance of what is stored (8-bit PNG), which is what people will see.
        rep_distance = relative_distance(g(targets), g(stored_images)).cpu()
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
                    seed_stimuli[seed_key] = shared or stimulus_create(role=Stimulus.Role.SEED, image=x0[i])
                distance = float(rep_distance[i])
                IRI.objects.create(
                    job=job,
                    target=target,
                    seed_index=k,
                    seed=seed_stimuli[seed_key],
                    stimulus=stimulus_create(role=Stimulus.Role.IRI, image=stored_images[i]),
                    rep_distance=distance,
                    converged=distance <= config.convergence_threshold,
                    steps=config.steps,
                    best_step=int(result.best_step[i]),
                    wall_time=per_image,
                    device=precision_label,
                    worker=worker,
                )
            InversionJob.objects.filter(pk=job.pk).update(done=IRI.objects.filter(job=job).count())
    except IntegrityError:
        # SQLite takes no row lock: a concurrent writer stored these IRIs first (the unique
        # constraint refused ours), and nothing of this chunk was kept.
        return
