"""Writes for surveys, by concern: assembly (``assembly``: a design checked once, then stored),
the simulated participants' choices (``choices``), adaptive rounds (``adaptive``), what workers
read (``content``), arrivals and answers (``answers``), recruitment (``recruitment``), review
and payments (``payments``), human similarity data (``similarity``)."""

from surveys.services.adaptive import survey_adaptive_round
from surveys.services.answers import (
    assignment_exit_record,
    assignment_finish,
    assignment_practice_record,
    assignment_start,
    assignment_submit,
    assignments_expire,
    response_record,
)
from surveys.services.assembly import (
    SurveyDesign,
    similarity_matrix_load,
    survey_assemble,
    survey_assemble_check,
    survey_assemble_triplets,
    survey_open,
    survey_triplets_plan,
)
from surveys.services.audit import PROCESS, assignment_exclude, assignment_include, assignment_note, audit_record
from surveys.services.choices import trial_lpips_choices_compute
from surveys.services.content import CONTENT_FIELDS, survey_content_update
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
from surveys.services.similarity import (
    kriegeskorte92_import,
    similarity_data_create,
    similarity_data_from_survey,
    similarity_data_import,
    similarity_data_upload,
)
from surveys.services.similarity_files import kriegeskorte92_read, similarity_file_read, triplet_file_read
from surveys.services.withdrawal import participant_withdraw, participant_withdraw_check

__all__ = [
    "CONTENT_FIELDS",
    "PROCESS",
    "REJECTION_FEEDBACK",
    "Budget",
    "SurveyDesign",
    "assignment_approve",
    "assignment_bonus",
    "assignment_exclude",
    "assignment_exit_record",
    "assignment_finish",
    "assignment_flag",
    "assignment_include",
    "assignment_note",
    "assignment_practice_record",
    "assignment_reject",
    "assignment_start",
    "assignment_submit",
    "assignments_expire",
    "audit_record",
    "kriegeskorte92_import",
    "kriegeskorte92_read",
    "participant_block",
    "participant_started",
    "participant_withdraw",
    "participant_withdraw_check",
    "response_record",
    "similarity_data_create",
    "similarity_data_from_survey",
    "similarity_data_import",
    "similarity_data_upload",
    "similarity_file_read",
    "similarity_matrix_load",
    "study_budget",
    "study_publish",
    "study_review",
    "study_stop",
    "study_sync",
    "survey_adaptive_round",
    "survey_assemble",
    "survey_assemble_check",
    "survey_assemble_triplets",
    "survey_content_update",
    "survey_open",
    "survey_triplets_plan",
    "trial_lpips_choices_compute",
    "triplet_file_read",
]
