"""`make serve`'s arrangement for tests that run it in subprocesses: the embedded defaults in a
temporary var/ and a Celery worker on the filesystem broker."""

from __future__ import annotations

import os
import sys
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
