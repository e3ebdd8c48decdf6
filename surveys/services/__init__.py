"""Writes for surveys, by concern: assembly (``assembly``), arrivals and answers (``answers``),
recruitment (``recruitment``), review and payments (``payments``)."""

from surveys.services.answers import (
    assignment_finish,
    assignment_start,
    assignment_submit,
    assignments_expire,
    response_record,
)
from surveys.services.assembly import (
    similarity_matrix_load,
    survey_assemble,
    survey_assemble_check,
    survey_open,
    trial_lpips_choices_compute,
)
from surveys.services.payments import (
    REJECTION_FEEDBACK,
    assignment_approve,
    assignment_bonus,
    assignment_flag,
    assignment_reject,
    participant_block,
    study_review,
)
from surveys.services.recruitment import (
    Budget,
    participant_started,
    study_budget,
    study_publish,
    study_stop,
    study_sync,
)

__all__ = [
    "REJECTION_FEEDBACK",
    "Budget",
    "assignment_approve",
    "assignment_bonus",
    "assignment_finish",
    "assignment_flag",
    "assignment_reject",
    "assignment_start",
    "assignment_submit",
    "assignments_expire",
    "participant_block",
    "participant_started",
    "response_record",
    "similarity_matrix_load",
    "study_budget",
    "study_publish",
    "study_review",
    "study_stop",
    "study_sync",
    "survey_assemble",
    "survey_assemble_check",
    "survey_open",
    "trial_lpips_choices_compute",
]
