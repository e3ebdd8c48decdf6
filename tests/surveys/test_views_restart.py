"""The web server SIGKILLed while workers answer, then restarted: every answer a worker was told
was saved is there once, unchanged, and every worker finishes."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4

SETUP = """
from inversion import services as inv
from inversion.config import InversionConfig
from surveys import services
from tests.factories import StudyFactory
spec = inv.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
targets = inv.target_set_create_noise(name="n", n=12, law="normal-0-1", image_size=32, seed=0)
job = inv.inversion_job_create(model_spec=spec, target_set=targets, config=InversionConfig(steps=1), enqueue=False)
job = inv.inversion_job_run(job_id=job.pk)
survey = services.survey_assemble(
    study=StudyFactory(), name="s", jobs=[job], n_trials=12, include_unconverged=True, workers_per_survey=4
)
services.survey_open(survey=survey)
print(survey.uuid)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(env, port):
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "metamer.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("the server did not come up")


def _worker(base: str, survey: str, name: str, saved: dict, errors: list) -> None:
    """Answer every trial (always the first option shown), retrying each request through the
    outage with the same idempotency key, as the worker's page does."""
    session = requests.Session()

    def retry(call):
        for _ in range(600):
            try:
                reply = call()
                if reply.status_code < 500:
                    return reply
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("gave up")

    try:
        start = retry(lambda: session.post(f"{base}/s/{survey}/", data={"pid": name}, timeout=5))
        page = start.url
        while True:
            state = retry(lambda: session.get(f"{page}trial.json", timeout=5)).json()
            if state["trial"] is None:
                return
            trial, key = state["trial"]["trial"], uuid.uuid4().hex
            body = {"trial": trial, "answer": 0, "idempotency_key": key, "response_ms": 100}
            reply = retry(lambda body=body: session.post(f"{page}answer", json=body, timeout=5))
            assert reply.status_code == 200, reply.text
            saved[(name, trial)] = key
    except Exception as exc:  # reported to the test thread
        errors.append(repr(exc))


def test_killing_the_web_server_mid_load_loses_and_duplicates_no_answer(tmp_path):
    database = tmp_path / "load.sqlite3"
    env = {
        **os.environ,
        "METAMER_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{database}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "METAMER_CACHE_DIR": os.environ.get("METAMER_CACHE_DIR", str(ROOT / "var" / "cache")),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    survey = subprocess.run(
        [*manage, "shell", "-v0", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(env, port)
    _up(base)
    saved: dict = {}
    errors: list = []
    threads = [threading.Thread(target=_worker, args=(base, survey, f"w{n}", saved, errors)) for n in range(WORKERS)]
    kills = 0
    try:
        for thread in threads:
            thread.start()
        for _ in range(3):  # three kills while answers flow
            target = len(saved) + 8
            deadline = time.monotonic() + 60
            while len(saved) < target and time.monotonic() < deadline and any(t.is_alive() for t in threads):
                time.sleep(0.05)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            kills += 1
            server = _serve(env, port)
        for thread in threads:
            thread.join(timeout=180)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    assert not errors, errors
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT p.external_id, r.trial_id, r.idempotency_key, r.presented, a.status FROM surveys_response r "
            "JOIN surveys_assignment a ON a.id = r.assignment_id JOIN surveys_participant p ON p.id = a.participant_id"
        ).fetchall()
    stored = {(worker, trial): key for worker, trial, key, _, _ in rows}
    assert kills == 3
    assert len(rows) == len(stored) == WORKERS * 13  # 12 trials + 1 attention check each, none twice
    assert all(stored[k] == v for k, v in saved.items())  # nothing a worker was told was saved is lost
    assert all('"answer_shown": 0' in presented for *_, presented, _ in rows)  # nothing changed
    assert {status for *_, status in rows} == {"submitted"}
