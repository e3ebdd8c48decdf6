"""The recruiter interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from surveys.models import Assignment, Payment, Publication, Survey


@dataclass(frozen=True)
class RemoteSubmission:
    """What the recruiter says about one worker's assignment: a cross-check on Metamer's own."""

    external_id: str
    worker_id: str
    status: str


class Recruiter(Protocol):
    name: str

    def publish(self, publication: Publication, survey: Survey, url: str) -> None:
        """Create (or find, on a retry) the recruiter's object for this survey and open it.
        Sets ``publication.external_id`` before anything else can fail."""

    def submissions(self, publication: Publication) -> list[RemoteSubmission]:
        """Every assignment the recruiter knows for this publication, over all pages."""

    def participant_started(self, assignment: Assignment) -> None:
        """A worker started: keep them from taking part in the study again."""

    def approve(self, assignment: Assignment) -> None: ...

    def reject(self, assignment: Assignment, feedback: str) -> None: ...

    def bonus(self, payment: Payment) -> None: ...

    def stop(self, publication: Publication) -> None: ...

    def block(self, assignment: Assignment, reason: str) -> None: ...
