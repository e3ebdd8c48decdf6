"""Writes for analysis, by concern: study reports (``reports``) and many models' alignment with
human similarity data (``alignment``)."""

from analysis.services.alignment import (
    alignment_run_create,
    alignment_run_execute,
    alignment_run_finish,
    alignment_write,
    embedding_compute,
)
from analysis.services.reports import report_build

__all__ = [
    "alignment_run_create",
    "alignment_run_execute",
    "alignment_run_finish",
    "alignment_write",
    "embedding_compute",
    "report_build",
]
