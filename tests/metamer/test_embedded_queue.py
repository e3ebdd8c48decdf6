"""``make serve`` on the embedded defaults: a job saved from a request is queued through files
under var/ and run by the worker started beside the web server, so the request does not wait."""

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.embedded import ROOT, WORKER, embedded_environment

CREATE = """
import time, django; django.setup()
from django.db import transaction
from inversion import services
from inversion.config import InversionConfig
spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
targets = services.target_set_create_noise(name="n", n=4, law="normal-0-1", image_size=32, seed=0)
start = time.perf_counter()
with transaction.atomic():
    job = services.inversion_job_create(model_spec=spec, target_set=targets, config=InversionConfig(steps=400))
job.refresh_from_db()
print(job.pk, job.status, round(time.perf_counter() - start, 3))
"""


def _status(database: Path) -> tuple[str, int]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT status, done FROM inversion_inversionjob").fetchone()


def test_a_job_is_queued_at_once_and_run_by_the_worker_beside_the_server(tmp_path):
    env = embedded_environment(tmp_path)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0", "--noinput"], cwd=ROOT, env=env, check=True)
    made = subprocess.run([python, "-c", CREATE], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    _, status, seconds = made.stdout.split()
    assert status == "queued" and float(seconds) < 2  # queued, not run inside the request
    assert list((tmp_path / "var" / "queue").iterdir())  # the message waits in var/queue
    database = tmp_path / "var" / "metamer.sqlite3"
    worker = subprocess.Popen(
        WORKER,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            seen.append(_status(database))
            if seen[-1][0] in ("done", "failed"):
                break
            time.sleep(0.3)
    finally:
        worker.terminate()
        _, errors = worker.communicate(timeout=30)
    assert seen[-1] == ("done", 4), errors.decode()[-2000:]
    assert any(status == "running" for status, _ in seen)  # progress was visible while it ran
