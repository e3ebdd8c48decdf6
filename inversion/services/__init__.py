"""Writes for the inversion app, by concern: stimuli and target sets (``targets``), large
uploads imported in the background (``imports``), model specs (``specs``), jobs and their IRIs
(``jobs``; running them: ``runs``; other classifiers' reading of them: ``recognition``), LPIPS distances between images and judgements of IRIs (``judgements``).

The names load on first use (PEP 562), each from its own module, so importing this package
imports none of them: the web processes import only what their requests use."""

from __future__ import annotations

from metamer.lazy import lazy_names

_HOMES = {
    "inversion_job_cancel": "jobs",
    "inversion_job_check": "jobs",
    "inversion_job_chunk_run": "runs",
    "inversion_job_create": "jobs",
    "inversion_job_dispatch": "jobs",
    "inversion_job_resume": "jobs",
    "inversion_job_run": "runs",
    "inversion_jobs_send_unsent": "jobs",
    "job_recognition_compute": "recognition",
    "job_recognition_start": "jobs",
    "lpips_distances_compute": "judgements",
    "lpips_judgements_compute": "judgements",
    "model_spec_check": "specs",
    "model_spec_check_run": "specs",
    "model_spec_check_settings": "specs",
    "model_spec_register": "specs",
    "model_specs_send_unsent": "specs",
    "model_specs_top1_import": "specs",
    "stimulus_create": "targets",
    "target_set_check": "target_sets",
    "target_set_create": "target_sets",
    "target_set_create_from_images": "targets",
    "target_set_create_noise": "targets",
    "target_set_images_count": "target_sets",
    "target_set_import": "targets",
    "target_set_import_fail": "imports",
    "target_set_import_run": "imports",
    "target_set_imports_send_unsent": "imports",
    "target_set_noise_draw": "targets",
    "target_size_choose": "target_sets",
    "upload_on_disk": "target_sets",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_names(__name__, _HOMES)
