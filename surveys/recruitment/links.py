"""Plain links for lab pilots and the demo: one link per place, a long random token each, no
money. Whoever opens a link first takes its place; it resumes only in the browser that started
it, so a forwarded or guessed link never shows someone else's answers or completion code. Once
the links are listed, the survey's bare address admits nobody else unless the study allows open
entry, and then each walk-in takes a free listed place."""

from __future__ import annotations

from metamer.errors import MetamerError
from surveys.models import Assignment, Payment, Publication, Survey, SurveyLink
from surveys.recruitment.base import RemoteSubmission, Terms


class LinksRecruiter(Terms):
    name = "links"
    label = "Plain links (pilots, no money)"
    pays = False
    study_fields = ("open_entry", "completion_redirect_url")
    fee_rule = "no money moves"
    published_hint = "; each survey's page (Surveys → the survey) lists its links, one per place, with copy buttons"
    bonus_idempotent = True
    places_are_links = True

    @classmethod
    def walk_ins(cls, study) -> bool:
        """Only with open entry switched on: otherwise a made-up id could fill the places."""
        return study.open_entry

    @classmethod
    def connect(cls, *, production: bool = False) -> LinksRecruiter:
        return cls()

    def check(self, survey: Survey, reward_cents: int, url: str) -> None:
        """Links take anyone with the link; nothing to check."""

    def review_state(self, assignment: Assignment) -> str | None:
        return None

    def bonuses_paid(self, payment: Payment) -> int | None:
        return None

    def publish(self, publication: Publication, survey: Survey, url: str) -> None:
        publication.external_id = str(survey.uuid)
        missing = survey.workers_per_survey - survey.links.count()
        SurveyLink.objects.bulk_create([SurveyLink(survey=survey) for _ in range(max(0, missing))])

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
    """One link per place (made when the survey is published)."""
    return [f"{base_url.rstrip('/')}/s/{survey.uuid}/?link={link.token}" for link in survey.links.order_by("pk")]
