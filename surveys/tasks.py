from celery import shared_task

from surveys import services
from surveys.models import Study
from surveys.recruitment.base import is_transient


@shared_task(bind=True, max_retries=5)
def mark_participant_started(self, assignment_id: int) -> None:
    """Tell the recruiter a worker started; retried (with backoff) on transient failures only."""
    try:
        services.participant_started(assignment_id=assignment_id)
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise self.retry(exc=exc, countdown=2**self.request.retries) from None


@shared_task
def sync_recruiters() -> None:
    """Periodic (Celery beat): cross-check every recruiting study with its recruiter."""
    for study in Study.objects.filter(surveys__publication__status="published").distinct():
        services.study_sync(study=study)
