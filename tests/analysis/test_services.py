import io
import json

import pandas as pd
import pytest

from analysis import services
from metamer.errors import MetamerError
from surveys import services as survey_services
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def test_report_scores_people_and_lpips_and_excludes_check_failures(two_conditions):
    aligned, unaligned = two_conditions
    study = StudyFactory()
    survey = survey_services.survey_open(
        survey=survey_services.survey_assemble(
            study=study, name="s", jobs=two_conditions, n_trials=None, seed=1, workers_per_survey=4
        )
    )
    for worker, fail_checks in (("good", False), ("also-good", False), ("bad", True)):
        a = survey_services.assignment_start(survey=survey, external_id=worker)
        for t in survey.trials.all():
            answer = t.correct
            if (t.is_attention_check and fail_checks) or (not t.is_attention_check and t.job == unaligned):
                answer = 1 - t.correct  # people see condition B's IRIs as their seeds
            survey_services.response_record(
                assignment=a, trial_id=t.pk, answer=answer, idempotency_key=str(t.pk), response_ms=1500
            )
    survey_services.assignment_start(survey=survey, external_id="gone")  # started, never submitted
    report = services.report_build(study=study)
    summary = report.summary
    rows = {r["condition"].split(" / ")[0]: r for r in summary["conditions"]}
    a, b = rows[aligned.model_spec.name], rows[unaligned.model_spec.name]
    assert (a["human_mean"], b["human_mean"]) == (1.0, 0.0)
    assert (a["lpips_mean"], b["lpips_mean"]) == (1.0, 0.0)
    assert a["n_workers"] == 2 and a["chance"] == 0.5
    assert summary["excluded_workers"] == ["bad"]
    assert (summary["workers"], summary["workers_counted"]) == (3, 2)  # "gone" never submitted
    assert all(t["value"] == 1.0 for t in summary["triplet_alignment"].values())
    assert summary["noise_ceiling"]["value"] == 1.0
    assert summary["fleiss_kappa"]["2afc"] == 1.0
    # Two conditions: the difference with its interval, never a rank correlation over two points.
    assert "The difference is +100%" in summary["verdict"] and "Spearman" not in summary["verdict"]
    assert summary["participants"] == "people"
    # The factories' networks are the built-in AlexNet: AlexNet-LPIPS agrees by construction, so it does not judge.
    assert a["lpips_circular"] == ["alex-lin", "alex"]
    html = report.html.read().decode()
    assert "data:image/png;base64," in html and "1 excluded" in html
    raw = report.csv.read().decode().splitlines()
    assert raw[0].startswith("worker,survey,kind,trial") and len(raw) == 1 + 3 * survey.trials.count()
    per_condition = report.summary_csv.read().decode().splitlines()
    assert per_condition[0].startswith("condition,kind,chance,human_mean") and len(per_condition) == 3
    triplets = report.triplets_csv.read().decode().splitlines()
    assert triplets[0].startswith("worker,survey,trial,row") and len(triplets) == len(raw)  # 2AFC: one each
    # The codebook explains every column of every CSV; the JSON is the summary.
    codebook = pd.read_csv(io.BytesIO(report.codebook.read()))
    workers = pd.read_csv(io.BytesIO(report.workers_csv.read()), keep_default_na=False).set_index("worker")
    assert list(workers.index) == ["good", "also-good", "bad", "gone"]
    assert float(workers.loc["good", "alignment"]) == 0.5 and not workers.loc["good", "excluded"]
    assert workers.loc["bad", "why"] == "failed 1 of 1 attention checks"
    assert workers.loc["gone", "why"] == "not submitted (started)" and workers.loc["gone", "status"] == "started"
    assert float(workers.loc["good", "median_trial_s"]) == 1.5
    assert "Workers" in html and "no: failed 1 of 1 attention checks" in html and "Response times" in html
    assert summary["response_times"][0]["median_s"] == 1.5
    workers_header = ",".join(pd.read_csv(io.BytesIO(report.workers_csv.open().read()), nrows=0).columns)
    for file, header in (
        ("judgements", raw[0]),
        ("summary", per_condition[0]),
        ("triplets", triplets[0]),
        ("workers", workers_header),
    ):
        explained = codebook[codebook.file == file].set_index("column").meaning
        assert list(explained.index) == header.split(",")
        if file != "summary":
            assert "See the report." not in set(explained), file
    assert "apostrophe" in codebook[codebook.file == "all"].meaning.iloc[0]
    assert json.loads(report.summary_json.read()) == report.summary


def test_report_refuses_a_study_without_surveys():
    with pytest.raises(MetamerError, match="no surveys"):
        services.report_build(study=StudyFactory())


def test_live_results_in_the_admin_and_the_api(two_conditions, admin_client, django_capture_on_commit_callbacks):
    study = StudyFactory()
    survey = survey_services.survey_open(
        survey=survey_services.survey_assemble(
            study=study, name="s", jobs=two_conditions, n_trials=None, seed=1, workers_per_survey=4
        )
    )
    a = survey_services.assignment_start(survey=survey, external_id="w1")
    trials = list(survey.trials.order_by("position"))
    survey_services.response_record(assignment=a, trial_id=trials[0].pk, answer=trials[0].correct, idempotency_key="k")
    # Unfinished work is shown apart and never counted.
    page = admin_client.get(f"/admin/surveys/study/{study.pk}/change/").content.decode()
    assert "0/4 places submitted (1 in progress, 0 expired, not counted); 0 of 0 workers counted" in page
    assert admin_client.get(f"/api/studies/{study.pk}/results/").json()["workers"] == 0
    for t in trials[1:]:
        survey_services.response_record(assignment=a, trial_id=t.pk, answer=t.correct, idempotency_key=f"k{t.pk}")
    page = admin_client.get(f"/admin/surveys/study/{study.pk}/change/").content.decode()
    assert "1/4 places submitted (0 in progress, 0 expired, not counted); 1 of 1 workers counted, 0 excluded" in page
    results = admin_client.get(f"/api/studies/{study.pk}/results/").json()
    assert results["workers"] == 1 and len(results["conditions"]) == 2  # both conditions answered now
    rows = admin_client.get(f"/api/studies/{study.pk}/judgements/").json()
    assert rows[0]["worker"] == "w1" and rows[0]["correct"] is True
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post(
            "/admin/surveys/study/", {"action": "build_report", "_selected_action": [study.pk]}, follow=True
        )
    assert "the report is being built" in reply.content.decode()
    listed = admin_client.get("/admin/surveys/study/").content.decode()
    assert "judgements CSV" in listed  # built by the worker once the request committed


def test_the_api_builds_a_report(two_conditions, admin_client, django_capture_on_commit_callbacks):
    study = StudyFactory()
    survey_services.survey_open(
        survey=survey_services.survey_assemble(
            study=study, name="s", jobs=two_conditions, n_trials=None, seed=1, workers_per_survey=4
        )
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        reply = admin_client.post(f"/api/studies/{study.pk}/report/")
    assert reply.status_code == 201, reply.content
    assert (reply.json()["status"], reply.json()["html"]) == ("building", None)  # a worker writes it
    for send in queued:
        send()
    body = admin_client.get(f"/api/reports/{reply.json()['id']}/").json()
    assert body["status"] == "ready"
    assert body["codebook"].endswith("-codebook.csv") and body["summary_json"].endswith("-summary.json")
    empty = admin_client.post(f"/api/studies/{StudyFactory().pk}/report/")
    assert empty.status_code == 400 and "no surveys built from inversion jobs" in empty.json()["detail"]


def test_the_report_shows_exit_answers_in_words_and_counts_only_who_counts(survey):
    assignment = survey_services.assignment_start(survey=survey, external_id="w1")
    for t in survey.trials.all():
        survey_services.response_record(
            assignment=assignment, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk)
        )
    survey_services.assignment_exit_record(assignment=assignment, answers={"How was it?": "fine", "Age": "30"})
    html = services.report_build(study=survey.study).html.read().decode()
    # In words, one answer after another (PostgreSQL's JSON keeps its own key order).
    assert "How was it?: fine" in html and "Age: 30" in html and "{&quot;" not in html
    assert "Of the 1 worker who submitted,\n1 is counted and 0 excluded" in html


def test_a_report_that_cannot_be_built_says_why_and_the_admin_shows_it(two_conditions, admin_client, monkeypatch):
    from analysis.models import Report
    from analysis.services import reports

    study = StudyFactory()
    survey_services.survey_assemble(study=study, name="s", jobs=two_conditions, n_trials=None, seed=1)
    report = Report.objects.create(study=study, status=Report.Status.BUILDING)
    page = admin_client.get(f"/admin/analysis/report/{report.pk}/change/").content.decode()
    assert "being built" in page and 'data-seconds="3"' in page

    def broken(report):
        raise MetamerError("no answers to report on yet")

    monkeypatch.setattr(reports, "_report_write", broken)
    assert reports.report_fill(report_id=report.pk).status == Report.Status.FAILED
    page = admin_client.get(f"/admin/analysis/report/{report.pk}/change/").content.decode()
    assert "failed: no answers to report on yet" in page and 'data-seconds="3"' not in page
