"""Writes for surveys, by concern: assembly (``assembly``: a design checked once, then stored),
building (``building``: what an IRI survey computes before it opens), the simulated
participants' choices (``choices``), adaptive rounds (``adaptive``), what workers read
(``content``), arrivals and answers (``answers``), recruitment (``recruitment``), review and
payments (``payments``), human similarity data (``similarity``).

The names load on first use (PEP 562), each from its own module, so importing this package
imports none of them: the web processes import only what their requests use."""

from __future__ import annotations

from metamer.lazy import lazy_names

_HOMES = {
    "Budget": "recruitment",
    "CONTENT_FIELDS": "content",
    "PROCESS": "audit",
    "REJECTION_FEEDBACK": "payments",
    "SurveyDesign": "assembly",
    "assignment_approve": "payments",
    "assignment_bonus": "payments",
    "assignment_exclude": "audit",
    "assignment_exit_record": "answers",
    "assignment_finish": "answers",
    "assignment_flag": "payments",
    "assignment_include": "audit",
    "assignment_note": "audit",
    "assignment_practice_record": "answers",
    "assignment_reject": "payments",
    "assignment_start": "answers",
    "assignment_submit": "answers",
    "assignments_expire": "answers",
    "audit_record": "audit",
    "kriegeskorte92_import": "similarity",
    "kriegeskorte92_read": "similarity_files",
    "participant_block": "payments",
    "participant_started": "recruitment",
    "participant_withdraw": "withdrawal",
    "participant_withdraw_check": "withdrawal",
    "response_record": "answers",
    "similarity_data_create": "similarity",
    "similarity_data_from_survey": "similarity",
    "similarity_data_import": "similarity",
    "similarity_data_upload": "similarity",
    "similarity_file_read": "similarity_files",
    "similarity_matrix_load": "assembly",
    "study_budget": "recruitment",
    "study_publish": "recruitment",
    "study_review": "payments",
    "study_stop": "recruitment",
    "study_sync": "recruitment",
    "survey_adaptive_round": "adaptive",
    "survey_assemble": "assembly",
    "survey_assemble_check": "assembly",
    "survey_assemble_triplets": "assembly",
    "survey_build": "building",
    "survey_build_retry": "building",
    "survey_build_send": "building",
    "survey_builds_send_unsent": "building",
    "survey_content_update": "content",
    "survey_open": "assembly",
    "survey_triplets_plan": "assembly",
    "trial_lpips_choices_compute": "choices",
    "trials_store": "assembly",
    "triplet_file_read": "similarity_files",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_names(__name__, _HOMES)
