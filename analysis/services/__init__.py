"""Writes for analysis, by concern: study reports (``reports``); many models' alignment with
human similarity data: which models (``zoo_models``), what they read (``alignment_inputs``), the
benchmark (``benchmark``), its files (``alignment_outputs``) and a stored run's lifecycle
(``alignment``); a study as one archive and back (``archive``)."""

from analysis.services.alignment import (
    alignment_run_create,
    alignment_run_embed,
    alignment_run_execute,
    alignment_run_finish,
)
from analysis.services.alignment_inputs import human_read, images_read, scores_read
from analysis.services.alignment_outputs import alignment_write
from analysis.services.archive import study_export, study_import
from analysis.services.benchmark import alignment_compute, embedding_compute
from analysis.services.reports import report_build
from analysis.services.withdrawal import participant_delete
from analysis.services.zoo_models import zoo_models_check

__all__ = [
    "alignment_compute",
    "alignment_run_create",
    "alignment_run_embed",
    "alignment_run_execute",
    "alignment_run_finish",
    "alignment_write",
    "embedding_compute",
    "human_read",
    "images_read",
    "participant_delete",
    "report_build",
    "scores_read",
    "study_export",
    "study_import",
    "zoo_models_check",
]
