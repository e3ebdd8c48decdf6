"""Prolific, where researchers recruit now that Mechanical Turk has closed: its public REST API
(``https://api.prolific.com/api/v1/``) with token auth (``PROLIFIC_TOKEN``).

A study is found by its internal name (the publication's request token) before one is
created, so a repeated publish never makes a second study. Idempotent calls are retried with
backoff on 429 and 5xx. Paying a bulk bonus is not idempotent (Prolific's documentation says a
repeated call pays again), so its id is stored before it is paid and a payment whose answer was
lost is confirmed from the submission's ``bonus_payments``, never resent blind.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import requests
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from metamer.errors import MetamerError
from surveys.models import Assignment, Payment, Publication, Study, Survey
from surveys.recruitment.base import Arrival, RemoteSubmission, Terms

API = "https://api.prolific.com/api/v1"
MIN_HOURLY_CENTS = 800  # Prolific's minimum pay: £6.00 / $8.00 an hour
URL_PARAMETERS = "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
"""Prolific's documented placeholders (double braces), replaced by each participant's ids."""
REVIEW_STATES = {"AWAITING REVIEW": "submitted", "APPROVED": "approved", "REJECTED": "rejected"}
COMPLETE = "https://app.prolific.com/submissions/complete"


class ProlificRecruiter(Terms):
    name = "prolific"
    label = "Prolific"
    fee_rule = "platform fee: 33.3% academic/non-profit, 42.8% corporate"
    study_fields = ("academic",)
    bonus_idempotent = False

    @classmethod
    def connect(cls, *, production: bool = False) -> ProlificRecruiter:
        return cls()

    @classmethod
    def fee_rate(cls, study: Study, places: int) -> float:
        return 0.333 if study.academic else 0.428

    @classmethod
    def money(cls, cents: int) -> str:
        return f"{cents / 100:,.2f} in the Prolific account's currency"

    @classmethod
    def arrival(cls, study: Study, params: dict[str, str]) -> Arrival:
        data = {k: params.get(k, "") for k in ("STUDY_ID", "SESSION_ID")}
        pid = params.get("PROLIFIC_PID", "")
        if any("%" in value or "{" in value for value in (pid, *data.values())):
            # Prolific left its placeholder in place: every such arrival would share one id.
            raise MetamerError(
                "this link still carries Prolific's placeholders instead of your ids: open the study from Prolific"
            )
        return Arrival(external_id=pid, data=data)

    @classmethod
    def completion(cls, assignment: Assignment) -> dict:
        return {"kind": "return", "url": f"{COMPLETE}?{urlencode({'cc': assignment.survey.study.completion_code})}"}

    @classmethod
    def vouches(cls, existing: Assignment, recruiter_data: dict, session_key: str) -> bool:
        """Prolific vouches for a participant's return by the same session id."""
        session = recruiter_data.get("SESSION_ID")
        return bool(session) and session == existing.recruiter_data.get("SESSION_ID")

    def __init__(self, *, token: str | None = None, session: requests.Session | None = None) -> None:
        token = token or os.environ.get("PROLIFIC_TOKEN")
        if not token:
            raise MetamerError("set PROLIFIC_TOKEN in the environment to use Prolific")
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        retry = Retry(total=5, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=["GET"])
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def _call(self, method: str, path: str, **kwargs) -> dict:
        reply = self.session.request(method, f"{API}{path}", timeout=30, **kwargs)
        if reply.status_code == 429 or reply.status_code >= 500:
            # Passing trouble, and Prolific may have acted: the caller reads the state back.
            reply.raise_for_status()
        if reply.status_code >= 400:
            raise MetamerError(
                f"Prolific refused {method} {path}: {reply.status_code} {reply.text[:300]}", code="recruiter"
            )
        return reply.json() if reply.content else {}

    def _find(self, internal_name: str) -> dict | None:
        studies = self._call("GET", "/studies/")["results"]
        return next((s for s in studies if s.get("internal_name") == internal_name), None)

    def check(self, survey: Survey, reward_cents: int, url: str) -> None:
        minutes = _estimated_minutes(survey)
        if reward_cents * 60 / minutes < MIN_HOURLY_CENTS:
            raise MetamerError(
                f"{survey.name}: {reward_cents / 100:.2f} for about {minutes} minutes is under Prolific's minimum "
                f"of {MIN_HOURLY_CENTS / 100:.2f} an hour: raise the reward",
                field="reward_cents",
            )
        if not url.startswith(("https://", "http://")):
            raise MetamerError(f"Prolific sends participants to a web address; {url} is not one", field="base_url")

    def publish(self, publication: Publication, survey: Survey, url: str) -> None:
        minutes = _estimated_minutes(survey)
        existing = self._find(publication.request_token)
        if existing is None:
            separator = "&" if "?" in url else "?"
            existing = self._call(
                "POST",
                "/studies/",
                json={
                    "name": "Which images look alike?",
                    "internal_name": publication.request_token,
                    "description": f"Compare images: {survey.n_trials + survey.n_attention_checks} quick questions.",
                    "external_study_url": f"{url}{separator}{URL_PARAMETERS}",
                    "prolific_id_option": "url_parameters",
                    "completion_codes": [
                        {
                            "code": survey.study.completion_code,
                            "code_type": "COMPLETED",
                            "actions": [{"action": "MANUALLY_REVIEW"}],
                        }
                    ],
                    "total_available_places": publication.places,
                    "estimated_completion_time": minutes,
                    "maximum_allowed_time": survey.minutes_allotted,
                    "reward": publication.reward_cents,
                    "device_compatibility": ["desktop", "tablet", "mobile"],
                },
            )
        publication.external_id = existing["id"]
        if existing.get("status", "UNPUBLISHED") == "UNPUBLISHED":
            self._call("POST", f"/studies/{publication.external_id}/transition/", json={"action": "PUBLISH"})

    def submissions(self, publication: Publication) -> list[RemoteSubmission]:
        out, path = [], f"/studies/{publication.external_id}/submissions/"
        while path:
            page = self._call("GET", path)
            out += [
                RemoteSubmission(s["id"], s["participant_id"], s["status"], data={"submission_id": s["id"]})
                for s in page["results"]
            ]
            following = (page.get("_links") or {}).get("next", {}).get("href")
            path = following.removeprefix(API) if following else None
        return out

    def participant_started(self, assignment: Assignment) -> None:
        """Prolific admits each participant to a study once; Metamer's own check covers the rest."""

    def _submission(self, assignment: Assignment) -> str:
        # Prolific's SESSION_ID parameter is the submission's id; a sync confirms it.
        submission = assignment.recruiter_data.get("submission_id") or assignment.recruiter_data.get("SESSION_ID")
        if not submission:
            raise MetamerError("this assignment has no Prolific submission id yet: sync first")
        return submission

    def review_state(self, assignment: Assignment) -> str | None:
        status = self._call("GET", f"/submissions/{self._submission(assignment)}/").get("status", "")
        return REVIEW_STATES.get(status, status.lower() or None)

    def bonuses_paid(self, payment: Payment) -> int:
        submission = self._call("GET", f"/submissions/{self._submission(payment.assignment)}/")
        return sum(1 for cents in submission.get("bonus_payments") or [] if round(cents) == payment.amount_cents)

    def approve(self, assignment: Assignment) -> None:
        self._call("POST", f"/submissions/{self._submission(assignment)}/transition/", json={"action": "APPROVE"})

    def reject(self, assignment: Assignment, feedback: str) -> None:
        if len(feedback.strip()) < 100:
            raise MetamerError("Prolific asks for a rejection message of at least 100 characters", field="feedback")
        self._call(
            "POST",
            f"/submissions/{self._submission(assignment)}/transition/",
            json={"action": "REJECT", "message": feedback, "rejection_category": "FAILED_CHECK"},
        )

    def bonus(self, payment: Payment) -> None:
        """Set up the bulk bonus once (its id stored on the payment before it is paid), then pay
        it, recording that the paying call is being sent just before sending it."""
        assignment = payment.assignment
        if not payment.external_id:
            created = self._call(
                "POST",
                "/submissions/bonus-payments/",
                json={
                    "study_id": assignment.survey.publication.external_id,
                    "csv_bonuses": f"{assignment.participant.external_id},{payment.amount_cents / 100:.2f}\n",
                },
            )
            payment.external_id = created["id"]
            payment.save(update_fields=["external_id"])
        payment.requested_at = timezone.now()
        payment.save(update_fields=["requested_at"])
        self._call("POST", f"/bulk-bonus-payments/{payment.external_id}/pay/")

    def stop(self, publication: Publication) -> None:
        self._call("POST", f"/studies/{publication.external_id}/transition/", json={"action": "STOP"})

    def block(self, assignment: Assignment, reason: str) -> None:
        raise MetamerError("Prolific has no API to block a participant; Metamer's own check keeps them out")


def _estimated_minutes(survey: Survey) -> int:
    """What Prolific shows as the expected time: a third of the time allowed, at least 1."""
    return max(1, round(survey.minutes_allotted / 3))
