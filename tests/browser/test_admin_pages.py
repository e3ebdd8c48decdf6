"""The researcher's admin in a real Chromium, against `make serve`'s arrangement: the web server
and a background worker on the embedded defaults (SQLite, tasks queued through files)."""

import re
import time

import pytest

from tests.browser.conftest import CHROMIUM, SCREENSHOTS
from tests.embedded import serving

pytestmark = pytest.mark.browser


SETUP = """
import django; django.setup()
from django.contrib.auth import get_user_model
from inversion import services
get_user_model().objects.create_superuser("researcher", "r@example.org", "a long pass phrase")
services.model_spec_register(name="alexnet conv2", architecture="alexnet-imagenet", layer="3", input_size=32)
services.target_set_create_noise(name="noise", n=8, law="normal-0-1", image_size=32, seed=0)
"""


@pytest.fixture
def served(tmp_path):
    """`make serve` in a temporary var/, with a researcher, a network and noise targets."""
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian package 'chromium'; `make test` installs it)")
    with serving(tmp_path, SETUP) as server:
        yield server.base


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _progress(page) -> tuple[int, int]:
    page.reload()
    cell = page.locator("td.field-progress").first.inner_text()
    done, total = re.search(r"(\d+)/(\d+)", cell).groups()
    return int(done), int(total)


def test_saving_a_job_returns_at_once_and_its_progress_rises(served, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{served}/admin/login/")
    page.get_by_label("Username").fill("researcher")
    page.get_by_label("Password").fill("a long pass phrase")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{served}/admin/inversion/inversionjob/add/")
    page.get_by_label("Model spec").select_option(index=1)
    page.get_by_label("Target set").select_option(index=1)
    # Eight IRIs one at a time, long enough to watch: a few seconds each on two cores.
    page.locator("#id_steps").fill("300")
    page.locator("#id_batch_size").fill("1")
    page.screenshot(path=SCREENSHOTS / "admin-job-form.png", full_page=True)
    started = time.perf_counter()
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_load_state()
    seconds = time.perf_counter() - started
    assert seconds < 2, f"saving took {seconds:.1f} s: the request waited for the job"
    assert "/admin/inversion/inversionjob/" in page.url
    page.screenshot(path=SCREENSHOTS / "admin-job-saved.png", full_page=True)
    seen = [_progress(page)]
    deadline = time.monotonic() + 240
    while seen[-1][0] < seen[-1][1] and time.monotonic() < deadline:
        time.sleep(1)
        seen.append(_progress(page))
    done = [d for d, _ in seen]
    assert done[-1] == 8, f"progress seen: {seen}"
    assert len(set(done)) >= 3, f"progress should rise in steps, saw {seen}"  # not 0 then all at once
    assert done == sorted(done)
    page.screenshot(path=SCREENSHOTS / "admin-job-done.png", full_page=True)
    # Registering a network: architectures from a list, then that architecture's layers by name.
    page.goto(f"{served}/admin/inversion/modelspec/add/")
    page.get_by_label("Source").select_option("torchvision")
    page.get_by_label("Architecture").fill("resnet18")
    page.get_by_label("Architecture").dispatch_event("change")
    page.wait_for_function("document.querySelectorAll('#layer-names option').length > 10")
    assert page.get_by_label("Layer").get_attribute("placeholder") == "empty: flatten (penultimate)"
    page.screenshot(path=SCREENSHOTS / "admin-model-spec-form.png", full_page=True)
    page.goto(f"{served}/admin/")
    page.screenshot(path=SCREENSHOTS / "admin-index.png", full_page=True)
    _study_and_survey_forms_show_their_own_fields_and_the_survey_builds_after_saving(page, served)


def _study_and_survey_forms_show_their_own_fields_and_the_survey_builds_after_saving(page, served):
    page.goto(f"{served}/admin/surveys/study/add/")
    recruiter = page.get_by_label("Recruiter")
    recruiter.select_option("links")
    assert page.locator(".form-row.field-open_entry").is_visible()
    assert not page.locator(".form-row.field-min_approval_rate").is_visible()
    recruiter.select_option("mturk")
    assert page.locator(".form-row.field-min_approval_rate").is_visible()
    assert not page.locator(".form-row.field-open_entry").is_visible()
    assert not page.locator(".form-row.field-academic").is_visible()
    recruiter.select_option("links")
    page.get_by_label("Name").fill("Pilot")
    page.get_by_role("button", name="Save", exact=True).click()
    page.goto(f"{served}/admin/surveys/survey/add/")
    kind = page.get_by_label("Kind")
    kind.select_option("triplet")
    assert page.locator(".form-row.field-image_set").is_visible()
    assert not page.locator(".form-row.field-jobs").is_visible()
    kind.select_option("2afc")
    assert page.locator(".form-row.field-jobs").is_visible()
    assert not page.locator(".form-row.field-image_set").is_visible()
    assert not page.locator(".form-row.field-similarity").is_visible()
    page.screenshot(path=SCREENSHOTS / "admin-survey-form-2afc.png", full_page=True)
    page.get_by_label("Study").select_option(label="Pilot")
    page.get_by_label("Name").fill("2AFC pilot")
    page.locator("#id_jobs_from option").first.click()
    page.locator("#id_jobs_add").click()
    started = time.perf_counter()
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_load_state()
    assert time.perf_counter() - started < 2, "saving a survey waited for its LPIPS choices"
    state = page.locator("div.field-state")
    assert "building" in state.inner_text() or "Draft" in state.inner_text()
    deadline = time.monotonic() + 120
    while "building" in state.inner_text() and time.monotonic() < deadline:
        time.sleep(1)  # the page reloads itself while the survey builds
        state = page.locator("div.field-state")
    assert "Draft" in state.inner_text()
    page.screenshot(path=SCREENSHOTS / "admin-survey-built.png", full_page=True)
