"""The preview, clicked through in Chromium by a logged-in researcher, on every survey kind:
practice, trials, exit questions and the last page, with nothing recorded."""

import pytest

from surveys import services
from surveys.models import Assignment, Participant, Response
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_worker_pages import _clustering_survey
from tests.factories import StudyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _answer_one_page(page) -> bool:
    """Answer whatever the page asks with its first choice; False on the last page."""
    form = page.locator("#trial-form, #practice-form")
    if form.count():
        choices = form.locator("button.option, button.rate")
        if choices.count():
            choices.first.click()
        else:  # clustering: a column for every row, then on
            for row in range(form.locator('input[type="radio"][value="0"]').count()):
                form.locator(f'input[name="row-{row}"][value="0"]').check()
            form.locator('button[type="submit"]').last.click()
    elif page.get_by_role("link", name="Next practice question").count():
        page.get_by_role("link", name="Next practice question").click()
    elif page.get_by_role("link", name="Start the survey").count():
        page.get_by_role("link", name="Start the survey").click()
    elif page.get_by_role("button", name="Send and finish").count():
        page.get_by_role("button", name="Send and finish").click()
    else:
        return False
    page.wait_for_load_state()
    return True


def test_the_preview_clicks_through_on_every_kind_and_records_nothing(page, live_server, iris, paired_iris):
    from django.contrib.auth import get_user_model

    from inversion import services as inversion_services

    get_user_model().objects.create_superuser("lab", "lab@example.org", "a long pass phrase")
    images = inversion_services.target_set_create_noise(name="set", n=4, law="normal-0-1", image_size=32, seed=0)
    study = StudyFactory()
    surveys = {
        "2afc": services.survey_assemble(study=study, name="2afc", jobs=[iris[0].job], n_trials=3),
        "cluster-random": _clustering_survey(paired_iris),
        **{
            kind: services.survey_assemble(study=study, name=kind, kind=kind, image_set=images, n_trials=3)
            for kind in ("triplet", "odd-one-out", "rating")
        },
    }
    for survey in surveys.values():
        survey.n_practice = 1
        survey.exit_questions = "Anything to tell us?"
        survey.save()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("lab")
    page.get_by_label("Password").fill("a long pass phrase")
    page.get_by_role("button", name="Log in").click()
    for kind, survey in surveys.items():
        page.goto(f"{live_server.url}/s/{survey.uuid}/preview/?page=landing")
        assert page.get_by_text("Nothing is recorded").count() or page.get_by_text("Preview").count(), kind
        page.get_by_role("link", name="I agree, start").click()
        pages = 0
        while _answer_one_page(page):
            pages += 1
            assert pages < 40, f"{kind}: the preview never ends"
        assert pages >= 4, f"{kind}: practice, trials and exit questions expected, saw {pages} pages"
        assert "Preview" in page.content(), kind
        page.screenshot(path=SCREENSHOTS / f"preview-done-{kind}.png", full_page=True)
    assert not Participant.objects.exists()
    assert not Assignment.objects.exists()
    assert not Response.objects.exists()
