import json

import pytest
from django.urls import reverse

from surveys.models import Assignment, Response, Trial

pytestmark = pytest.mark.django_db


def _start(client, survey, pid="w1"):
    reply = client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": pid})
    assert reply.status_code == 302, reply.content.decode()[:500]
    return Assignment.objects.get(participant__external_id=pid)


def _answer_everything(client, assignment, survey):
    url = reverse("surveys:answer", args=[assignment.token])
    for t in survey.trials.all():
        body = json.dumps({"trial": t.pk, "answer": 0, "idempotency_key": f"k{t.pk}"})
        client.post(url, body, content_type="application/json")


def test_landing_shows_instructions_and_consent(client, survey):
    page = client.get(reverse("surveys:landing", args=[survey.uuid]) + "?pid=w1")
    assert page.status_code == 200
    assert b"Consent" in page.content
    assert b"I agree, start" in page.content
    assert "X-Frame-Options" not in page.headers  # recruiters frame these pages


def test_trial_page_shows_one_trial_with_accessible_buttons(client, survey):
    assignment = _start(client, survey)
    page = client.get(reverse("surveys:assignment", args=[assignment.token]))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('type="submit" name="answer"') == 2
    assert 'alt="Reference image"' in html
    assert "Question 1 of 21" in html


def test_form_post_saves_and_the_page_moves_on(client, survey):
    assignment = _start(client, survey)
    trial = survey.trials.order_by("position").first()
    reply = client.post(
        reverse("surveys:answer", args=[assignment.token]),
        {
            "trial": trial.pk,
            "answer": "1",
            "idempotency_key": "k1",
            "response_ms": "812",
            "viewing": '{"viewport": [400, 800]}',
        },
    )
    assert reply.status_code == 302
    saved = Response.objects.get()
    assert (saved.answer, saved.response_ms, saved.viewing) == (1, 812, {"viewport": [400, 800]})
    page = client.get(reverse("surveys:assignment", args=[assignment.token]))
    assert "Question 2 of 21" in page.content.decode()


def test_json_answers_retry_safely_and_conflicts_are_409(client, survey):
    assignment = _start(client, survey)
    trial = survey.trials.order_by("position").first()
    url = reverse("surveys:answer", args=[assignment.token])
    body = {"trial": trial.pk, "answer": 0, "idempotency_key": "k1", "viewing": {"dpr": 2}}
    first = client.post(url, json.dumps(body), content_type="application/json")
    retry = client.post(url, json.dumps(body), content_type="application/json")
    change = client.post(
        url, json.dumps({**body, "answer": 1, "idempotency_key": "k2"}), content_type="application/json"
    )
    assert first.json()["created"] is True
    assert retry.json()["created"] is False
    assert change.status_code == 409
    assert Response.objects.count() == 1


def test_reload_resumes_at_the_first_unanswered_trial(client, survey):
    assignment = _start(client, survey)
    # This worker's own order, not the survey's.
    trials = [Trial.objects.get(pk=entry["trial"]) for entry in assignment.sequence]
    assert [t.pk for t in trials] != list(survey.trials.order_by("position").values_list("pk", flat=True))
    url = reverse("surveys:answer", args=[assignment.token])
    for t in trials[:3]:
        client.post(
            url,
            json.dumps({"trial": t.pk, "answer": 0, "idempotency_key": f"k{t.pk}"}),
            content_type="application/json",
        )
    state = client.get(reverse("surveys:trial-json", args=[assignment.token])).json()
    assert state["answered"] == 3
    assert state["trial"]["trial"] == trials[3].pk
    assert "correct" not in json.dumps(state)


def test_finishing_shows_the_completion_code(client, survey):
    assignment = _start(client, survey)
    _answer_everything(client, assignment, survey)
    page = client.get(reverse("surveys:assignment", args=[assignment.token]))
    assert survey.study.completion_code in page.content.decode()


def test_unknown_assignment_is_a_404_page_that_says_what_to_do(client, survey):
    reply = client.get(reverse("surveys:assignment", args=["nope"]))
    assert reply.status_code == 404
    assert "copy the whole link again" in reply.content.decode()


def test_the_landing_page_gives_the_time_a_survey_takes_not_just_the_time_allowed(client, survey):
    text = client.get(reverse("surveys:landing", args=[survey.uuid]) + "?pid=w1").content.decode()
    trials = survey.trials.count()  # 2AFC: 5 s a trial
    assert f"It takes about {-(-trials * 5 // 60)} minute" in text
    assert f"you have up to {survey.minutes_allotted}." in text


def test_clustering_page_and_form_post(client, paired_iris):
    from surveys import services
    from tests.factories import StudyFactory

    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="c", jobs=[paired_iris[0].job], kind="cluster-random", n_trials=None
        )
    )
    assignment = _start(client, survey)
    page = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert page.count('type="radio"') == 18
    assert 'alt="Column A"' in page and 'draggable="true"' in page
    shown = assignment.sequence[0]
    trial = Trial.objects.get(pk=shown["trial"])
    # What the worker clicks: for each row as shown, the column as shown that holds its target.
    clicked = [shown["columns"].index(trial.correct[row]) for row in shown["rows"]]
    form = {"trial": trial.pk, "idempotency_key": "k", **{f"row-{i}": str(c) for i, c in enumerate(clicked)}}
    assert client.post(reverse("surveys:answer", args=[assignment.token]), form).status_code == 302
    saved = Response.objects.get()
    assert saved.answer == trial.correct  # stored in the trial's own terms
    assert saved.score == 1.0
    assert saved.presented == {**shown, "position": 1, "answer_shown": clicked}


def _study_with(survey, recruiter):
    survey.study.recruiter = recruiter
    survey.study.save()
    return survey


def test_mturk_preview_shows_the_task_and_takes_no_answers(client, survey):
    _study_with(survey, "mturk")
    url = reverse("surveys:landing", args=[survey.uuid])
    page = client.get(url + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H")
    assert "Preview." in page.content.decode() and "I agree, start" not in page.content.decode()
    client.post(url + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H")
    assert not Assignment.objects.exists()


def test_mturk_worker_completes_by_posting_to_external_submit(client, survey):
    _study_with(survey, "mturk")
    query = "?assignmentId=A1&hitId=H1&workerId=W1&turkSubmitTo=https://workersandbox.mturk.com"
    reply = client.post(reverse("surveys:landing", args=[survey.uuid]) + query)
    assignment = Assignment.objects.get(participant__external_id="W1")
    assert reply.status_code == 302 and assignment.recruiter_data["assignmentId"] == "A1"
    _answer_everything(client, assignment, survey)
    done = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in done
    assert 'name="assignmentId" value="A1"' in done


@pytest.mark.parametrize(
    "submit_to",
    [
        "https://evil.example",
        "http://www.mturk.com",
        # A browser reads the backslash as the end of the host: the post would go to evil.example.
        "https://evil.example%5C@www.mturk.com",
        "https://user:pw@www.mturk.com",
    ],
)
def test_mturk_refuses_a_foreign_submit_address(client, survey, submit_to):
    _study_with(survey, "mturk")
    reply = client.post(
        reverse("surveys:landing", args=[survey.uuid]) + f"?assignmentId=A&workerId=W&turkSubmitTo={submit_to}"
    )
    assert reply.status_code == 400 and not Assignment.objects.exists()


def test_prolific_arrives_with_its_ids_and_returns_with_the_code(client, survey):
    _study_with(survey, "prolific")
    query = "?PROLIFIC_PID=P1&STUDY_ID=S1&SESSION_ID=X1"
    client.post(reverse("surveys:landing", args=[survey.uuid]) + query)
    assignment = Assignment.objects.get(participant__external_id="P1")
    assert assignment.recruiter_data == {"STUDY_ID": "S1", "SESSION_ID": "X1"}
    _answer_everything(client, assignment, survey)
    done = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert f"https://app.prolific.com/submissions/complete?cc={survey.study.completion_code}" in done


def test_prolific_placeholders_left_in_the_link_are_refused_not_taken_as_an_id(client, survey):
    _study_with(survey, "prolific")
    query = "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    reply = client.post(reverse("surveys:landing", args=[survey.uuid]) + query)
    assert reply.status_code == 400 and "placeholders" in reply.content.decode()
    assert not Assignment.objects.exists()


def _counts():
    from surveys.models import Participant

    return Participant.objects.count(), Assignment.objects.count(), Response.objects.count()


def test_a_preview_runs_the_real_pages_on_a_draft_and_records_nothing(admin_client, iris):
    from analysis.selectors import study_results
    from surveys import services
    from tests.factories import StudyFactory

    study = StudyFactory()
    draft = services.survey_assemble(study=study, name="d", jobs=[iris[0].job], n_trials=4, n_attention_checks=1)
    before, results_before = _counts(), study_results(study)
    url = reverse("surveys:preview", args=[draft.uuid])
    for i in range(draft.trials.count()):
        page = admin_client.get(f"{url}?i={i}")
        assert page.status_code == 200 and "Answers are not recorded" in page.content.decode()
        assert admin_client.post(f"{url}?i={i}", {"answer": "0"}).status_code == 302
    assert "Nothing was recorded" in admin_client.get(f"{url}?i=99").content.decode()
    assert _counts() == before and study_results(study) == results_before
    assert admin_client.get(reverse("surveys:landing", args=[draft.uuid]) + "?pid=PREVIEW").status_code == 200
    assert _counts() == before


def test_preview_is_for_staff_only(client, survey):
    reply = client.get(reverse("surveys:preview", args=[survey.uuid]))
    assert reply.status_code == 302 and "/admin/login/" in reply["Location"]


def test_someone_elses_id_from_another_browser_is_refused_and_reveals_nothing(client, survey):
    from django.test import Client

    mine = _start(client, survey, pid="slot-1-1")
    for t in survey.trials.all():
        services_answer(mine, t)
    stranger = Client()
    reply = stranger.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "slot-1-1"})
    text = reply.content.decode()
    assert reply.status_code == 403 and "already taken on another device" in text
    assert survey.study.completion_code not in text and mine.token not in text
    # The same browser resumes.
    assert client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "slot-1-1"}).status_code == 302


def test_a_start_whose_reply_was_lost_resumes_from_the_browser_that_read_the_consent_page(client, survey):
    landing = reverse("surveys:landing", args=[survey.uuid])
    client.get(landing, {"pid": "w1"})
    session = client.cookies["sessionid"].value  # the consent page gives the browser its session
    first = client.post(landing, {"pid": "w1"})
    client.cookies.clear()  # the start's reply never arrived: the browser has only what the consent page set
    client.cookies["sessionid"] = session
    again = client.post(landing, {"pid": "w1"})
    assert first.status_code == again.status_code == 302 and again.url == first.url
    assert Assignment.objects.count() == 1


def services_answer(assignment, trial):
    from surveys import services

    services.response_record(
        assignment=assignment, trial_id=trial.pk, answer=trial.correct, idempotency_key=f"{trial.pk}"
    )


def test_places_are_capped_and_an_abandoned_place_expires_and_is_reused(client, survey):
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    survey.workers_per_survey = 2
    survey.save()
    _start(Client(), survey, pid="a")
    late = _start(Client(), survey, pid="b")
    full = Client().post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "c"})
    assert full.status_code == 409 and "All places in this survey are taken" in full.content.decode()
    Assignment.objects.filter(pk=late.pk).update(
        started_at=timezone.now() - timedelta(minutes=survey.minutes_allotted + 1)
    )
    _start(Client(), survey, pid="c")  # b's place, freed
    late.refresh_from_db()
    assert late.status == Assignment.Status.EXPIRED
    gone = client.get(reverse("surveys:assignment", args=[late.token]))
    assert gone.status_code == 410 and "ran out" in gone.content.decode()
    assert Assignment.objects.exclude(status=Assignment.Status.EXPIRED).count() == 2


def test_a_plain_link_is_a_long_token_that_takes_one_place(client, iris):
    from django.test import Client

    from surveys import services
    from tests.factories import StudyFactory

    study = StudyFactory()
    survey = services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=3, workers_per_survey=2)
    services.study_publish(study=study, base_url="http://lab.local")
    link = survey.links.first()
    landing = reverse("surveys:landing", args=[survey.uuid])
    page = client.get(f"{landing}?link={link.token}").content.decode()
    assert "Your participant id" not in page
    started = client.post(f"{landing}?link={link.token}")
    assert started.status_code == 302
    assert Client().post(f"{landing}?link={link.token}").status_code == 403  # forwarded: refused
    mistyped = link.token[:-1] + ("y" if link.token.endswith("x") else "x")  # never the token itself
    assert Client().post(f"{landing}?link={mistyped}").status_code == 404


def test_worker_pages_carry_a_csp_that_lets_only_mturk_frame_them(client, survey):
    page = client.get(reverse("surveys:landing", args=[survey.uuid]))
    policy = page["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'self' https://www.mturk.com" in policy
    assert "<script>" not in page.content.decode()  # no inline script for the policy to forbid
    assert page["X-Content-Type-Options"] == "nosniff"


def test_an_answer_costs_two_queries_or_one_a_retry_one_more_and_the_last_one_submits(client, survey):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assignment = _start(client, survey)
    url = reverse("surveys:answer", args=[assignment.token])
    *middle, last = [entry["trial"] for entry in assignment.sequence]

    def post(trial):
        body = json.dumps({"trial": trial, "answer": 0, "idempotency_key": f"k{trial}"})
        return client.post(url, body, content_type="application/json")

    post(middle[0])  # the first answer warms this process's answer key of the survey
    with CaptureQueriesContext(connection) as queries:
        assert post(middle[1]).status_code == 200
    # The assignment with its answer count, and the insert (the test's transaction adds savepoints);
    # on PostgreSQL, the started assignment is known from the first answer, and one statement
    # inserts the answer if it is still started and counts those before it.
    sql = [q["sql"].split()[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sql == (["WITH"] if connection.vendor == "postgresql" else ["SELECT", "INSERT"])
    with CaptureQueriesContext(connection) as queries:
        retry = post(middle[1])
    assert retry.status_code == 200 and retry.json()["created"] is False
    # A retry reads the stored answer too, and no more (no count: the answer count says it
    # cannot be the last).
    sql = [q["sql"].split()[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert sql == (["WITH", "SELECT"] if connection.vendor == "postgresql" else ["SELECT", "INSERT", "SELECT"])
    for trial in middle[2:]:
        post(trial)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.STARTED
    with CaptureQueriesContext(connection) as queries:
        assert post(last).status_code == 200
    # The last answer submits at once: its answer count says the others are stored.
    sql = [q["sql"].split()[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert "UPDATE" in sql and not any(q["sql"].startswith("SELECT COUNT(") for q in queries.captured_queries)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED


def test_an_assignment_left_open_with_every_answer_is_submitted_when_the_page_asks_what_is_left(client, survey):
    assignment = _start(client, survey)
    _answer_everything(client, assignment, survey)
    # Two last answers raced past the "can this be the last?" check, or a crash came between.
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.STARTED, submitted_at=None)
    state = client.get(reverse("surveys:trial-json", args=[assignment.token])).json()
    assignment.refresh_from_db()
    assert state["trial"] is None and assignment.status == Assignment.Status.SUBMITTED


def test_refusals_are_pages_that_say_what_to_do_and_offer_no_start_button(client, survey):
    _start(client, survey, pid="w1")
    _answer_everything(client, Assignment.objects.get(), survey)
    from django.test import Client

    again = Client().post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "w1"})  # another browser
    html = again.content.decode()
    assert again.status_code == 403 and "This place is already taken on another device or browser" in html
    assert "I agree, start" not in html and "write to the researcher" in html
    survey.status = survey.Status.CLOSED
    survey.save()
    closed = client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "w2"})
    assert closed.status_code == 409 and "not taking answers" in closed.content.decode()
    assert "I agree, start" not in closed.content.decode()
    typo = client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": "x" * 300})
    assert typo.status_code == 400 and "I agree, start" in typo.content.decode()  # a mistake to correct


def test_an_assignment_that_expired_after_its_first_answer_takes_no_more(client, survey):
    assignment = _start(client, survey)
    url = reverse("surveys:answer", args=[assignment.token])
    first, second, *_ = [entry["trial"] for entry in assignment.sequence]

    def post(trial, key):
        return client.post(url, json.dumps({"trial": trial, "answer": 0, "idempotency_key": key}), "application/json")

    assert post(first, "a").json()["created"] is True
    assert post(first, "a").json()["created"] is False  # a retry: the stored answer, once
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.EXPIRED)  # its time ran out
    refused = post(second, "b")
    assert refused.status_code == 409 and "time for this survey ran out" in refused.json()["detail"]
    assert Response.objects.count() == 1
