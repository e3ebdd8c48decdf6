"""What the researcher writes for workers: instructions, consent, practice questions, exit
questions and a thank-you text, each seen in the preview before anyone is recruited."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from surveys.kinds.layouts import Clustering, OddOneOut, PickOfTwo, Rating
from surveys.models import Assignment, Participant, Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def written(survey):
    survey.instructions_text = "Look at the whole image.\n\nTake your time."
    survey.consent_text = "I agree that the Lab of Vision keeps my answers for ten years."
    survey.n_practice = 2
    survey.exit_questions = "What did you look at?\nAnything unclear?"
    survey.ask_demographics = True
    survey.thank_you_text = "Thanks from the Lab of Vision."
    survey.save()
    return survey


def _start(client, survey, pid="w1") -> Assignment:
    reply = client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": pid})
    assert reply.status_code == 302
    return Assignment.objects.get(participant__external_id=pid)


def test_the_landing_shows_the_researchers_instructions_and_consent(client, written, survey):
    html = client.get(reverse("surveys:landing", args=[survey.uuid]) + "?pid=w1").content.decode()
    assert "<p>Look at the whole image.</p>" in html and "<p>Take your time.</p>" in html
    assert "the Lab of Vision keeps my answers for ten years" in html
    assert "linked only to your participant id" not in html  # the standard consent gives way
    assert "First come 2 practice questions" in html
    survey.consent_text = ""
    survey.save()
    html = client.get(reverse("surveys:landing", args=[survey.uuid]) + "?pid=w1").content.decode()
    assert "linked only to your participant id" in html


def test_practice_questions_come_first_with_feedback_and_are_not_data(client, written, survey):
    assignment = _start(client, survey)
    page = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert "Practice question 1 of 2" in page and "<svg" in page and "<img" not in page
    practice = reverse("surveys:practice", args=[assignment.token])
    first = PickOfTwo().practice(0)
    wrong = client.post(practice, {"index": 0, "answer": 1 - first.answer}).content.decode()
    assert "Not quite." in wrong and "same shape as the reference" in wrong
    assert client.post(practice, {"index": 0, "answer": first.answer}).status_code == 200  # a repeat: no skip
    second = PickOfTwo().practice(1)
    right = client.post(practice, {"index": 1, "answer": second.answer}).content.decode()
    assert "Right." in right and "Start the survey" in right
    assignment.refresh_from_db()
    assert assignment.practice_done == 2 and not Response.objects.exists()
    page = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert 'id="trial-form"' in page and "Question 1 of" in page


def test_exit_questions_follow_the_last_trial_and_are_kept_once(client, written, survey):
    assignment = _start(client, survey)
    Assignment.objects.filter(pk=assignment.pk).update(practice_done=2)
    url = reverse("surveys:answer", args=[assignment.token])
    for t in survey.trials.all():
        client.post(url, json.dumps({"trial": t.pk, "answer": 0, "idempotency_key": f"k{t.pk}"}), "application/json")
    page = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert "A few last questions" in page and "What did you look at?" in page and "Age range" in page
    exit_url = reverse("surveys:exit", args=[assignment.token])
    for form, reason in (
        ({"q0": "colours", "age": "twelve"}, "age: choose one of the listed answers"),
        ({"q0": "x" * 2001}, "answer 1 is longer than 2000 characters"),
        ({"q1": "nul\x00"}, "answer 2 contains control characters"),
    ):
        bad = client.post(exit_url, form)
        assert bad.status_code == 400 and reason in bad.content.decode(), reason
        assert Assignment.objects.get(pk=assignment.pk).exit_answers is None
    reply = client.post(exit_url, {"q0": "the colours\r\nmostly", "q1": "", "age": "25–34", "gender": ""})
    assert reply.status_code == 302
    assignment.refresh_from_db()
    assert assignment.exit_answers == {"What did you look at?": "the colours\nmostly", "age": "25–34"}
    client.post(exit_url, {"skip": "1"})  # a second post keeps the first answers
    assignment.refresh_from_db()
    assert assignment.exit_answers["age"] == "25–34"
    done = client.get(reverse("surveys:assignment", args=[assignment.token])).content.decode()
    assert "Thanks from the Lab of Vision." in done and survey.study.completion_code in done


def test_a_worker_may_skip_the_exit_questions(client, written, survey):
    assignment = _start(client, survey)
    Assignment.objects.filter(pk=assignment.pk).update(practice_done=2)
    url = reverse("surveys:answer", args=[assignment.token])
    for t in survey.trials.all():
        client.post(url, json.dumps({"trial": t.pk, "answer": 0, "idempotency_key": f"k{t.pk}"}), "application/json")
    client.post(reverse("surveys:exit", args=[assignment.token]), {"skip": "1", "q0": "ignored"})
    assignment.refresh_from_db()
    assert assignment.exit_answers == {}


def test_each_page_can_be_previewed_and_the_preview_records_nothing(admin_client, written, survey):
    base = reverse("surveys:preview", args=[survey.uuid])
    landing = admin_client.get(base + "?page=landing").content.decode()
    assert "Take your time." in landing and f'href="{base}?page=practice"' in landing
    question = admin_client.get(base + "?page=practice&i=1").content.decode()
    assert "Practice question 2 of 2" in question
    right = PickOfTwo().practice(1).answer
    assert "Right." in admin_client.post(base + "?page=practice&i=1", {"answer": right}).content.decode()
    assert "Not quite." in admin_client.post(base + "?page=practice&i=1", {"answer": 1 - right}).content.decode()
    assert "What did you look at?" in admin_client.get(base + "?page=exit").content.decode()
    assert "Thanks from the Lab of Vision." in admin_client.get(base + "?page=done").content.decode()
    assert not Participant.objects.exists() and not Assignment.objects.exists()
    change = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    for page in ("page=landing", "page=practice", "page=exit", "page=done"):
        assert page in change


def test_the_admin_saves_the_texts_and_an_instructions_image(admin_client, survey):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "red").save(buffer, "PNG")
    change = f"/admin/surveys/survey/{survey.pk}/change/"
    form = admin_client.get(change).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("jobs", "instructions_image")}
    data |= {
        "instructions_text": "Mind the edges.",
        "n_practice": 1,
        "exit_questions": "",
        "instructions_image": SimpleUploadedFile("example.png", buffer.getvalue(), "image/png"),
    }
    reply = admin_client.post(change, data)
    assert reply.status_code == 302, reply.context["adminform"].form.errors
    survey.refresh_from_db()
    assert survey.instructions_text == "Mind the edges." and survey.n_practice == 1
    landing = admin_client.get(reverse("surveys:landing", args=[survey.uuid]) + "?pid=x").content.decode()
    assert survey.instructions_image.url in landing
    assert admin_client.get(survey.instructions_image.url).status_code == 200


@pytest.mark.parametrize("layout", [PickOfTwo(), OddOneOut(), Rating(), Clustering()], ids=lambda layout: layout.name)
def test_every_kind_has_practice_questions_whose_right_answer_gets_a_right(layout):
    answers = set()
    for index in range(5):
        question = layout.practice(index)
        answers.add(json.dumps(question.answer))
        given = (10 if question.answer else 0) if layout.name == "rating" else question.answer
        assert layout.practice_feedback(question, given)[0] is True
        wrong = _wrong(layout.name, question.answer)
        right, message = layout.practice_feedback(question, wrong)
        assert right is False and message
        assert layout.practice_feedback(question, None)[0] is False
    assert len(answers) > 1  # the right answer moves from one question to the next


def _wrong(layout: str, answer):
    if layout == "clustering":
        return [(c + 1) % 3 for c in answer]
    return {"2afc": 1 - answer if layout == "2afc" else 0, "odd": (answer + 1) % 3, "rating": 5}[layout]


def test_the_api_reads_and_changes_what_workers_read_and_refuses_bad_values(admin_client, survey):
    url = f"/api/surveys/{survey.pk}/content/"
    assert admin_client.get(url).json()["n_practice"] == 0
    reply = admin_client.patch(url, {"consent_text": "Yes.", "n_practice": 3}, content_type="application/json")
    assert reply.status_code == 200 and reply.json()["consent_text"] == "Yes."
    bad = admin_client.patch(url, {"n_practice": 9, "thank_you_text": "x"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("n_practice: ")
    survey.refresh_from_db()
    assert (survey.n_practice, survey.thank_you_text) == (3, "")  # nothing half-stored
    assert admin_client.patch(url, {"status": "closed"}, content_type="application/json").status_code == 400
    survey.status = survey.Status.CLOSED
    survey.save()
    assert admin_client.patch(url, {"consent_text": "No."}, content_type="application/json").status_code == 409


@pytest.mark.parametrize(
    "change",
    [
        {"n_practice": 1e400},
        {"n_practice": True},
        {"n_practice": 2.0},
        {"consent_text": "x" * 5001},
        {"exit_questions": ["How old are you?"]},
        {"thank_you_text": 7},
        {"ask_demographics": "yes"},
    ],
    ids=["1e400", "true", "2.0", "5,001 characters", "a list", "a number", "a string"],
)
def test_content_of_the_wrong_type_or_size_is_refused_and_nothing_is_stored(admin_client, survey, change):
    url = f"/api/surveys/{survey.pk}/content/"
    body = json.dumps(change) if change != {"n_practice": 1e400} else '{"n_practice": 1e400}'
    reply = admin_client.patch(url, body, content_type="application/json")
    assert reply.status_code == 400, reply.content
    survey.refresh_from_db()
    assert (survey.n_practice, survey.consent_text, survey.exit_questions, survey.ask_demographics) == (
        0,
        "",
        "",
        False,
    )


def test_the_preview_can_be_clicked_through_with_csrf_checks_on(written, survey, django_user_model):
    import re

    from django.test import Client

    browser = Client(enforce_csrf_checks=True)  # as a real browser: every post needs its token
    browser.force_login(django_user_model.objects.create_superuser("boss", password="pw-unused-123"))
    base = reverse("surveys:preview", args=[survey.uuid])

    def post_form(url: str, data: dict):
        page = browser.get(url).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no CSRF token on {url}"
        return browser.post(url, {**data, "csrfmiddlewaretoken": token.group(1)})

    assert post_form(base + "?page=practice&i=0", {"answer": 0}).status_code == 200
    assert post_form(base + "?i=0", {"answer": 0}).status_code == 302
    assert post_form(base + "?page=exit", {"skip": "1"}).status_code == 200
    assert not Participant.objects.exists() and not Response.objects.exists()
    assert "would be saved" in browser.get(base + "?page=exit").content.decode()
