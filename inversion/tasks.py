from celery import shared_task

from inversion import services


@shared_task(acks_late=True)
def run_inversion_job(job_id: int) -> None:
    services.inversion_job_run(job_id=job_id)
