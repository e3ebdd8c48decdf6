"""How fast a web or command process starts and how much memory a web worker holds.

Prints the median wall time of ``manage.py check`` over five runs, then starts gunicorn (one
worker, embedded defaults in a fresh folder), asks it for the health check, the admin's login
page and a worker's landing page of a missing survey, and reads that worker's resident memory.

    python benchmarks/startup.py

Goals (issue 27): ``manage.py check`` under 1.5 s, a worker under 200 MB. The last line is the
headline: ``check S s, worker M MB``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _check_seconds(env: dict[str, str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _worker_rss(env: dict[str, str]) -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gunicorn = Path(sys.executable).parent / "gunicorn"
    master = subprocess.Popen(
        [gunicorn, "metamer.wsgi:application", f"--bind=127.0.0.1:{port}", "--workers=1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        for path in ("/admin/login/", "/s/00000000-0000-0000-0000-000000000000/"):
            # The missing survey's 404 is a page served all the same.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30)
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        return max(_rss_mb(int(pid)) for pid in children)
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "METAMER_VAR_DIR": var, "DJANGO_SETTINGS_MODULE": "metamer.settings"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        check = _check_seconds(env)
        print(f"manage.py check: {check:.2f} s (median of 5; goal under 1.5 s)")
        rss = _worker_rss(env)
        print(f"gunicorn worker after three pages: {rss:.0f} MB resident (goal under 200 MB)")
        print(f"check {check:.2f} s, worker {rss:.0f} MB")


if __name__ == "__main__":
    main()
