import logging

from celery import shared_task

from analysis import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def embed_alignment_model(run_id: int, model_name: str) -> None:
    """One model of an alignment run (the last one to finish aligns them all)."""
    try:
        services.alignment_run_embed(run_id=run_id, model_name=model_name)
    except Exception:
        # The run records what failed; the worker carries on.
        logger.exception("alignment run %s failed on %s", run_id, model_name)


@shared_task(acks_late=True)
def build_report(report_id: int) -> None:
    """Write a study's report (it is ready, or failed with the reason)."""
    services.report_fill(report_id=report_id)


@shared_task
def send_unsent_reports() -> None:
    """Reports the task queue could not take when they were asked for, sent again (the beat)."""
    services.reports_send_unsent()
