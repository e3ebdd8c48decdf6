"""Prolific calls checked against its documented endpoints and bodies with an HTTP-level stub."""

import json

import pytest
import requests
import responses
from responses import matchers

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Publication
from surveys.recruitment.prolific import API, ProlificRecruiter
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db
BASE = "https://metamer.example.org"


@pytest.fixture
def study(iris):
    study = StudyFactory(recruiter="prolific")
    survey = services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=5, workers_per_survey=3)
    survey.reward_cents, survey.minutes_allotted = 300, 30
    survey.save()
    return study


@pytest.fixture
def recruiter():
    return ProlificRecruiter(token="secret-token")


@responses.activate
def test_publish_creates_the_study_with_url_parameters_then_publishes(study, recruiter):
    survey = study.surveys.get()
    responses.get(
        f"{API}/studies/",
        json={"results": []},
        match=[matchers.header_matcher({"Authorization": "Token secret-token"})],
    )
    created = responses.post(f"{API}/studies/", json={"id": "S1", "status": "UNPUBLISHED"})
    published = responses.post(
        f"{API}/studies/S1/transition/", json={}, match=[matchers.json_params_matcher({"action": "PUBLISH"})]
    )
    with pytest.raises(MetamerError, match=r"3 × 3.00 \+ fee 3.00 \(33.3%\)"):
        services.study_publish(study=study, base_url=BASE, recruiter=recruiter)
    [publication] = services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    body = json.loads(created.calls[0].request.body)
    assert body["external_study_url"] == (
        f"{BASE}/s/{survey.uuid}/"
        "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    assert body["total_available_places"] == 3 and body["reward"] == 300 and body["estimated_completion_time"] == 10
    assert body["completion_codes"][0]["code"] == study.completion_code
    assert body["internal_name"] == publication.request_token
    assert published.call_count == 1 and publication.external_id == "S1"


@responses.activate
def test_a_publish_whose_answer_was_lost_finds_its_study_instead_of_making_another(study, recruiter):
    responses.get(f"{API}/studies/", json={"results": []})
    responses.post(f"{API}/studies/", body=requests.ConnectionError("read timed out"))
    with pytest.raises(requests.ConnectionError):
        services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    token = Publication.objects.get().request_token
    responses.replace(
        responses.GET,
        f"{API}/studies/",
        json={"results": [{"id": "S1", "internal_name": token, "status": "UNPUBLISHED"}]},
    )
    create = responses.replace(responses.POST, f"{API}/studies/", json={"id": "S2"})
    responses.post(f"{API}/studies/S1/transition/", json={})
    [publication] = services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    assert publication.external_id == "S1" and create.call_count == 0


@responses.activate
def test_rewards_under_prolifics_minimum_hourly_rate_are_refused(study, recruiter):
    survey = study.surveys.get()
    survey.reward_cents = 50
    survey.save()
    responses.get(f"{API}/studies/", json={"results": []})
    with pytest.raises(MetamerError, match=r"minimum of 8\.00 an hour"):
        services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)


@responses.activate
def test_sync_review_bonus_and_stop(study, recruiter):
    responses.get(f"{API}/studies/", json={"results": [{"id": "S1", "internal_name": "x", "status": "ACTIVE"}]})
    responses.post(f"{API}/studies/", json={"id": "S1", "status": "UNPUBLISHED"})
    responses.post(f"{API}/studies/S1/transition/", json={})
    services.study_publish(study=study, base_url=BASE, confirm=True, recruiter=recruiter)
    survey = study.surveys.get()
    survey_assignment = services.assignment_start(
        survey=survey, external_id="P1", recruiter_data={"STUDY_ID": "S1", "SESSION_ID": "sess"}
    )
    for t in survey.trials.all():
        services.response_record(
            assignment=survey_assignment, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk)
        )
    responses.get(
        f"{API}/studies/S1/submissions/",
        json={
            "results": [{"id": "SUB1", "participant_id": "P1", "status": "AWAITING REVIEW"}],
            "_links": {"next": {"href": f"{API}/studies/S1/submissions/?page=2"}},
        },
    )
    responses.get(
        f"{API}/studies/S1/submissions/?page=2",
        json={
            "results": [{"id": "SUB9", "participant_id": "P9", "status": "RETURNED"}],
            "_links": {"next": {"href": None}},
        },
    )
    assert services.study_sync(study=study, recruiter=recruiter) == {"remote": 2, "matched": 1, "unknown": 1}
    state = responses.get(f"{API}/submissions/SUB1/", json={"status": "AWAITING REVIEW", "bonus_payments": []})
    approve = responses.post(
        f"{API}/submissions/SUB1/transition/", json={}, match=[matchers.json_params_matcher({"action": "APPROVE"})]
    )
    result = services.study_review(study=study, confirm=True, recruiter=recruiter)
    assert (result.approved, result.rejected, result.failures) == (1, 0, [])
    assert state.call_count == 1
    assert approve.call_count == 1
    survey_assignment.refresh_from_db()
    bonus = responses.post(
        f"{API}/submissions/bonus-payments/",
        json={"id": "B1"},
        match=[matchers.json_params_matcher({"study_id": "S1", "csv_bonuses": "P1,0.50\n"})],
    )
    pay = responses.post(f"{API}/bulk-bonus-payments/B1/pay/", json={})
    services.assignment_bonus(
        assignment=survey_assignment, amount_cents=50, reason="Careful work", confirm=True, recruiter=recruiter
    )
    assert bonus.call_count == pay.call_count == 1
    stop = responses.post(
        f"{API}/studies/S1/transition/", json={}, match=[matchers.json_params_matcher({"action": "STOP"})]
    )
    assert services.study_stop(study=study, recruiter=recruiter) == 1 and stop.call_count == 1


def test_the_token_comes_from_the_environment_only(monkeypatch):
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    with pytest.raises(MetamerError, match="set PROLIFIC_TOKEN"):
        ProlificRecruiter()
