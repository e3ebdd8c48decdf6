from celery import shared_task

from surveys import services
from surveys.models import Study


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def mark_participant_started(assignment_id: int) -> None:
    services.participant_started(assignment_id=assignment_id)


@shared_task
def sync_recruiters() -> None:
    """Periodic (Celery beat): cross-check every recruiting study with its recruiter."""
    for study in Study.objects.filter(surveys__publication__status="published").distinct():
        services.study_sync(study=study)
