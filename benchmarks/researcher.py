"""The researcher's whole path in Chromium, from a blank database to a report, timed page by page.

Starts `make serve`'s arrangement in a fresh folder (runserver and a Celery worker on the embedded
defaults), then walks the path ``tests/browser/researcher_path.py`` describes: log in, register a
network, add targets, run a job, make a study and a survey, click through the preview, publish, two
workers answer, build the report. Prints each step's page time (the click to the page it lands
on) and how long each piece of background work took to be ready.

    python benchmarks/researcher.py

Goal (issue 24): no request over 2 s on this machine. The last line is the headline:
``slowest step: NAME S s``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.researcher_path import walk  # noqa: E402
from tests.embedded import serving  # noqa: E402


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp)) as served, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        seen = walk(browser, served.base, served.first_login, Path(tmp) / "screenshots")
        browser.close()
    sys.stdout.write("page times (click to loaded page):\n")
    for name, seconds in seen.steps.items():
        sys.stdout.write(f"  {name:<22} {seconds:6.2f} s{'  OVER 2 s' if seconds > 2 else ''}\n")
    sys.stdout.write("background work, until its page says it is ready:\n")
    for name, seconds in seen.waits.items():
        sys.stdout.write(f"  {name:<22} {seconds:6.2f} s\n")
    name, seconds = seen.slowest()
    sys.stdout.write(f"slowest step: {name} {seconds:.2f} s\n")


if __name__ == "__main__":
    main()
