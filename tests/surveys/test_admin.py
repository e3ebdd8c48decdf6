import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from surveys.models import Survey
from surveys.selectors import survey_estimate
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def _design(admin_client, job, study, **extra):
    data = {
        "study": study.pk,
        "name": "s1",
        "kind": "2afc",
        "jobs": [job.pk],
        "workers_per_survey": 3,
        "reward_cents": 750,
        "minutes_allotted": 60,
        "seed": 4,
        **extra,
    }
    return admin_client.post("/admin/surveys/survey/add/", data)


def test_design_a_survey_in_the_admin_and_see_its_cost(admin_client, iris):
    study = StudyFactory(recruiter="mturk")
    reply = _design(admin_client, iris[0].job, study, n_trials=10)
    assert reply.status_code == 302
    survey = Survey.objects.get()
    assert (survey.n_trials, survey.seed, survey.reward_cents) == (10, 4, 750)
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "3 places × $7.50 + fee $4.50 (20% commission" in page
    assert "About 0.9 min a worker (5 s a trial: a typical trial of this kind (no answers measured yet))" in page
    assert "Preview as a worker" in page


def test_a_design_is_planned_once_checked_in_the_form_and_stored_as_checked(admin_client, iris, monkeypatch):
    from surveys.services import assembly

    planned = []
    real = assembly.survey_ready_iris
    monkeypatch.setattr(assembly, "survey_ready_iris", lambda *a, **k: planned.append(1) or real(*a, **k))
    assert _design(admin_client, iris[0].job, StudyFactory(), n_trials=10).status_code == 302
    assert len(planned) == 1 and Survey.objects.get().trials.count() == 11


def test_the_time_estimate_comes_from_measured_answers_once_there_are_enough(iris):
    from surveys import services
    from surveys.models import Response
    from surveys.selectors import survey_estimate

    survey = services.survey_open(
        survey=services.survey_assemble(study=StudyFactory(), name="t", jobs=[iris[0].job], n_trials=19)
    )
    assignment = services.assignment_start(survey=survey, external_id="w")
    for trial in survey.trials.all():
        services.response_record(
            assignment=assignment, trial_id=trial.pk, answer=0, idempotency_key=str(trial.pk), response_ms=2400
        )
    assert Response.objects.count() == 20
    e = survey_estimate(survey)
    assert e["seconds_per_trial"] == 2.4 and e["seconds_per_trial_from"] == "median of 20 this survey's answers"
    assert e["estimated_minutes"] == 0.8  # 20 trials × 2.4 s


def test_impossible_designs_are_refused_with_the_reason_and_nothing_stored(admin_client, iris):
    reply = _design(admin_client, iris[0].job, StudyFactory(), kind="cluster-random")
    assert reply.status_code == 200
    assert "seeds_per_target=2" in reply.content.decode()
    reply = _design(admin_client, iris[0].job, StudyFactory(), n_trials=500)
    assert "only 20 can be built" in reply.content.decode()
    assert not Survey.objects.exists()


def test_hard_clustering_with_an_uploaded_matrix(admin_client, paired_iris):
    buf = io.BytesIO()
    np.save(buf, np.kron(np.eye(3), np.ones((3, 3))))
    upload = SimpleUploadedFile("hsj.npy", buf.getvalue())
    reply = _design(admin_client, paired_iris[0].job, StudyFactory(), kind="cluster-hard", similarity=upload)
    assert reply.status_code == 302
    assert Survey.objects.get().similarity_source == "hsj.npy"


def test_estimates_follow_each_recruiters_fee_rules(survey):
    survey.workers_per_survey, survey.reward_cents = 3, 750
    for recruiter, fee, total in (("mturk", 450, 2700), ("prolific", 749, 2999), ("links", 0, 0)):
        survey.study.recruiter = recruiter
        estimate = survey_estimate(survey)
        assert (estimate["fee_cents"], estimate["total_cents"]) == (fee, total)
    survey.study.recruiter = "mturk"
    survey.workers_per_survey = 10
    assert survey_estimate(survey)["fee_cents"] == 3000  # 40% at 10 or more assignments
    assert survey_estimate(survey)["estimated_minutes"] == round(21 * 5 / 60, 1)


def test_the_budget_and_the_estimate_share_the_fee_rules(survey):
    from surveys import services

    survey.study.recruiter, survey.study.academic = "prolific", False
    survey.study.save()
    survey.workers_per_survey, survey.reward_cents = 3, 1000
    survey.save()
    assert survey_estimate(survey)["fee_cents"] == 1284  # 42.8% corporate
    assert services.study_budget(study=survey.study).fee_cents == 1284  # needs no Prolific token


def test_a_study_gets_one_completion_code_made_when_it_is_saved(admin_client):
    from surveys.models import Study

    add = admin_client.get("/admin/surveys/study/add/").content.decode()
    assert "Completion code" not in add
    admin_client.post(
        "/admin/surveys/study/add/",
        {"name": "pilot", "recruiter": "links", "review_policy": "approve-all", "min_approval_rate": 95,
         "min_approved_hits": 100, "locales": "[]", "surveys-TOTAL_FORMS": 0, "surveys-INITIAL_FORMS": 0},
    )  # fmt: skip
    study = Study.objects.get(name="pilot")
    change = admin_client.get(f"/admin/surveys/study/{study.pk}/change/").content.decode()
    assert study.completion_code in change
    study.refresh_from_db()
    assert Study.objects.get(pk=study.pk).completion_code == study.completion_code
