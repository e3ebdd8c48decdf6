"""Faults while workers answer (the web server SIGKILLed and restarted; every database
connection killed on PostgreSQL): every answer a worker was told was saved is there once,
unchanged, and every worker finishes."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
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
        retry(lambda: session.get(f"{base}/s/{survey}/", params={"pid": name}, timeout=5))  # consent page first
        start = retry(lambda: session.post(f"{base}/s/{survey}/", data={"pid": name}, timeout=5))
        assert start.status_code == 200, start.text
        page = start.url
        while True:
            reply = retry(lambda: session.get(f"{page}trial.json", timeout=5))
            assert reply.status_code == 200, reply.text
            state = reply.json()
            if state["trial"] is None:
                return
            trial, key = state["trial"]["trial"], uuid.uuid4().hex
            body = {"trial": trial, "answer": 0, "idempotency_key": key, "response_ms": 100}
            reply = retry(lambda body=body: session.post(f"{page}answer", json=body, timeout=5))
            assert reply.status_code == 200, reply.text
            saved[(name, trial)] = key
    except Exception as exc:  # reported to the test thread
        errors.append(repr(exc))


ROWS = """
import json
from surveys.models import Response
rows = Response.objects.values_list(
    "assignment__participant__external_id", "trial_id", "idempotency_key", "presented", "assignment__status"
)
print(json.dumps([[w, t, k, json.dumps(p), s] for w, t, k, p, s in rows]))
"""


def _environment(tmp_path, database_url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "METAMER_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",  # persistent connections, as in production
        "MEDIA_ROOT": str(tmp_path / "media"),
        "METAMER_CACHE_DIR": os.environ.get("METAMER_CACHE_DIR", str(ROOT / "var" / "cache")),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _manage(env, *args: str) -> str:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout


def _answer_through(env, fault) -> tuple[dict, list]:
    """Four workers answer a 13-trial survey while ``fault(server)`` strikes three times, each
    time after eight more answers were acknowledged; returns what the workers were told was
    saved and what is stored."""
    _manage(env, "migrate", "--noinput", "-v0")
    survey = _manage(env, "shell", "-v0", "-c", SETUP).split()[-1]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = [_serve(env, port)]
    _up(base)
    saved: dict = {}
    errors: list = []
    threads = [threading.Thread(target=_worker, args=(base, survey, f"w{n}", saved, errors)) for n in range(WORKERS)]
    try:
        for thread in threads:
            thread.start()
        for _ in range(3):  # three faults while answers flow
            target = len(saved) + 8
            deadline = time.monotonic() + 60
            while len(saved) < target and time.monotonic() < deadline and any(t.is_alive() for t in threads):
                time.sleep(0.05)
            fault(server, port)
        for thread in threads:
            thread.join(timeout=180)
    finally:
        os.killpg(server[0].pid, signal.SIGKILL)
        server[0].wait()
    assert not errors, errors
    return saved, json.loads(_manage(env, "shell", "-v0", "-c", ROWS).splitlines()[-1])


def _nothing_lost_duplicated_or_changed(saved: dict, rows: list) -> None:
    stored = {(worker, trial): key for worker, trial, key, _, _ in rows}
    assert len(rows) == len(stored) == WORKERS * 13  # 12 trials + 1 attention check each, none twice
    assert all(stored[k] == v for k, v in saved.items())  # nothing a worker was told was saved is lost
    assert all('"answer_shown": 0' in presented for *_, presented, _ in rows)  # nothing changed
    assert {status for *_, status in rows} == {"submitted"}


def test_killing_the_web_server_mid_load_loses_and_duplicates_no_answer(tmp_path):
    env = _environment(tmp_path, f"sqlite:///{tmp_path / 'load.sqlite3'}")
    kills = []

    def kill_and_restart(server: list, port: int) -> None:
        os.killpg(server[0].pid, signal.SIGKILL)
        server[0].wait()
        kills.append(1)
        server[0] = _serve(env, port)

    saved, rows = _answer_through(env, kill_and_restart)
    assert len(kills) == 3
    _nothing_lost_duplicated_or_changed(saved, rows)


def test_killing_every_database_connection_mid_load_loses_and_duplicates_no_answer(tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's connections are killed in the PostgreSQL pass (make test-services)")
    import psycopg
    from psycopg import sql

    settings = connection.settings_dict
    server_url = f"postgresql://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    name = f"metamer_faults_{os.getpid()}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        killed = []

        def terminate_backends(_server: list, _port: int) -> None:
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            ).fetchall()
            killed.append(len(rows))

        try:
            saved, rows = _answer_through(_environment(tmp_path, f"{server_url}/{name}"), terminate_backends)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    assert len(killed) == 3 and sum(killed) > 0, killed  # the server's connections were there to kill
    _nothing_lost_duplicated_or_changed(saved, rows)
