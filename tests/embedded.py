"""`make serve`'s arrangement for tests that run it in subprocesses: the embedded defaults in a
temporary var/ and a Celery worker on the filesystem broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = [sys.executable, "-m", "celery", "-A", "metamer", "worker", "-Q", "gpu,celery", "--pool", "solo"]
WORKER += ["--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"]
"""The worker `make serve` starts, quiet."""


def embedded_environment(tmp_path: Path) -> dict[str, str]:
    """The embedded defaults only: none of the settings a test run (or its PostgreSQL pass)
    exports, a var/ of its own, and tasks queued through files there."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_", "METAMER_", "DJANGO_"))
    }
    inherited.pop("MEDIA_ROOT", None)
    return {
        **inherited,
        "METAMER_VAR_DIR": str(tmp_path / "var"),
        "METAMER_CACHE_DIR": str(ROOT / "var" / "cache"),
        "CELERY_BROKER_URL": "filesystem://",
        "DJANGO_SETTINGS_MODULE": "metamer.settings",
        "PYTHONPATH": str(ROOT),
    }


@dataclass(frozen=True)
class Served:
    base: str
    """The web server's address, ``http://127.0.0.1:<port>``."""
    first_login: str
    """What ``manage.py first_login`` printed: the admin's user and password on a fresh database."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(tmp_path: Path, setup: str | None = None) -> Iterator[Served]:
    """`make serve` in a temporary var/: migrate, the first login, the architecture lists, then
    runserver and a Celery worker on the filesystem broker; ``setup`` is Python run in between."""
    env = embedded_environment(tmp_path)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0", "--noinput"], cwd=ROOT, env=env, check=True)
    login = subprocess.run(
        [python, "manage.py", "first_login"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    subprocess.run([python, "manage.py", "catalogue"], cwd=ROOT, env=env, check=True, capture_output=True)
    if setup:
        subprocess.run([python, "-c", setup], cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    quiet = {"cwd": ROOT, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    worker = subprocess.Popen(WORKER, **quiet)
    web = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"], **quiet
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a loaded machine (two test processes, CI) starts Django slowly
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("the web server did not come up in 3 minutes")
        yield Served(base=base, first_login=login)
    finally:
        for process in (web, worker):
            process.terminate()
            process.wait(timeout=30)
