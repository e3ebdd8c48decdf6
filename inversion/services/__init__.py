"""Writes for the inversion app, by concern: stimuli and target sets (``targets``), large
uploads imported in the background (``imports``), model specs (``specs``), jobs and their IRIs
(``jobs``), LPIPS judgements of IRIs (``judgements``)."""

from inversion.services.imports import (
    target_set_import_fail,
    target_set_import_run,
    target_set_imports_send_unsent,
)
from inversion.services.jobs import (
    inversion_job_cancel,
    inversion_job_check,
    inversion_job_chunk_run,
    inversion_job_create,
    inversion_job_dispatch,
    inversion_job_resume,
    inversion_job_run,
    inversion_jobs_send_unsent,
)
from inversion.services.judgements import lpips_judgements_compute
from inversion.services.specs import model_spec_check, model_spec_register, model_specs_top1_import
from inversion.services.targets import (
    NOISE_LAWS,
    stimulus_create,
    target_set_check,
    target_set_create,
    target_set_create_from_images,
    target_set_create_noise,
    target_set_images_count,
    target_set_import,
    upload_on_disk,
)

__all__ = [
    "NOISE_LAWS",
    "inversion_job_cancel",
    "inversion_job_check",
    "inversion_job_chunk_run",
    "inversion_job_create",
    "inversion_job_dispatch",
    "inversion_job_resume",
    "inversion_job_run",
    "inversion_jobs_send_unsent",
    "lpips_judgements_compute",
    "model_spec_check",
    "model_spec_register",
    "model_specs_top1_import",
    "stimulus_create",
    "target_set_check",
    "target_set_create",
    "target_set_create_from_images",
    "target_set_create_noise",
    "target_set_images_count",
    "target_set_import",
    "target_set_import_fail",
    "target_set_import_run",
    "target_set_imports_send_unsent",
    "upload_on_disk",
]
