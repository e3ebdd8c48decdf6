"""Housekeeping that belongs to no app."""

from celery import shared_task

from metamer.kept import held_uploads_clear


@shared_task
def clear_held_uploads() -> None:
    """Periodic (Celery beat): uploads kept for a refused form are removed a day later."""
    held_uploads_clear()
