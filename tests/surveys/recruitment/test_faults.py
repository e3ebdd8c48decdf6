"""Publishing, reviewing and paying under faults: a throttle (refused before acting), a 503
after the service acted, and a read timeout after it acted, injected at every step of each
flow on both recruiters. After any single fault a second run creates nothing twice, pays
nothing twice, completes what the first began, and leaves Metamer agreeing with the recruiter."""

import pytest
import responses

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Assignment, Payment, Publication
from surveys.recruitment.mturk import MTurkRecruiter
from surveys.recruitment.prolific import ProlificRecruiter
from tests.factories import StudyFactory
from tests.surveys.recruitment.fakes import FAULTS, FakeMTurk, FakeProlific

pytestmark = pytest.mark.django_db
BASE = "https://metamer.example.org"


def _study(iris, recruiter, **survey_fields):
    study = StudyFactory(recruiter=recruiter)
    survey = services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5, workers_per_survey=3)
    for name, value in {"reward_cents": 300, "minutes_allotted": 30, **survey_fields}.items():
        setattr(survey, name, value)
    survey.save()
    return study


def _submitted(study, worker, recruiter_data):
    survey = study.surveys.get()
    assignment = services.assignment_start(survey=survey, external_id=worker, recruiter_data=recruiter_data)
    for trial in survey.trials.all():
        services.response_record(
            assignment=assignment, trial_id=trial.pk, answer=trial.correct, idempotency_key=str(trial.pk)
        )
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED
    return assignment


def _once_with(fault_armed, call):
    """Run ``call`` with a fault armed: it may raise, or complete by reading the state back."""
    fault_armed()
    try:
        return call()
    except Exception:
        return None


# -- Mechanical Turk ------------------------------------------------------------------------


def _mturk_published(iris):
    study = _study(iris, "mturk")
    fake = FakeMTurk()
    recruiter = MTurkRecruiter(client=fake)
    services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    hit_id = Publication.objects.get().external_id
    workers = []
    for n in (1, 2):
        workers.append(
            _submitted(
                study,
                f"W{n}",
                {"assignmentId": f"A{n}", "hitId": hit_id, "turkSubmitTo": "https://workersandbox.mturk.com"},
            )
        )
        fake.add_assignment(f"A{n}", f"W{n}", hit_id)
    return study, fake, recruiter, workers


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", ["create_qualification_type", "create_hit_type", "create_hit_with_hit_type"])
def test_mturk_publish_after_a_fault_makes_one_hit(iris, step, fault):
    study = _study(iris, "mturk")
    fake = FakeMTurk()
    recruiter = MTurkRecruiter(client=fake)
    publish = lambda: services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)  # noqa: E731
    _once_with(lambda: fake.faults.arm(step, fault), publish)
    [publication] = publish()
    assert fake.faults.fired == [(step, fault)]
    assert len(fake.hits) == 1 and len(fake.qualification_types) == 1
    assert publication.external_id in fake.hits and publication.status == Publication.Status.PUBLISHED
    assert Publication.objects.count() == 1


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", ["get_assignment", "approve_assignment"])
def test_mturk_review_after_a_fault_completes_and_never_stops_at_one_assignment(iris, step, fault):
    study, fake, recruiter, workers = _mturk_published(iris)
    first = _once_with(
        lambda: fake.faults.arm(step, fault),
        lambda: services.study_review(study=study, confirm=True, recruiter=recruiter),
    )
    assert first is not None  # a review lists failures, it does not raise
    assert first.approved + len(first.failures) == 2
    failed = {f["assignment"] for f in first.failures}
    for worker in workers:  # the rest went on
        if worker.pk not in failed:
            assert Assignment.objects.get(pk=worker.pk).status == Assignment.Status.APPROVED
    second = services.study_review(study=study, confirm=True, recruiter=recruiter)
    assert not second.failures
    assert {a["AssignmentStatus"] for a in fake.assignments.values()} == {"Approved"}
    assert set(Assignment.objects.values_list("status", flat=True)) == {Assignment.Status.APPROVED}


def test_mturk_review_after_a_lost_approval_records_it_instead_of_failing_forever(iris):
    study, fake, recruiter, _ = _mturk_published(iris)
    fake.assignments["A1"]["AssignmentStatus"] = "Approved"  # approved there; the answer never came back
    result = services.study_review(study=study, confirm=True, recruiter=recruiter)
    assert (result.approved, result.already_done, result.failures) == (2, 1, [])
    assert "1 of them already done at the recruiter" in str(result)


def test_mturk_review_records_a_rejection_made_elsewhere_and_lists_it(iris):
    study, fake, recruiter, workers = _mturk_published(iris)
    fake.assignments["A1"]["AssignmentStatus"] = "Rejected"
    result = services.study_review(study=study, confirm=True, recruiter=recruiter)
    assert result.approved == 1 and [f["participant"] for f in result.failures] == ["W1"]
    assert "rejected already" in result.failures[0]["error"]
    assert Assignment.objects.get(pk=workers[0].pk).status == Assignment.Status.REJECTED


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", ["list_bonus_payments", "send_bonus"])
def test_mturk_bonus_after_a_fault_is_paid_exactly_once(iris, step, fault):
    _, fake, recruiter, workers = _mturk_published(iris)
    pay = lambda: services.assignment_bonus(  # noqa: E731
        assignment=workers[0], amount_cents=125, reason="Careful work", confirm=True, recruiter=recruiter
    )
    # The first try either completes (reading back what the service did) or fails; only a
    # failure is retried, as a researcher or a task would.
    payment = _once_with(lambda: fake.faults.arm(step, fault), pay) or pay()
    assert len(fake.bonuses) == 1 and fake.bonuses[0]["BonusAmount"] == "1.25"
    assert Payment.objects.count() == 1 and payment.sent_at is not None


def test_a_retried_mturk_bonus_whose_token_was_used_completes(iris):
    """MTurk refuses a repeated UniqueRequestToken; the retry reads the bonus back and records it."""
    _, fake, recruiter, workers = _mturk_published(iris)
    fake.faults.arm("send_bonus", "timeout-after")
    fake.faults.arm("list_bonus_payments", "throttle", skip=1)  # the read-back right after the timeout fails too
    with pytest.raises(Exception, match=r"timeout|Read"):
        services.assignment_bonus(
            assignment=workers[0], amount_cents=125, reason="Careful work", confirm=True, recruiter=recruiter
        )
    assert Payment.objects.get().sent_at is None
    payment = services.assignment_bonus(
        assignment=workers[0], amount_cents=125, reason="Careful work", confirm=True, recruiter=recruiter
    )
    assert payment.sent_at is not None and len(fake.bonuses) == 1


def test_mturk_requests_in_these_flows_are_valid_for_botocores_model(iris):
    study, fake, recruiter, workers = _mturk_published(iris)
    services.study_review(study=study, confirm=True, recruiter=recruiter)
    services.assignment_bonus(
        assignment=workers[0], amount_cents=50, reason="Thanks", confirm=True, recruiter=recruiter
    )
    services.study_sync(study=study, recruiter=recruiter)
    services.study_stop(study=study, recruiter=recruiter)
    assert fake.requests >= 10  # each one validated against botocore's model before it was served


def test_a_refused_mturk_publish_leaves_nothing_behind(iris):
    study = _study(iris, "mturk")
    fake = FakeMTurk()
    with pytest.raises(MetamerError, match="only HTTPS"):
        services.study_publish(
            study=study, base_url="http://insecure.example.org", confirm=True, recruiter=MTurkRecruiter(client=fake)
        )
    assert not Publication.objects.exists() and fake.requests == 0
    assert study.surveys.get().status == "draft"


# -- Prolific -------------------------------------------------------------------------------


@pytest.fixture
def prolific():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeProlific(mock)


def _prolific_published(iris, fake):
    study = _study(iris, "prolific")
    recruiter = ProlificRecruiter(token="secret-token")
    services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    study_id = Publication.objects.get().external_id
    workers = []
    for n in (1, 2):
        workers.append(_submitted(study, f"P{n}", {"STUDY_ID": study_id, "SESSION_ID": f"SUB{n}"}))
        fake.add_submission(f"SUB{n}", f"P{n}", study_id)
    return study, recruiter, workers


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", ["list_studies", "create_study", "transition_study"])
def test_prolific_publish_after_a_fault_makes_one_active_study(iris, prolific, step, fault):
    study = _study(iris, "prolific")
    recruiter = ProlificRecruiter(token="secret-token")
    publish = lambda: services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)  # noqa: E731
    _once_with(lambda: prolific.faults.arm(step, fault), publish)
    [publication] = publish()
    assert prolific.faults.fired == [(step, fault)]
    assert len(prolific.studies) == 1
    assert prolific.studies[publication.external_id]["status"] == "ACTIVE"
    assert Publication.objects.count() == 1 and publication.status == Publication.Status.PUBLISHED


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", ["get_submission", "transition_submission"])
def test_prolific_review_after_a_fault_completes(iris, prolific, step, fault):
    study, recruiter, _ = _prolific_published(iris, prolific)
    first = _once_with(
        lambda: prolific.faults.arm(step, fault),
        lambda: services.study_review(study=study, confirm=True, recruiter=recruiter),
    )
    assert first is not None and first.approved + len(first.failures) == 2
    second = services.study_review(study=study, confirm=True, recruiter=recruiter)
    assert not second.failures
    assert {s["status"] for s in prolific.submissions.values()} == {"APPROVED"}
    assert set(Assignment.objects.values_list("status", flat=True)) == {Assignment.Status.APPROVED}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", ["get_submission", "set_up_bonus", "pay_bonus"])
def test_prolific_bonus_after_a_fault_is_paid_exactly_once(iris, prolific, step, fault):
    _, recruiter, workers = _prolific_published(iris, prolific)
    pay = lambda: services.assignment_bonus(  # noqa: E731
        assignment=workers[0], amount_cents=50, reason="Careful work", confirm=True, recruiter=recruiter
    )
    payment = _once_with(lambda: prolific.faults.arm(step, fault), pay) or pay()
    assert prolific.paid == [payment.external_id]
    assert prolific.submissions["SUB1"]["bonus_payments"] == [50]
    assert Payment.objects.count() == 1 and payment.sent_at is not None


def test_an_unconfirmed_prolific_bonus_is_never_resent_blind(iris, prolific):
    """Prolific pays a bulk bonus once per call and confirms it on the submission later: a
    payment whose paying call went out but shows nowhere yet is refused, not paid again."""
    _, recruiter, workers = _prolific_published(iris, prolific)
    prolific.confirm_later = True
    prolific.faults.arm("pay_bonus", "timeout-after")
    pay = lambda: services.assignment_bonus(  # noqa: E731
        assignment=workers[0], amount_cents=50, reason="Careful work", confirm=True, recruiter=recruiter
    )
    with pytest.raises(Exception, match=r"(?i)timed out"):
        pay()
    with pytest.raises(MetamerError, match="not confirmed yet") as refused:
        pay()
    assert refused.value.code == "conflict" and prolific.paid == [Payment.objects.get().external_id]
    prolific.confirm_bonuses()  # Prolific has processed it
    assert pay().sent_at is not None and len(prolific.paid) == 1
    assert prolific.submissions["SUB1"]["bonus_payments"] == [50]


def test_a_refused_prolific_publish_leaves_nothing_behind(iris, prolific):
    study = _study(iris, "prolific", reward_cents=50)
    with pytest.raises(MetamerError, match=r"minimum of 8\.00 an hour"):
        services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=ProlificRecruiter(token="t"))
    assert not Publication.objects.exists() and prolific.requests == 0
    assert study.surveys.get().status == "draft"
    # Nothing counts against a later budget check either.
    assert services.study_budget(study=study).lines[0].startswith("s: 3 ×")


def test_one_recruiter_per_process_and_study(monkeypatch):
    from surveys.recruitment import recruiter_for

    monkeypatch.setenv("PROLIFIC_TOKEN", "t")
    a, b = StudyFactory(recruiter="prolific"), StudyFactory(recruiter="prolific")
    assert recruiter_for(a) is recruiter_for(a)
    assert recruiter_for(a) is not recruiter_for(b)
