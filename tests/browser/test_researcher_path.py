"""The whole path from a blank database, in Chromium, against `make serve`'s arrangement."""

import pytest

from tests.browser.conftest import CHROMIUM, SCREENSHOTS
from tests.browser.researcher_path import walk
from tests.embedded import serving

pytestmark = pytest.mark.browser


def test_a_first_time_researcher_goes_from_a_blank_database_to_a_report(tmp_path):
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian package 'chromium'; `make test` installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with serving(tmp_path) as served, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        seen = walk(browser, served.base, served.first_login, SCREENSHOTS)
        browser.close()
    assert seen.seen["study list after the preview"] == "0/2"
    assert seen.seen["study list after two workers"] == "2/2"
    assert "2 workers" in seen.seen["report"] or "2 people" in seen.seen["report"], seen.seen["report"][:3000]
    # The list and the study's own page count the same places.
    assert "2/2 places submitted" in seen.seen["study page"], seen.seen["study page"]
    assert "2 of 2 workers counted, 0 excluded" in seen.seen["study page"], seen.seen["study page"]
