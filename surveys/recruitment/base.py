"""The recruiter interface: what a recruiter does with money and workers (``Recruiter``, an
instance holding its client) and what it means for Metamer's pages and prices (``Terms``, class
level, needing no credentials: arrival, completion, resuming, fees, money)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import requests
from botocore.exceptions import BotoCoreError, ClientError

from surveys.models import Assignment, Payment, Publication, Survey

MTURK_TRANSIENT_CODES = {"Throttling", "ThrottlingException", "ServiceUnavailable", "ServiceFailure"}


def is_transient(exc: BaseException) -> bool:
    """Whether a recruiter call failed in a way that trying again later may cure: no answer
    (a connection or read timeout), throttling, or the service's own passing failure. A
    ``MetamerError`` never is: it says what the researcher must change."""
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and (exc.response.status_code == 429 or exc.response.status_code >= 500)
    if isinstance(exc, requests.RequestException | BotoCoreError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in MTURK_TRANSIENT_CODES
    return False


def refused_before_acting(exc: BaseException) -> bool:
    """Whether a failed call certainly did nothing at the recruiter: a refusal that says what to
    change, or throttling (the request was turned away). A 5xx or a lost answer may have acted."""
    from metamer.errors import MetamerError

    if isinstance(exc, MetamerError):
        return True
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code == 429
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in {"Throttling", "ThrottlingException"}
    return False


@dataclass(frozen=True)
class RemoteSubmission:
    """What the recruiter says about one worker's assignment: a cross-check on Metamer's own.
    ``data`` is kept in the assignment's ``recruiter_data`` (ids later calls need)."""

    external_id: str
    worker_id: str
    status: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Arrival:
    """Who arrives on a survey's landing page, by the recruiter's own query parameters."""

    external_id: str
    data: dict[str, Any] = field(default_factory=dict)
    preview: bool = False


class Terms:
    """A recruiter's terms, the same for every study of it; each recruiter class overrides what
    differs. Class methods: the worker's pages and the price need no recruiter credentials."""

    name: ClassVar[str]
    label: ClassVar[str]
    pays: ClassVar[bool] = True
    """Rewards and bonuses move through the recruiter (plain links pay nothing)."""
    fee_rule: ClassVar[str] = ""
    """The fee in words, shown beside every cost."""
    tells_started: ClassVar[bool] = False
    """A worker's start is reported to the recruiter (``participant_started``), once published."""
    published_hint: ClassVar[str] = ""
    """What to do next once surveys are published, said in the admin."""
    study_fields: ClassVar[tuple[str, ...]] = ()
    """The study's fields only this recruiter reads: its page shows them, the others' hide."""
    places_are_links: ClassVar[bool] = False
    """Each place is one of the survey's listed links (made when it is published)."""

    @classmethod
    def walk_ins(cls, study: Any) -> bool:
        """Whether someone without a listed link may take a place (then a free link's)."""
        return True

    @classmethod
    def fee_rate(cls, study: Any, places: int) -> float:
        """The recruiter's fee on each reward."""
        return 0.0

    @classmethod
    def money(cls, cents: int) -> str:
        """An amount as a worker or researcher reads it."""
        return f"{cents / 100:,.2f}"

    @classmethod
    def arrival(cls, study: Any, params: dict[str, str]) -> Arrival:
        """Who is arriving (refused, ``MetamerError``, when the link cannot be the recruiter's)."""
        return Arrival(external_id=params.get("pid", ""))

    @classmethod
    def completion(cls, assignment: Any) -> dict[str, Any]:
        """What the last page does (``kind`` names the template's branch)."""
        study = assignment.survey.study
        return {"kind": "code", "code": study.completion_code, "redirect": study.completion_redirect_url}

    @classmethod
    def vouches(cls, existing: Any, recruiter_data: dict[str, Any], session_key: str) -> bool:
        """Whether an arrival may resume ``existing``: by default, it comes from the browser
        session that started it."""
        return bool(session_key) and session_key == existing.session_key


REVIEW_STATES = ("submitted", "approved", "rejected")
"""What a recruiter can say of a submitted assignment; ``None`` when it keeps no state."""


class Recruiter(Protocol):
    name: str
    bonus_idempotent: bool
    """Whether resending a bonus with its stored token can never pay twice (MTurk's
    ``UniqueRequestToken``); otherwise an unconfirmed payment is never resent blind."""

    def check(self, survey: Survey, reward_cents: int, url: str) -> None:
        """Refuse (``MetamerError``) what the recruiter would refuse, before anything is created."""

    def publish(self, publication: Publication, survey: Survey, url: str) -> None:
        """Create (or find, on a retry) the recruiter's object for this survey and open it.
        Sets ``publication.external_id`` before anything else can fail."""

    def submissions(self, publication: Publication) -> list[RemoteSubmission]:
        """Every assignment the recruiter knows for this publication, over all pages."""

    def participant_started(self, assignment: Assignment) -> None:
        """A worker started: keep them from taking part in the study again."""

    def review_state(self, assignment: Assignment) -> str | None:
        """The recruiter's own review state of an assignment (one of ``REVIEW_STATES``)."""

    def bonuses_paid(self, payment: Payment) -> int | None:
        """How many bonuses of this payment's amount (and reason, where the recruiter keeps it)
        the worker has been paid on this assignment; ``None`` when the recruiter cannot say."""

    def approve(self, assignment: Assignment) -> None: ...

    def reject(self, assignment: Assignment, feedback: str) -> None: ...

    def bonus(self, payment: Payment) -> None:
        """Pay a bonus, setting ``payment.requested_at`` (saved) just before the paying call."""

    def stop(self, publication: Publication) -> None: ...

    def block(self, assignment: Assignment, reason: str) -> None: ...
