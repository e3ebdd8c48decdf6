import logging

from celery import shared_task

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Study, Survey
from surveys.recruitment.base import is_transient

logger = logging.getLogger(__name__)


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


@shared_task
def adaptive_round(survey_id: int) -> None:
    """An automatic adaptive round (``Survey.adaptive_every``). A round that cannot run yet (no
    answers that passed the checks, every triplet asked, the survey closed) is logged, not failed:
    the next submission tries again."""
    survey = Survey.objects.get(pk=survey_id)
    try:
        services.survey_adaptive_round(survey=survey, n_trials=survey.adaptive_trials)
    except MetamerError as exc:
        logger.info("no adaptive round for survey %s: %s", survey_id, exc.message)


@shared_task(acks_late=True)
def build_survey(survey_id: int) -> None:
    """Build a survey in the background (LPIPS similarity, simulated participants' choices)."""
    try:
        services.survey_build(survey=Survey.objects.get(pk=survey_id))
    except Exception:
        # The survey records the failure (FAILED, with its reason, to build again).
        logger.exception("survey %s could not be built", survey_id)


@shared_task
def send_unsent_builds() -> None:
    """Builds the task queue could not take when they were made, sent again (the beat)."""
    services.survey_builds_send_unsent()
