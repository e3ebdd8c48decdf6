"""A real Chromium (Debian's package) driven by Playwright through the worker's pages."""

from pathlib import Path

import pytest

from surveys import services
from surveys.models import Assignment, Response, Trial
from tests.browser.conftest import SCREENSHOTS
from tests.factories import StudyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _trial_on(page) -> Trial:
    return Trial.objects.get(pk=int(page.locator("#trial-form").get_attribute("data-trial")))


def _correct_as_shown(page) -> int | list[int]:
    """What a careful worker clicks on the trial ``page`` shows: its correct answer in that
    worker's own arrangement."""
    trial = _trial_on(page)
    token = page.url.split("/a/")[1].split("/")[0]
    entry = next(e for e in Assignment.objects.get(token=token).sequence if e["trial"] == trial.pk)
    if "flip" in entry:
        return trial.correct ^ entry["flip"]
    if "order" in entry:
        return entry["order"].index(trial.correct)
    return [entry["columns"].index(trial.correct[row]) for row in entry["rows"]]


def _phone(page):
    """A 390×844 touch screen (an iPhone's size) in the same browser."""
    return page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, has_touch=True, is_mobile=True
    )


def _wait_for_next(page, answered_before: int) -> None:
    page.wait_for_function(
        "n => !document.querySelector('#trial-form') || "
        "Number(document.querySelector('.progress').getAttribute('aria-valuenow')) > n",
        arg=answered_before,
    )


def _clustering_survey(paired_iris):
    return services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(),
            name="clusters",
            jobs=[paired_iris[0].job],
            kind="cluster-random",
            n_trials=None,
            n_attention_checks=1,
        )
    )


def test_two_afc_on_mturk_preview_accept_answer_reload_submit(page, live_server, iris):
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(recruiter="mturk"), name="2afc", jobs=[iris[0].job], n_trials=6, n_attention_checks=1
        )
    )
    landing = f"{live_server.url}/s/{survey.uuid}/"
    page.goto(landing + "?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=H1")
    assert page.get_by_text("Preview.").is_visible()
    assert page.get_by_role("button", name="I agree, start").count() == 0
    page.screenshot(path=SCREENSHOTS / "mturk-preview.png", full_page=True)

    page.goto(landing + "?assignmentId=A1&hitId=H1&workerId=W1&turkSubmitTo=https://workersandbox.mturk.com")
    page.get_by_role("button", name="I agree, start").click()
    page.wait_for_selector("#trial-form")
    page.screenshot(path=SCREENSHOTS / "2afc-trial.png", full_page=True)
    total = Trial.objects.filter(survey=survey).count()
    for answered in range(total):
        trial = _trial_on(page)
        if answered == total // 2:
            page.reload()  # halfway: a reload resumes at the first unanswered trial
            assert _trial_on(page) == trial
        shown = _correct_as_shown(page)
        if answered % 2:
            page.keyboard.press("1" if shown == 0 else "2")
        else:
            page.get_by_role("button", name=f"Option {shown + 1}").click()
        _wait_for_next(page, answered)
    page.screenshot(path=SCREENSHOTS / "mturk-done.png", full_page=True)
    assert (
        page.locator("form#mturk-submit").get_attribute("action")
        == "https://workersandbox.mturk.com/mturk/externalSubmit"
    )
    assignment = Assignment.objects.get(participant__external_id="W1")
    assert assignment.status == Assignment.Status.SUBMITTED
    responses = Response.objects.filter(assignment=assignment)
    assert responses.count() == total and all(r.correct for r in responses)
    assert responses.filter(trial__is_attention_check=True).count() == 1
    viewing = responses.first().viewing
    assert viewing["devicePixelRatio"] == 2 and viewing["viewport"] == [412, 915]
    assert all(len(image["sha256"]) == 64 and image["drawn"][0] > image["natural"][0] for image in viewing["images"])


def test_clustering_with_mouse_and_keys_across_a_reload(page, live_server, paired_iris):
    survey = _clustering_survey(paired_iris)
    page.goto(f"{live_server.url}/s/{survey.uuid}/?pid=lab-7")
    page.get_by_role("button", name="I agree, start").click()
    page.wait_for_selector("#trial-form")
    page.screenshot(path=SCREENSHOTS / "clustering-trial.png", full_page=True)
    total = Trial.objects.filter(survey=survey).count()
    for answered in range(total):
        trial = _trial_on(page)
        if answered == 1:
            page.reload()
            assert _trial_on(page) == trial
        for row, column in enumerate(_correct_as_shown(page)):
            if row % 2:
                page.keyboard.press(str(column + 1))  # the highlighted row is the first one unanswered
            else:
                page.locator(f'input[name="row-{row}"][value="{column}"]').check()
        page.get_by_role("button", name="Next").click()
        _wait_for_next(page, answered)
    assert page.get_by_text(survey.study.completion_code).is_visible()
    page.screenshot(path=SCREENSHOTS / "links-done.png", full_page=True)
    responses = Response.objects.filter(assignment__participant__external_id="lab-7")
    assert responses.count() == total
    assert all(r.score == 1.0 for r in responses)


def test_two_workers_on_plain_links_see_their_own_order_and_both_finish(page, live_server, iris):
    study = StudyFactory()
    survey = services.survey_assemble(
        study=study, name="2afc", jobs=[iris[0].job], n_trials=6, n_attention_checks=1, workers_per_survey=2
    )
    services.study_publish(study=study, base_url=live_server.url)
    links = [f"{live_server.url}/s/{survey.uuid}/?link={link.token}" for link in survey.links.order_by("pk")]
    first_trials = []
    for n, link in enumerate(links):
        # A fresh browser context per worker: their own cookies, as two people would have.
        worker = page.context.browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        worker.goto(link)
        if n == 0:
            worker.locator("details summary").click()  # the example question: drawn shapes, not survey images
            worker.screenshot(path=SCREENSHOTS / "links-landing-desktop.png", full_page=True)
        worker.get_by_role("button", name="I agree, start").click()
        worker.wait_for_selector("#trial-form")
        first_trials.append(_trial_on(worker).pk)
        worker.screenshot(path=SCREENSHOTS / f"links-worker-{n + 1}-desktop.png", full_page=True)
        total = Trial.objects.filter(survey=survey).count()
        for answered in range(total):
            worker.get_by_role("button", name=f"Option {_correct_as_shown(worker) + 1}").click()
            _wait_for_next(worker, answered)
        assert worker.get_by_text(study.completion_code).is_visible()
        worker.context.close()
    assert first_trials[0] != first_trials[1]
    assert list(Assignment.objects.values_list("status", flat=True)) == [Assignment.Status.SUBMITTED] * 2
    assert all(r.correct for r in Response.objects.all())


def test_a_triplet_survey_on_a_390_px_phone_by_tapping(page, live_server):
    from inversion import services as inversion_services

    images = inversion_services.target_set_create_noise(name="t", n=4, law="normal-0-1", image_size=64, seed=0)
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="triplets", kind="triplet", image_set=images, n_trials=5, n_attention_checks=1
        )
    )
    phone = _phone(page)
    page = phone.new_page()
    page.goto(f"{live_server.url}/s/{survey.uuid}/?pid=phone-1")
    assert page.get_by_text("Which image looks more similar?").is_visible()
    page.get_by_role("button", name="I agree, start").tap()
    page.wait_for_selector("#trial-form")
    page.screenshot(path=SCREENSHOTS / "triplet-trial-phone.png", full_page=True)
    assert not page.locator(".option .key").first.is_visible()  # no keys to press on a touch screen
    total = Trial.objects.filter(survey=survey).count()
    for answered in range(total):
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        trial = _trial_on(page)
        shown = _correct_as_shown(page) if trial.is_attention_check else answered % 2
        page.get_by_role("button", name=f"Option {shown + 1}").tap()
        _wait_for_next(page, answered)
    assignment = Assignment.objects.get(participant__external_id="phone-1")
    assert assignment.status == Assignment.Status.SUBMITTED
    responses = Response.objects.filter(assignment=assignment)
    assert responses.count() == total
    assert responses.get(trial__is_attention_check=True).correct is True
    assert all(r.correct is None for r in responses.filter(trial__is_attention_check=False))
    phone.close()


def test_an_odd_one_out_survey_on_a_390_px_phone_by_tapping(page, live_server):
    from inversion import services as inversion_services

    images = inversion_services.target_set_create_noise(name="o", n=4, law="normal-0-1", image_size=64, seed=0)
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="odd", kind="odd-one-out", image_set=images, n_trials=4, n_attention_checks=1
        )
    )
    phone = _phone(page)
    page = phone.new_page()
    page.goto(f"{live_server.url}/s/{survey.uuid}/?pid=phone-odd")
    assert page.get_by_text("Which image is the odd one out?").is_visible()
    page.get_by_role("button", name="I agree, start").tap()
    page.wait_for_selector("#trial-form")
    page.screenshot(path=SCREENSHOTS / "odd-one-out-trial-phone.png", full_page=True)
    assert not page.locator(".option .key").first.is_visible()
    total = Trial.objects.filter(survey=survey).count()
    for answered in range(total):
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        trial = _trial_on(page)
        shown = _correct_as_shown(page) if trial.is_attention_check else answered % 3
        page.get_by_role("button", name=f"Image {shown + 1} does not belong").tap()
        _wait_for_next(page, answered)
    assignment = Assignment.objects.get(participant__external_id="phone-odd")
    assert assignment.status == Assignment.Status.SUBMITTED
    responses = Response.objects.filter(assignment=assignment)
    assert responses.count() == total
    assert responses.get(trial__is_attention_check=True).correct is True
    phone.close()


def test_a_rating_survey_on_a_390_px_phone_by_tapping(page, live_server):
    from inversion import services as inversion_services

    images = inversion_services.target_set_create_noise(name="r", n=3, law="normal-0-1", image_size=64, seed=0)
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="rating", kind="rating", image_set=images, n_trials=None, n_attention_checks=1
        )
    )
    phone = _phone(page)
    page = phone.new_page()
    page.goto(f"{live_server.url}/s/{survey.uuid}/?pid=phone-rating")
    assert page.get_by_text("How similar are these images?").is_visible()
    page.get_by_role("button", name="I agree, start").tap()
    page.wait_for_selector("#trial-form")
    page.screenshot(path=SCREENSHOTS / "rating-trial-phone.png", full_page=True)
    box = page.get_by_role("button", name="Rate 10 of 10").bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44  # tap targets a finger can hit
    total, given = Trial.objects.filter(survey=survey).count(), []
    for answered in range(total):
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        check = _trial_on(page).is_attention_check
        rating = 9 if check else answered
        given += [] if check else [rating]
        page.get_by_role("button", name=f"Rate {rating} of 10").tap()
        _wait_for_next(page, answered)
    assignment = Assignment.objects.get(participant__external_id="phone-rating")
    assert assignment.status == Assignment.Status.SUBMITTED
    responses = Response.objects.filter(assignment=assignment)
    assert sorted(r.answer for r in responses.filter(trial__is_attention_check=False)) == given
    assert responses.get(trial__is_attention_check=True).correct is True
    phone.close()


def test_a_clustering_survey_on_a_390_px_phone_by_tapping(page, live_server, paired_iris):
    survey = _clustering_survey(paired_iris)
    phone = _phone(page)
    page = phone.new_page()
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    page.goto(f"{live_server.url}/s/{survey.uuid}/?pid=phone-clusters")
    assert page.evaluate(fits)
    page.screenshot(path=SCREENSHOTS / "clustering-landing-phone.png", full_page=True)
    page.get_by_role("button", name="I agree, start").tap()
    page.wait_for_selector("#trial-form")
    assert not page.locator(".keys-hint").first.is_visible()  # no keys to press on a touch screen
    total = Trial.objects.filter(survey=survey).count()
    for answered in range(total):
        assert page.evaluate(fits)
        for row, column in enumerate(_correct_as_shown(page)):
            choice = page.locator(f'label.choice:has(input[name="row-{row}"][value="{column}"])')
            choice.scroll_into_view_if_needed()
            box = choice.bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44
            choice.tap()
            # The column images stay in view while the lower rows are answered.
            columns = page.locator(".columns").bounding_box()
            assert columns["y"] >= -1 and columns["y"] + columns["height"] <= 844
        if answered == 0:
            page.screenshot(path=SCREENSHOTS / "clustering-trial-phone.png")
        page.get_by_role("button", name="Next").tap()
        _wait_for_next(page, answered)
    assert page.get_by_text(survey.study.completion_code).is_visible()
    assert page.evaluate(fits)
    responses = Response.objects.filter(assignment__participant__external_id="phone-clusters")
    assert responses.count() == total and all(r.score == 1.0 for r in responses)
    phone.close()


def test_practice_trials_and_exit_questions_on_a_390_px_phone(page, live_server, iris):
    survey = services.survey_assemble(study=StudyFactory(), name="2afc", jobs=[iris[0].job], n_trials=3)
    survey.instructions_text = "Look at each whole image before you choose."
    survey.n_practice = 2
    survey.exit_questions = "What did you look at to decide?"
    survey.ask_demographics = True
    survey.thank_you_text = "Thank you from the vision lab."
    survey.save()
    services.survey_open(survey=survey)
    phone = _phone(page)
    page = phone.new_page()
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    page.goto(f"{live_server.url}/s/{survey.uuid}/?pid=phone-practice")
    assert page.get_by_text("Look at each whole image before you choose.").is_visible() and page.evaluate(fits)
    page.get_by_role("button", name="I agree, start").tap()
    page.wait_for_selector("#practice-form")
    assert page.evaluate(fits)
    page.screenshot(path=SCREENSHOTS / "practice-phone.png", full_page=True)
    page.get_by_role("button", name="Option 2").tap()  # the first practice question's answer is on the left
    page.wait_for_selector(".feedback.wrong")
    assert page.get_by_text("Not quite.").is_visible() and page.evaluate(fits)
    page.screenshot(path=SCREENSHOTS / "practice-feedback-phone.png", full_page=True)
    page.get_by_role("link", name="Next practice question").tap()
    page.get_by_role("button", name="Option 2").tap()
    page.wait_for_selector(".feedback.right")
    page.get_by_role("link", name="Start the survey").tap()
    page.wait_for_selector("#trial-form")
    total = Trial.objects.filter(survey=survey).count()
    for answered in range(total):
        page.get_by_role("button", name=f"Option {_correct_as_shown(page) + 1}").tap()
        _wait_for_next(page, answered)
    page.wait_for_selector("form.exit")
    assert page.evaluate(fits)
    page.screenshot(path=SCREENSHOTS / "exit-questions-phone.png", full_page=True)
    page.get_by_label("What did you look at to decide?").fill("The colours in the middle.")
    page.get_by_label("Age range").select_option("25–34")
    page.get_by_role("button", name="Send and finish").tap()
    page.wait_for_selector("text=Thank you from the vision lab.")
    assert page.evaluate(fits)
    page.screenshot(path=SCREENSHOTS / "done-phone.png", full_page=True)
    assignment = Assignment.objects.get(participant__external_id="phone-practice")
    assert assignment.exit_answers == {"What did you look at to decide?": "The colours in the middle.", "age": "25–34"}
    assert Response.objects.filter(assignment=assignment).count() == total  # practice answers are not data
    phone.close()


def test_the_report_reads_in_a_browser_with_every_plot_drawn(page, two_conditions):
    from analysis import services as analysis_services

    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="s", jobs=two_conditions, n_trials=None, seed=1, workers_per_survey=3
        )
    )
    for n, worker in enumerate(("ann", "bo", "careless")):
        assignment = services.assignment_start(survey=survey, external_id=worker)
        for t in survey.trials.all():
            wrong = worker == "careless" if t.is_attention_check else t.job == two_conditions[1]
            answer = 1 - t.correct if wrong else t.correct
            services.response_record(
                assignment=assignment, trial_id=t.pk, answer=answer, idempotency_key=str(t.pk), response_ms=900 + n
            )
    report = analysis_services.report_build(study=survey.study)
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(Path(report.html.path).as_uri())
    for heading in ("Plots", "Workers", "Response times", "Example stimuli"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert page.evaluate("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.get_by_text("no: failed 1 of 1 attention checks").is_visible()
    page.screenshot(path=SCREENSHOTS / "report-desktop.png", full_page=True)
