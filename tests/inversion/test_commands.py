"""The ``invert`` command, killed mid-job (SIGKILL) and resumed: no IRI lost, none made twice."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
from inversion import services
from inversion.config import InversionConfig
spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
targets = services.target_set_create_noise(name="n", n=4, law="normal-0-1", image_size=32, seed=0)
services.inversion_job_create(
    model_spec=spec, target_set=targets, config=InversionConfig(steps=1500, batch_size=1), enqueue=False
)
"""

COUNT = """
from inversion.models import IRI, InversionJob
job = InversionJob.objects.get()
pairs = list(IRI.objects.filter(job=job).values_list("target_id", "seed_index"))
print(job.status, job.done, len(pairs), len(set(pairs)))
"""


def _stored(database: Path) -> int:
    """IRIs stored so far, read without starting Django (fast enough to catch the job midway)."""
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute("SELECT COUNT(*) FROM inversion_iri").fetchone()[0]


def _manage(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True, **kwargs
    )


def test_a_job_killed_midway_resumes_from_the_cli_with_no_iri_lost_or_duplicated(tmp_path):
    env = {
        **os.environ,
        "METAMER_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'kill.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "METAMER_CACHE_DIR": os.environ.get("METAMER_CACHE_DIR", str(ROOT / "var" / "cache")),
        "METAMER_JOB_LEASE_SECONDS": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    _manage(env, "migrate", "--noinput", "-v0")
    _manage(env, "shell", "-v0", "-c", SETUP)
    running = subprocess.Popen(
        [sys.executable, "manage.py", "invert", "--resume", "1"],
        cwd=ROOT,
        env={**env, "METAMER_JOB_LEASE_SECONDS": "300"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _stored(tmp_path / "kill.sqlite3") < 1:
            time.sleep(0.1)
        running.send_signal(signal.SIGKILL)
        running.wait()
    finally:
        if running.poll() is None:
            running.kill()
    status, done, stored, unique = _manage(env, "shell", "-v0", "-c", COUNT).stdout.split()
    assert status == "running" and 1 <= int(stored) < 4  # killed midway, mid-chunk work lost, stored kept
    time.sleep(1.5)  # past the (1 s) lease: the job is stalled now
    resumed = _manage(env, "invert", "--resume", "1")
    assert "4/4 IRIs" in resumed.stdout
    status, done, stored, unique = _manage(env, "shell", "-v0", "-c", COUNT).stdout.split()
    assert (status, done, stored, unique) == ("done", "4", "4", "4")


@pytest.mark.django_db
def test_a_running_job_with_a_live_worker_is_not_resumed(settings):
    from inversion import services
    from inversion.models import InversionJob
    from metamer.errors import MetamerError
    from tests.factories import InversionJobFactory

    job = InversionJobFactory(status=InversionJob.Status.RUNNING)
    from django.utils import timezone

    InversionJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    job.refresh_from_db()
    with pytest.raises(MetamerError, match="not stalled"):
        services.inversion_job_resume(job=job, enqueue=False)
    settings.METAMER_JOB_LEASE_SECONDS = 0
    assert services.inversion_job_resume(job=job, enqueue=False).status == InversionJob.Status.QUEUED
