"""How each recruiter hands a participant to Metamer's pages and takes them back.

The worker's pages are recruiter-agnostic: this module turns the arrival's query parameters
into a participant id (or a preview), and an assignment into what completing means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlparse

from metamer.errors import MetamerError
from surveys.models import Assignment, Study

MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
MTURK_SUBMIT_HOSTS = {"www.mturk.com", "workersandbox.mturk.com"}
PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete"


@dataclass(frozen=True)
class Arrival:
    external_id: str
    data: dict[str, Any] = field(default_factory=dict)
    preview: bool = False


def arrival(study: Study, params: dict[str, str]) -> Arrival:
    """Who is arriving, by the recruiter's own query parameters."""
    if study.recruiter == Study.Recruiter.MTURK:
        assignment_id = params.get("assignmentId", "")
        if not assignment_id or assignment_id == MTURK_PREVIEW:
            return Arrival(external_id="", preview=True)
        submit_to = params.get("turkSubmitTo", "")
        if urlparse(submit_to).scheme != "https" or urlparse(submit_to).hostname not in MTURK_SUBMIT_HOSTS:
            raise MetamerError("this link did not come from Mechanical Turk (turkSubmitTo is missing or foreign)")
        data = {"assignmentId": assignment_id, "hitId": params.get("hitId", ""), "turkSubmitTo": submit_to}
        return Arrival(external_id=params.get("workerId", ""), data=data)
    if study.recruiter == Study.Recruiter.PROLIFIC:
        data = {k: params.get(k, "") for k in ("STUDY_ID", "SESSION_ID")}
        pid = params.get("PROLIFIC_PID", "")
        if any("%" in value or "{" in value for value in (pid, *data.values())):
            # Prolific left its placeholder in place: every such arrival would share one id.
            raise MetamerError(
                "this link still carries Prolific's placeholders instead of your ids: open the study from Prolific"
            )
        return Arrival(external_id=pid, data=data)
    return Arrival(external_id=params.get("pid", ""))


def completion(assignment: Assignment) -> dict[str, Any]:
    """What the last page does: post to MTurk, send back to Prolific, or show a code."""
    study = assignment.survey.study
    data = assignment.recruiter_data
    if study.recruiter == Study.Recruiter.MTURK:
        return {
            "kind": "mturk",
            "action": data["turkSubmitTo"].rstrip("/") + "/mturk/externalSubmit",
            "fields": {"assignmentId": data["assignmentId"], "completion_code": study.completion_code},
        }
    if study.recruiter == Study.Recruiter.PROLIFIC:
        return {"kind": "prolific", "url": f"{PROLIFIC_COMPLETE}?{urlencode({'cc': study.completion_code})}"}
    return {"kind": "links", "code": study.completion_code, "redirect": study.completion_redirect_url}
