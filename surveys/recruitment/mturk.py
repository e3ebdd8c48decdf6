"""Amazon Mechanical Turk, as the paper recruited (boto3 ``mturk``, us-east-1).

The sandbox unless a study is explicitly switched to production. Every create and payment
carries a deterministic ``UniqueRequestToken``, so a retried call never makes a second HIT or
pays twice; botocore retries throttling and 5xx errors itself (standard mode). What a lost
answer leaves unknown is read back, never guessed from an error's wording: the HIT by its
``RequesterAnnotation`` (``ListHITs``), an assignment's review by ``GetAssignment``, a bonus by
``ListBonusPayments``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from django.utils import timezone

from metamer.errors import MetamerError
from surveys.models import Assignment, Payment, Publication, Study, Survey
from surveys.recruitment.base import Arrival, RemoteSubmission, Terms

SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
PRODUCTION_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
EXTERNAL_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
)
APPROVAL_RATE = "000000000000000000L0"
APPROVED_HITS = "00000000000000000040"
LOCALE = "00000000000000000071"
LIFETIME_SECONDS = 7 * 24 * 3600
AUTO_APPROVAL_SECONDS = 3 * 24 * 3600
FRAME_HEIGHT = 0  # 0: the full height of the worker's window


def external_question(url: str, frame_height: int = FRAME_HEIGHT) -> str:
    """The 2006-07-14 ExternalQuestion XML; MTurk frames only HTTPS pages."""
    if not url.startswith("https://"):
        raise MetamerError(f"Mechanical Turk shows only HTTPS pages; {url} is not (set METAMER_PUBLIC_URL)")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NS}">'
        f"<ExternalURL>{escape(url)}</ExternalURL><FrameHeight>{frame_height}</FrameHeight></ExternalQuestion>"
    )


def dollars(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def qualification_requirements(study: Study) -> list[dict]:
    requirements = [
        {
            "QualificationTypeId": APPROVAL_RATE,
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [study.min_approval_rate],
        },
        {
            "QualificationTypeId": APPROVED_HITS,
            "Comparator": "GreaterThanOrEqualTo",
            "IntegerValues": [study.min_approved_hits],
        },
    ]
    if study.locales:
        requirements.append(
            {"QualificationTypeId": LOCALE, "Comparator": "In", "LocaleValues": [{"Country": c} for c in study.locales]}
        )
    if study.qualification_type_id:
        # Backed by Metamer's own check; this keeps returning workers from even seeing the HIT.
        requirements.append({"QualificationTypeId": study.qualification_type_id, "Comparator": "DoesNotExist"})
    return requirements


MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
MTURK_SUBMIT_HOSTS = {"www.mturk.com", "workersandbox.mturk.com"}


class MTurkRecruiter(Terms):
    name = "mturk"
    label = "Amazon Mechanical Turk"
    fee_rule = "20% commission, 40% for HITs with 10 or more assignments"
    study_fields = ("mturk_production", "min_approval_rate", "min_approved_hits", "locales", "qualification_type_id")
    tells_started = True
    bonus_idempotent = True

    @classmethod
    def connect(cls, *, production: bool = False) -> MTurkRecruiter:
        return cls(production=production)

    @classmethod
    def fee_rate(cls, study: Study, places: int) -> float:
        return 0.4 if places >= 10 else 0.2

    @classmethod
    def money(cls, cents: int) -> str:
        return f"${cents / 100:,.2f}"

    @classmethod
    def arrival(cls, study: Study, params: dict[str, str]) -> Arrival:
        """MTurk's own parameters; a preview (no assignment yet) starts nothing, and only a
        ``turkSubmitTo`` on MTurk's own hosts is taken (the last page posts there)."""
        assignment_id = params.get("assignmentId", "")
        if not assignment_id or assignment_id == MTURK_PREVIEW:
            return Arrival(external_id="", preview=True)
        submit_to = params.get("turkSubmitTo", "")
        parsed = urlsplit(submit_to)
        if parsed.scheme != "https" or parsed.hostname not in MTURK_SUBMIT_HOSTS or parsed.username or parsed.password:
            raise MetamerError("this link did not come from Mechanical Turk (turkSubmitTo is missing or foreign)")
        data = {"assignmentId": assignment_id, "hitId": params.get("hitId", ""), "turkSubmitTo": submit_to}
        return Arrival(external_id=params.get("workerId", ""), data=data)

    @classmethod
    def completion(cls, assignment: Assignment) -> dict:
        data = assignment.recruiter_data
        return {
            "kind": "post",
            "action": data["turkSubmitTo"].rstrip("/") + "/mturk/externalSubmit",
            "fields": {
                "assignmentId": data["assignmentId"],
                "completion_code": assignment.survey.study.completion_code,
            },
        }

    @classmethod
    def vouches(cls, existing: Assignment, recruiter_data: dict, session_key: str) -> bool:
        """MTurk vouches for a worker's return by the same assignmentId."""
        assignment_id = recruiter_data.get("assignmentId")
        return bool(assignment_id) and assignment_id == existing.recruiter_data.get("assignmentId")

    def __init__(self, *, production: bool = False, client=None) -> None:
        if client is None and boto3.Session().get_credentials() is None:
            raise MetamerError(
                "no AWS credentials for Mechanical Turk: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "AWS_PROFILE) in the environment"
            )
        self.client = client or boto3.client(
            "mturk",
            region_name="us-east-1",
            endpoint_url=PRODUCTION_ENDPOINT if production else SANDBOX_ENDPOINT,
            # Throttling and 5xx are retried by botocore; AWS_RETRY_MODE=adaptive also rate-limits.
            config=Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard"), "max_attempts": 6}),
        )

    def _qualification(self, study: Study) -> str:
        """The study's 'took part already' qualification type, created once (found on a retry)."""
        if study.qualification_type_id:
            return study.qualification_type_id
        name = f"Metamer study {study.pk}: took part"
        try:
            created = self.client.create_qualification_type(
                Name=name,
                Description=f"Granted to workers who started Metamer study {study.pk}, so nobody takes it twice.",
                QualificationTypeStatus="Active",
            )
            type_id = created["QualificationType"]["QualificationTypeId"]
        except ClientError:
            # Made by an earlier try whose answer was lost? Look it up by its name.
            found = self.client.list_qualification_types(Query=name, MustBeRequestable=False, MustBeOwnedByCaller=True)
            type_id = next((q["QualificationTypeId"] for q in found["QualificationTypes"] if q["Name"] == name), None)
            if type_id is None:
                raise
        study.qualification_type_id = type_id
        study.save(update_fields=["qualification_type_id"])
        return type_id

    def check(self, survey: Survey, reward_cents: int, url: str) -> None:
        external_question(url)
        if reward_cents < 1:
            raise MetamerError("Mechanical Turk needs a reward of at least 0.01 per assignment", field="reward_cents")

    def _find_hit(self, token: str) -> str | None:
        """The HIT an earlier try made, by the publication's token in its RequesterAnnotation."""
        for page in self.client.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 100}):
            for hit in page["HITs"]:
                if hit.get("RequesterAnnotation") == token:
                    return hit["HITId"]
        return None

    def publish(self, publication: Publication, survey: Survey, url: str) -> None:
        if publication.external_id:
            return
        study = survey.study
        self._qualification(study)
        hit_type = self.client.create_hit_type(
            AutoApprovalDelayInSeconds=AUTO_APPROVAL_SECONDS,
            AssignmentDurationInSeconds=survey.minutes_allotted * 60,
            Reward=dollars(publication.reward_cents),
            Title="Which images look alike? (image similarity survey)",
            Keywords="image, similarity, perception, survey",
            Description=f"Compare images: {survey.n_trials + survey.n_attention_checks} quick questions.",
            QualificationRequirements=qualification_requirements(study),
        )
        publication.external_type_id = hit_type["HITTypeId"]
        try:
            hit = self.client.create_hit_with_hit_type(
                HITTypeId=publication.external_type_id,
                MaxAssignments=publication.places,
                LifetimeInSeconds=LIFETIME_SECONDS,
                Question=external_question(url),
                RequesterAnnotation=publication.request_token,
                UniqueRequestToken=publication.request_token,
            )
            publication.external_id = hit["HIT"]["HITId"]
        except Exception:
            # An earlier try (or this one) may have made the HIT and lost the answer; MTurk
            # then refuses the repeated token. The HIT carries the token: look it up.
            found = self._find_hit(publication.request_token)
            if found is None:
                raise
            publication.external_id = found

    def submissions(self, publication: Publication) -> list[RemoteSubmission]:
        pages = self.client.get_paginator("list_assignments_for_hit").paginate(
            HITId=publication.external_id,
            AssignmentStatuses=["Submitted", "Approved", "Rejected"],
            PaginationConfig={"PageSize": 100},
        )
        return [
            RemoteSubmission(external_id=a["AssignmentId"], worker_id=a["WorkerId"], status=a["AssignmentStatus"])
            for page in pages
            for a in page["Assignments"]
        ]

    def participant_started(self, assignment: Assignment) -> None:
        study = assignment.survey.study
        self.client.associate_qualification_with_worker(
            QualificationTypeId=self._qualification(study),
            WorkerId=assignment.participant.external_id,
            IntegerValue=1,
            SendNotification=False,
        )

    def _assignment_id(self, assignment: Assignment) -> str:
        return assignment.recruiter_data["assignmentId"]

    def review_state(self, assignment: Assignment) -> str | None:
        found = self.client.get_assignment(AssignmentId=self._assignment_id(assignment))
        return found["Assignment"]["AssignmentStatus"].lower()

    def bonuses_paid(self, payment: Payment) -> int:
        pages = self.client.get_paginator("list_bonus_payments").paginate(
            AssignmentId=self._assignment_id(payment.assignment), PaginationConfig={"PageSize": 100}
        )
        amount = dollars(payment.amount_cents)
        return sum(
            1
            for page in pages
            for bonus in page["BonusPayments"]
            if bonus["BonusAmount"] == amount and bonus.get("Reason", "") == payment.reason
        )

    def approve(self, assignment: Assignment) -> None:
        self.client.approve_assignment(AssignmentId=self._assignment_id(assignment))

    def reject(self, assignment: Assignment, feedback: str) -> None:
        if not feedback.strip():
            raise MetamerError("a rejection needs feedback telling the worker why", field="feedback")
        self.client.reject_assignment(AssignmentId=self._assignment_id(assignment), RequesterFeedback=feedback)

    def bonus(self, payment: Payment) -> None:
        payment.requested_at = timezone.now()
        payment.save(update_fields=["requested_at"])
        self.client.send_bonus(
            WorkerId=payment.assignment.participant.external_id,
            BonusAmount=dollars(payment.amount_cents),
            AssignmentId=self._assignment_id(payment.assignment),
            Reason=payment.reason,
            UniqueRequestToken=payment.request_token,
        )

    def stop(self, publication: Publication) -> None:
        # A past expiry ends the HIT at once; workers who accepted it may still submit.
        self.client.update_expiration_for_hit(HITId=publication.external_id, ExpireAt=datetime(2015, 1, 1, tzinfo=UTC))

    def block(self, assignment: Assignment, reason: str) -> None:
        self.client.create_worker_block(WorkerId=assignment.participant.external_id, Reason=reason)
