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
