"""Inversion jobs: checking, creating, queueing, cancelling and resuming them. What runs them
(torch) is in ``runs``, which only the processes that invert import."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from inversion.config import InversionConfig
from inversion.models import IRI, InversionJob, ModelSpec, TargetSet
from inversion.selectors import job_chunks, job_stalled
from metamer.errors import MetamerError
from metamer.queue import send_after_commit, send_stamped

logger = logging.getLogger(__name__)


def inversion_job_check(*, model_spec: ModelSpec, target_set: TargetSet, config: InversionConfig) -> int:
    """Say what is wrong with a job before it is stored; returns how many IRIs it will make."""
    if model_spec.status == ModelSpec.Status.CHECKING:
        raise MetamerError(
            f"{model_spec.name}'s network is still being checked (seconds); start the job when it is ready",
            field="model_spec",
        )
    if model_spec.status == ModelSpec.Status.FAILED:
        raise MetamerError(
            f"{model_spec.name} failed its check ({model_spec.message}); register the network again",
            field="model_spec",
        )
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
    # What a killed worker had reported of its unfinished chunk is run again from the start.
    InversionJob.objects.filter(pk=job.pk).update(steps_in_flight=0)
    if enqueue:
        _send(job)
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


def _finish_if_complete(job: InversionJob) -> None:
    with transaction.atomic():
        locked = InversionJob.objects.select_for_update().get(pk=job.pk)
        locked.done = IRI.objects.filter(job=job).count()
        if locked.status == InversionJob.Status.RUNNING and locked.done >= locked.total:
            locked.status, locked.finished_at = InversionJob.Status.DONE, timezone.now()
        locked.save(update_fields=["done", "status", "finished_at"])


def job_recognition_start(*, job: InversionJob) -> None:
    """Queue every classifier's reading of a finished job's IRIs (replacing earlier readings)."""
    if job.status != InversionJob.Status.DONE or not job.iris.exists():
        raise MetamerError(f"job {job.pk} has no finished IRIs to classify yet", field="job")
    from inversion.tasks import recognise_job

    send_after_commit(recognise_job, job.pk)
