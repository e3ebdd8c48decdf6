"""Every MTurk request checked against botocore's own API model (Stubber on a real client)."""

from datetime import UTC, datetime
from xml.etree import ElementTree

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Payment, Publication
from surveys.recruitment import mturk
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db
BASE = "https://metamer.example.org"


@pytest.fixture
def client():
    # One attempt per call: each stubbed answer is one call; retries are botocore's own job.
    c = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=mturk.SANDBOX_ENDPOINT,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"max_attempts": 1}),
    )
    with Stubber(c) as stub:
        yield c, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def study(iris):
    study = StudyFactory(recruiter="mturk")
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5, workers_per_survey=3)
    return study


def _publish_stubs(stub, study, *, hit_error=None, qualification=True):
    if qualification:
        stub.add_response(
            "create_qualification_type",
            {"QualificationType": {"QualificationTypeId": "QUALTAKEN0000000000001"}},
            {"Name": f"Metamer study {study.pk}: took part", "Description": ANY, "QualificationTypeStatus": "Active"},
        )
    stub.add_response(
        "create_hit_type",
        {"HITTypeId": "HITTYPE00000000000000001"},
        {
            "AutoApprovalDelayInSeconds": 259200,
            "AssignmentDurationInSeconds": 3600,
            "Reward": "7.50",
            "Title": ANY,
            "Keywords": ANY,
            "Description": ANY,
            "QualificationRequirements": [
                {
                    "QualificationTypeId": "000000000000000000L0",
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [95],
                },
                {
                    "QualificationTypeId": "00000000000000000040",
                    "Comparator": "GreaterThanOrEqualTo",
                    "IntegerValues": [100],
                },
                {
                    "QualificationTypeId": "00000000000000000071",
                    "Comparator": "In",
                    "LocaleValues": [{"Country": c} for c in ("US", "GB", "CA", "AU", "NZ", "IE")],
                },
                {"QualificationTypeId": "QUALTAKEN0000000000001", "Comparator": "DoesNotExist"},
            ],
        },
    )
    expected = {
        "HITTypeId": "HITTYPE00000000000000001",
        "MaxAssignments": 3,
        "LifetimeInSeconds": 604800,
        "Question": ANY,
        "RequesterAnnotation": ANY,
        "UniqueRequestToken": ANY,
    }
    if hit_error:
        stub.add_client_error("create_hit_with_hit_type", *hit_error, expected_params=expected)
    else:
        stub.add_response("create_hit_with_hit_type", {"HIT": {"HITId": "HIT000000000000000000001"}}, expected)


def _list_hits(stub, hits):
    stub.add_response("list_hits", {"NumResults": len(hits), "HITs": hits}, {"MaxResults": 100})


def _mturk_state(stub, assignment_id, status, hit_id="HIT000000000000000000001"):
    stub.add_response(
        "get_assignment",
        {
            "Assignment": {
                "AssignmentId": assignment_id,
                "WorkerId": "W" + assignment_id[1:],
                "HITId": hit_id,
                "AssignmentStatus": status,
            }
        },
        {"AssignmentId": assignment_id},
    )


def test_external_question_is_well_formed_https_xml():
    xml = mturk.external_question("https://metamer.example.org/s/abc/?a=1&b=2")
    root = ElementTree.fromstring(xml)
    assert root.tag == "{" + mturk.EXTERNAL_QUESTION_NS + "}ExternalQuestion"
    assert mturk.EXTERNAL_QUESTION_NS.endswith("2006-07-14/ExternalQuestion.xsd")
    assert (
        root.find(f"{{{mturk.EXTERNAL_QUESTION_NS}}}ExternalURL").text == "https://metamer.example.org/s/abc/?a=1&b=2"
    )
    with pytest.raises(MetamerError, match="only HTTPS"):
        mturk.external_question("http://insecure.example.org/")


def test_publishing_needs_confirmation_and_shows_the_cost(study, client):
    c, _ = client
    with pytest.raises(MetamerError, match=r"3 × 7.50 \+ fee 4.50 \(20.0%\)") as err:
        services.study_publish(study=study, base_url=BASE, recruiter=mturk.MTurkRecruiter(client=c))
    assert err.value.code == "confirm"
    assert not Publication.objects.exists()


def test_publish_creates_one_hit_with_qualifications(study, client):
    c, stub = client
    _publish_stubs(stub, study)
    [publication] = services.study_publish(
        study=study, base_url=BASE, confirm=True, recruiter=mturk.MTurkRecruiter(client=c)
    )
    assert (publication.external_id, publication.status) == ("HIT000000000000000000001", "published")
    assert len(publication.request_token) <= 64
    study.refresh_from_db()
    assert study.qualification_type_id == "QUALTAKEN0000000000001"
    assert publication.survey.status == "open"


def test_a_failed_publish_resumes_without_a_second_hit(study, client):
    c, stub = client
    recruiter = mturk.MTurkRecruiter(client=c)
    _publish_stubs(stub, study, hit_error=("ServiceUnavailable", "Service unavailable", 503))
    _list_hits(stub, [])  # the look-up after the failure finds nothing yet
    with pytest.raises(ClientError, match="Service unavailable"):
        services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    publication = Publication.objects.get()
    assert publication.status == "creating"
    token = publication.request_token
    # The second try: MTurk had in fact made the HIT and refuses the repeated token; the HIT
    # carries the token in its RequesterAnnotation, and the look-up finds it.
    _publish_stubs(
        stub,
        study,
        qualification=False,
        hit_error=("RequestError", "The request is a duplicate of an earlier one.", 400),
    )
    stub.add_response(
        "list_hits",
        {
            "NextToken": "p2",
            "NumResults": 1,
            "HITs": [{"HITId": "HIT000000000000000000099", "RequesterAnnotation": "x"}],
        },
        {"MaxResults": 100},
    )
    stub.add_response(
        "list_hits",
        {"NumResults": 1, "HITs": [{"HITId": "HIT000000000000000000001", "RequesterAnnotation": token}]},
        {"MaxResults": 100, "NextToken": "p2"},
    )
    [publication] = services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    assert publication.external_id == "HIT000000000000000000001" and publication.status == "published"
    assert Publication.objects.count() == 1


def _published(study, c, stub):
    _publish_stubs(stub, study)
    return services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=mturk.MTurkRecruiter(client=c))[0]


def _worker(study, worker, assignment_id, *, fail_checks=False):
    survey = study.surveys.get()
    a = services.assignment_start(
        survey=survey,
        external_id=worker,
        recruiter_data={
            "assignmentId": assignment_id,
            "hitId": "HIT000000000000000000001",
            "turkSubmitTo": "https://workersandbox.mturk.com",
        },
    )
    for t in survey.trials.all():
        answer = (1 - t.correct) if (fail_checks and t.is_attention_check) else t.correct
        services.response_record(assignment=a, trial_id=t.pk, answer=answer, idempotency_key=str(t.pk))
    return a


def test_sync_reads_every_page_and_review_approves_everyone_by_default(study, client):
    c, stub = client
    publication = _published(study, c, stub)
    good, careless = _worker(study, "W1", "A1"), _worker(study, "W2", "A2", fail_checks=True)
    page = {
        "HITId": publication.external_id,
        "AssignmentStatuses": ["Submitted", "Approved", "Rejected"],
        "MaxResults": 100,
    }
    stub.add_response(
        "list_assignments_for_hit",
        {
            "NextToken": "p2",
            "NumResults": 1,
            "Assignments": [
                {
                    "AssignmentId": "A1",
                    "WorkerId": "W1",
                    "HITId": publication.external_id,
                    "AssignmentStatus": "Submitted",
                }
            ],
        },
        page,
    )
    stub.add_response(
        "list_assignments_for_hit",
        {
            "NumResults": 1,
            "Assignments": [
                {
                    "AssignmentId": "A2",
                    "WorkerId": "W2",
                    "HITId": publication.external_id,
                    "AssignmentStatus": "Submitted",
                }
            ],
        },
        {**page, "NextToken": "p2"},
    )
    assert services.study_sync(study=study, recruiter=mturk.MTurkRecruiter(client=c)) == {
        "remote": 2,
        "matched": 2,
        "unknown": 0,
    }
    with pytest.raises(MetamerError, match=r"pays 15\.00"):
        services.study_review(study=study, recruiter=mturk.MTurkRecruiter(client=c))
    for assignment_id in ("A1", "A2"):
        _mturk_state(stub, assignment_id, "Submitted")
        stub.add_response("approve_assignment", {}, {"AssignmentId": assignment_id})
    result = services.study_review(study=study, confirm=True, recruiter=mturk.MTurkRecruiter(client=c))
    assert (result.approved, result.rejected, result.failures) == (2, 0, [])
    # The default policy pays the worker who failed a check too (left out of the analysis only).
    good.refresh_from_db()
    careless.refresh_from_db()
    assert (good.status, careless.status) == ("approved", "approved")


def test_rejecting_failures_is_opt_in_and_carries_feedback(study, client):
    c, stub = client
    _published(study, c, stub)
    study.review_policy = "reject-failures"
    study.save()
    _worker(study, "W1", "A1")
    _worker(study, "W2", "A2", fail_checks=True)
    _mturk_state(stub, "A1", "Submitted")
    stub.add_response("approve_assignment", {}, {"AssignmentId": "A1"})
    _mturk_state(stub, "A2", "Submitted")
    stub.add_response("reject_assignment", {}, {"AssignmentId": "A2", "RequesterFeedback": services.REJECTION_FEEDBACK})
    result = services.study_review(study=study, confirm=True, recruiter=mturk.MTurkRecruiter(client=c))
    assert (result.approved, result.rejected) == (1, 1)


def test_approving_what_mturk_already_approved_records_it_without_a_second_call(study, client):
    c, stub = client
    _published(study, c, stub)
    a = _worker(study, "W1", "A1")
    _mturk_state(stub, "A1", "Approved")  # no approve_assignment stubbed: calling it would fail
    services.assignment_approve(assignment=a, confirm=True, recruiter=mturk.MTurkRecruiter(client=c))
    a.refresh_from_db()
    assert a.status == "approved"


def test_a_bonus_is_paid_once_even_when_retried(study, client):
    c, stub = client
    _published(study, c, stub)
    a = _worker(study, "W1", "A1")
    expected = {
        "WorkerId": "W1",
        "BonusAmount": "1.25",
        "AssignmentId": "A1",
        "Reason": "Thank you",
        "UniqueRequestToken": ANY,
    }
    no_bonus = {"NumResults": 0, "BonusPayments": []}
    listed = {"AssignmentId": "A1", "MaxResults": 100}
    recruiter = mturk.MTurkRecruiter(client=c)
    with pytest.raises(MetamerError, match="confirm"):
        services.assignment_bonus(assignment=a, amount_cents=125, reason="Thank you", recruiter=recruiter)
    stub.add_response("list_bonus_payments", no_bonus, listed)
    stub.add_client_error("send_bonus", "ServiceUnavailable", "timeout", 503, expected_params=expected)
    stub.add_response("list_bonus_payments", no_bonus, listed)  # read back: MTurk did not pay
    with pytest.raises(ClientError, match="timeout"):
        services.assignment_bonus(assignment=a, amount_cents=125, reason="Thank you", confirm=True, recruiter=recruiter)
    stub.add_response("list_bonus_payments", no_bonus, listed)
    stub.add_response("send_bonus", {}, {**expected, "UniqueRequestToken": Payment.objects.get().request_token})
    payment = services.assignment_bonus(
        assignment=a, amount_cents=125, reason="Thank you", confirm=True, recruiter=recruiter
    )
    assert Payment.objects.count() == 1 and payment.sent_at is not None


def test_stop_expires_the_hit_and_workers_can_be_blocked_and_marked(study, client):
    c, stub = client
    publication = _published(study, c, stub)
    a = _worker(study, "W1", "A1")
    recruiter = mturk.MTurkRecruiter(client=c)
    stub.add_response(
        "associate_qualification_with_worker",
        {},
        {
            "QualificationTypeId": "QUALTAKEN0000000000001",
            "WorkerId": "W1",
            "IntegerValue": 1,
            "SendNotification": False,
        },
    )
    recruiter.participant_started(a)
    stub.add_response("create_worker_block", {}, {"WorkerId": "W1", "Reason": "Answered at random"})
    recruiter.block(a, "Answered at random")
    stub.add_response(
        "update_expiration_for_hit",
        {},
        {"HITId": publication.external_id, "ExpireAt": datetime(2015, 1, 1, tzinfo=UTC)},
    )
    assert services.study_stop(study=study, recruiter=recruiter) == 1
    publication.refresh_from_db()
    assert publication.status == "stopped" and publication.survey.status == "closed"


def test_throttled_then_successful_create_makes_exactly_one_hit(study, client):
    c, stub = client
    recruiter = mturk.MTurkRecruiter(client=c)
    _publish_stubs(stub, study, hit_error=("ThrottlingException", "Rate exceeded", 400))
    _list_hits(stub, [])
    with pytest.raises(ClientError, match="Rate exceeded"):
        services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    first_token = Publication.objects.get().request_token
    _publish_stubs(stub, study, qualification=False)
    [publication] = services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    assert publication.external_id == "HIT000000000000000000001" and publication.request_token == first_token
    assert Publication.objects.count() == 1


def test_blocking_from_the_service_calls_create_worker_block_and_flags(study, client):
    c, stub = client
    _published(study, c, stub)
    a = _worker(study, "W1", "A1")
    stub.add_response("create_worker_block", {}, {"WorkerId": "W1", "Reason": "Bot-like answers"})
    services.participant_block(assignment=a, reason="Bot-like answers", recruiter=mturk.MTurkRecruiter(client=c))
    a.refresh_from_db()
    assert a.flagged and a.review_note == "blocked: Bot-like answers"
