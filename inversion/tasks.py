import logging

from celery import shared_task

from inversion import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def run_inversion_job(job_id: int) -> None:
    """Fan the job out as one task per chunk."""
    services.inversion_job_dispatch(job_id=job_id)


@shared_task
def send_unsent_jobs() -> None:
    """Jobs, imports and network checks the task queue could not take when they were made, sent again (the
    beat, each minute)."""
    services.inversion_jobs_send_unsent()
    services.target_set_imports_send_unsent()
    services.model_specs_send_unsent()


@shared_task(acks_late=True)
def check_model_spec(model_spec_id: int) -> None:
    """Build and run a newly registered network once (it is ready, or failed with the reason)."""
    services.model_spec_check_run(model_spec_id=model_spec_id)


@shared_task(acks_late=True)
def run_target_set_import(target_set_id: int) -> None:
    """Import (or resume) a large upload, chunk by chunk."""
    services.target_set_import_run(target_set_id=target_set_id)


@shared_task(acks_late=True)
def run_inversion_chunk(job_id: int, chunk: int) -> None:
    try:
        services.inversion_job_chunk_run(job_id=job_id, chunk=chunk)
    except Exception:
        # The job records the failure (FAILED, with its reason, resumable); the request or
        # worker that ran it carries on.
        logger.exception("inversion job %s failed in chunk %s", job_id, chunk)


@shared_task(acks_late=True)
def recognise_job(job_id: int) -> None:
    """Every classifier's reading of a finished job's IRIs."""
    services.job_recognition_compute(job_id=job_id)
