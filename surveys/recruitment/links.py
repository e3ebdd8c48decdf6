"""Plain links for lab pilots and the demo: one link per participant slot, no money."""

from __future__ import annotations

from metamer.errors import MetamerError
from surveys.models import Assignment, Payment, Publication, Survey
from surveys.recruitment.base import RemoteSubmission


class LinksRecruiter:
    name = "links"
    bonus_idempotent = True

    def check(self, survey: Survey, reward_cents: int, url: str) -> None:
        """Links take anyone with the link; nothing to check."""

    def review_state(self, assignment: Assignment) -> str | None:
        return None

    def bonuses_paid(self, payment: Payment) -> int | None:
        return None

    def publish(self, publication: Publication, survey: Survey, url: str) -> None:
        publication.external_id = str(survey.uuid)

    def submissions(self, publication: Publication) -> list[RemoteSubmission]:
        return [
            RemoteSubmission(external_id=a.token, worker_id=a.participant.external_id, status=a.status)
            for a in publication.survey.assignments.select_related("participant")
        ]

    def participant_started(self, assignment: Assignment) -> None:
        """Metamer's own check (one participant per study) is the whole rule here."""

    def approve(self, assignment: Assignment) -> None:
        """Nothing to pay."""

    def reject(self, assignment: Assignment, feedback: str) -> None:
        """Nothing to withhold."""

    def bonus(self, payment: Payment) -> None:
        raise MetamerError("plain links move no money: pay bonuses outside Metamer")

    def stop(self, publication: Publication) -> None:
        """Closing the survey stops the links."""

    def block(self, assignment: Assignment, reason: str) -> None:
        """Metamer's own check keeps them out."""


def slot_links(base_url: str, survey: Survey) -> list[str]:
    """One link per participant slot."""
    return [
        f"{base_url.rstrip('/')}/s/{survey.uuid}/?pid=slot-{survey.pk}-{i + 1}"
        for i in range(survey.workers_per_survey)
    ]
