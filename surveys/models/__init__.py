"""Studies, their surveys and trials, the people who take them and every answer they give, by
area: ``studies``, ``designs`` (surveys, trials), ``workers`` (participants, places, answers,
the audit log), ``money`` (publications, payments), ``similarity`` (human similarity data)."""

from surveys.models.designs import Survey, Trial, TrialLpipsChoice, TrialSlot
from surveys.models.money import Payment, Publication
from surveys.models.similarity import SimilarityData
from surveys.models.studies import Study, _completion_code, _english_speaking
from surveys.models.workers import Assignment, AuditEntry, Participant, Response, SurveyLink, _link_token

__all__ = [
    "Assignment",
    "AuditEntry",
    "Participant",
    "Payment",
    "Publication",
    "Response",
    "SimilarityData",
    "Study",
    "Survey",
    "SurveyLink",
    "Trial",
    "TrialLpipsChoice",
    "TrialSlot",
    "_completion_code",
    "_english_speaking",
    "_link_token",
]
