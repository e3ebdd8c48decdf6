"""The researcher's whole path in a real Chromium, from a blank database to a report, as the
README tells it: log in with what `make serve` printed, register a network, add targets, run a
job, make a study and a survey, click through the preview, publish, two workers answer (a phone
and a desktop), build the report. Used by ``test_researcher_path.py`` and by
``benchmarks/researcher.py``, which prints each step's page time."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "has_touch": True, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
WAIT_S = 300
"""The longest any background work (a network's check, a job, a survey's build) may take here."""


@dataclass
class Walk:
    """What the walk saw: each step's page time (the click that submits to the page it lands
    on), how long the background work took, and the numbers the pages showed."""

    steps: dict[str, float] = field(default_factory=dict)
    waits: dict[str, float] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)

    def timed(self, name: str, page, act: Callable[[], object]) -> None:
        started = time.perf_counter()
        act()
        page.wait_for_load_state()
        self.steps[name] = time.perf_counter() - started

    def slowest(self) -> tuple[str, float]:
        return max(self.steps.items(), key=lambda item: item[1])


def _until(page, url: str, done: Callable[[str], bool], what: str, walk: Walk) -> str:
    """Reload ``url`` until ``done(text of its content)``; the text."""
    started = time.perf_counter()
    deadline = time.monotonic() + WAIT_S
    while True:
        page.goto(url)
        text = page.locator("#content").inner_text()
        if done(text):
            walk.waits[what] = time.perf_counter() - started
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not done in {WAIT_S} s; the page says:\n{text[:2000]}")
        time.sleep(1)


def credentials(first_login: str) -> tuple[str, str]:
    """The user and password ``manage.py first_login`` printed on a fresh database."""
    found = re.search(r"log in as (\S+) / (\S+)", first_login)
    assert found, f"first_login printed no login: {first_login!r}"
    return found.group(1), found.group(2)


def _save(page, walk: Walk, name: str, button: str = "Save") -> None:
    walk.timed(name, page, lambda: page.get_by_role("button", name=button, exact=True).click())
    errors = page.locator(".form-row .errorlist, .errorlist.nonfield, .messagelist .error")
    assert errors.count() == 0, f"{name}: the page said {errors.all_inner_texts()}"


def _obvious_or_first(page) -> int:
    """What a careful worker picks on a 2AFC page: the option that is the reference image itself
    (an attention check), else the first."""
    return page.evaluate(
        """() => {
            const query = document.querySelector('.query img');
            const options = [...document.querySelectorAll('#trial-form button.option img')];
            const same = options.findIndex(img => query && img.dataset.sha256 === query.dataset.sha256);
            return Math.max(same, 0);
        }"""
    )


def _answer_everything(page, shots: Path, prefix: str) -> str:
    """Answer a worker's (or the preview's) pages to the end: practice, every trial (the first
    option), the exit questions; the text of the last page."""
    for _ in range(200):
        if page.locator("#trial-form").count():
            answered = page.locator(".progress").get_attribute("aria-valuenow")
            page.locator("#trial-form button.option").nth(_obvious_or_first(page)).click()
            page.wait_for_function(
                "n => !document.querySelector('#trial-form') || "
                "document.querySelector('.progress').getAttribute('aria-valuenow') !== n",
                arg=answered,
            )
        elif page.locator("#practice-form").count():
            page.locator("#practice-form button.option").first.click()
        elif page.get_by_role("link", name=re.compile("Next practice question|Start the survey")).count():
            page.get_by_role("link", name=re.compile("Next practice question|Start the survey")).click()
        elif page.get_by_role("button", name="Send and finish").count():
            page.screenshot(path=shots / f"{prefix}-exit.png", full_page=True)
            page.get_by_role("button", name="Send and finish").click()
        else:
            page.wait_for_load_state()
            page.screenshot(path=shots / f"{prefix}-done.png", full_page=True)
            return page.locator("main, body").first.inner_text()
        page.wait_for_load_state()
    raise AssertionError(f"{prefix}: more than 200 pages without an end")


def walk(browser, base: str, first_login: str, shots: Path) -> Walk:
    """The whole path; asserts what a researcher would check on the way."""
    shots.mkdir(parents=True, exist_ok=True)
    seen = Walk()
    admin = browser.new_context(**DESKTOP)
    page = admin.new_page()
    user, password = credentials(first_login)

    page.goto(f"{base}/admin/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    seen.timed("log in", page, lambda: page.get_by_role("button", name="Log in").click())
    path = page.locator("#research-path")
    assert "Register a network and a layer" in path.inner_text() and "start here" in path.inner_text()
    page.screenshot(path=shots / "path-01-home.png", full_page=True)

    page.locator("#research-path").get_by_role("link", name="add").first.click()
    page.locator("#id_name").fill("AlexNet conv2")
    page.get_by_label("Source").select_option("builtin")
    page.get_by_label("Architecture").fill("alexnet-imagenet")
    page.get_by_label("Layer").fill("3")
    page.get_by_label("Input size").fill("32")
    page.screenshot(path=shots / "path-02-network.png", full_page=True)
    _save(page, seen, "register a network")
    assert "Next: Add target images" in page.locator(".messagelist").inner_text()  # each step leads on
    _until(page, f"{base}/admin/inversion/modelspec/", lambda t: "ready" in t, "network checked", seen)

    page.goto(f"{base}/admin/inversion/targetset/add/")
    assert "AlexNet conv2 (32 px)" in page.get_by_label("Network").inner_text()
    page.locator("#id_name").fill("Noise targets")
    page.get_by_label("Noise law").select_option("normal-0-1")
    page.get_by_label("Number of noise targets").fill("4")
    page.screenshot(path=shots / "path-03-targets.png", full_page=True)
    _save(page, seen, "add targets")
    _until(page, f"{base}/admin/inversion/targetset/", lambda t: "ready" in t, "targets drawn", seen)

    page.goto(f"{base}/admin/inversion/inversionjob/add/")
    page.get_by_label("Model spec").select_option(index=1)
    page.get_by_label("Target set").select_option(index=1)
    page.locator("#id_steps").fill("60")
    _save(page, seen, "start a job")
    _until(
        page,
        f"{base}/admin/inversion/inversionjob/",
        lambda t: re.search(r"\b(\d+)/\1 IRIs stored", t) is not None,
        "job done",
        seen,
    )
    page.screenshot(path=shots / "path-04-job-done.png", full_page=True)

    page.goto(f"{base}/admin/surveys/study/add/")
    page.locator("#id_name").fill("Pilot")
    page.get_by_label("Recruiter").select_option("links")
    _save(page, seen, "make a study")

    page.goto(f"{base}/admin/surveys/survey/add/")
    page.get_by_label("Study").select_option(label="Pilot")
    page.locator("#id_name").fill("AlexNet 2AFC")
    page.get_by_label("Kind").select_option("2afc")
    page.locator("#id_jobs_from option").first.click()
    page.locator("#id_jobs_add").click()
    page.locator("#id_workers_per_survey").fill("2")
    page.locator("#id_n_attention_checks").fill("5")  # what the design check asks for, to catch random answers
    _save(page, seen, "design a survey", "Save and continue editing")
    survey = page.url
    _until(page, survey, lambda t: "Draft" in t and "building" not in t, "survey built", seen)
    page.screenshot(path=shots / "path-05-survey-built.png", full_page=True)
    warnings = page.locator("div.field-design_warnings").inner_text()
    assert "no option gives the answer away" in warnings, warnings

    preview = page.get_by_role("link", name="start", exact=True).get_attribute("href")
    tester = admin.new_page()
    seen.timed("open the preview", tester, lambda: tester.goto(f"{base}{preview}"))
    assert "Nothing is recorded" in tester.content() or "Preview" in tester.content()
    tester.get_by_role("link", name="I agree, start").click()
    last = _answer_everything(tester, shots, "path-06-preview")
    assert "Preview" in last, last
    tester.close()
    page.goto(f"{base}/admin/surveys/study/")
    seen.seen["study list after the preview"] = page.locator("td.field-progress").first.inner_text()
    assert seen.seen["study list after the preview"] == "0/2", "the preview changed a count"

    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("publish")
    seen.timed("publish", page, lambda: page.get_by_role("button", name="Go", exact=True).click())
    if page.get_by_role("button", name="Yes, go ahead").count():  # the cost, before money moves
        seen.timed("confirm publishing", page, lambda: page.get_by_role("button", name="Yes, go ahead").click())
    assert "publish done" in page.locator(".messagelist").inner_text(), page.locator("#content").inner_text()
    page.goto(survey)
    links = sorted(set(re.findall(r"new URL\('([^']+\?link=[^']+)'", page.content())))
    assert len(links) == 2, links
    page.screenshot(path=shots / "path-07-published.png", full_page=True)

    for n, (device, options) in enumerate((("phone", PHONE), ("desktop", DESKTOP))):
        worker = browser.new_context(**options).new_page()
        worker.goto(f"{base}{links[n]}" if links[n].startswith("/") else links[n])
        worker.screenshot(path=shots / f"path-08-{device}-landing.png", full_page=True)
        worker.get_by_role("button", name="I agree, start").click()
        worker.wait_for_load_state()
        last = _answer_everything(worker, shots, f"path-08-{device}")
        assert "completion code" in last.lower(), last
        worker.context.close()

    page.goto(f"{base}/admin/surveys/study/")
    seen.seen["study list after two workers"] = page.locator("td.field-progress").first.inner_text()
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.locator("select[name=action]").select_option("build_report")
    seen.timed("build the report", page, lambda: page.get_by_role("button", name="Go", exact=True).click())
    report_page = page.locator(".messagelist").get_by_role("link", name="its page")
    assert report_page.count(), page.locator(".messagelist").inner_text()
    report_url = f"{base}{report_page.get_attribute('href')}"
    _until(page, report_url, lambda t: "ready" in t and "being built" not in t, "report built", seen)
    href = page.get_by_role("link", name="HTML report").get_attribute("href")
    reader = admin.new_page()
    seen.timed("open the report", reader, lambda: reader.goto(f"{base}{href}"))
    seen.seen["report"] = reader.locator("body").inner_text()
    reader.screenshot(path=shots / "path-09-report.png", full_page=True)
    study_page = page
    page.goto(f"{base}/admin/surveys/study/")
    seen.timed("open the study", study_page, lambda: page.locator("#result_list tbody tr th a").first.click())
    seen.seen["study page"] = page.locator("div.field-live_results").inner_text()
    page.screenshot(path=shots / "path-10-study.png", full_page=True)
    admin.close()
    return seen
