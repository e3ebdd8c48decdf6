"""Writes for analysis, by concern: study reports (started: ``report_builds``; written: ``reports``); many models' alignment with
human similarity data: which models (``zoo_models``), what they read (``alignment_inputs``), the
benchmark (``benchmark``), its files (``alignment_outputs``) and a stored run's lifecycle
(``alignment``); a study as one archive and back (``archive``).

The names load on first use (PEP 562), each from its own module, so importing this package
imports none of them: the web processes import only what their requests use."""

from __future__ import annotations

from metamer.lazy import lazy_names

_HOMES = {
    "alignment_compute": "benchmark",
    "alignment_run_create": "alignment",
    "alignment_run_embed": "alignment",
    "alignment_run_execute": "alignment",
    "alignment_run_finish": "alignment",
    "alignment_write": "alignment_outputs",
    "embedding_compute": "benchmark",
    "human_read": "alignment_inputs",
    "images_read": "alignment_inputs",
    "participant_delete": "withdrawal",
    "report_build": "report_builds",
    "report_fill": "reports",
    "reports_send_unsent": "report_builds",
    "scores_read": "alignment_inputs",
    "study_export": "archive",
    "study_import": "archive",
    "zoo_models_check": "zoo_models",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_names(__name__, _HOMES)
