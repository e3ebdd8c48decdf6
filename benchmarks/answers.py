"""Answers under load: 50 concurrent simulated workers against gunicorn on this machine.

Prints answers/s and p50/p99 latency of the answer endpoint and of a trivial no-database view
(/healthz) on the same server, then checks that every acknowledged answer is stored exactly
once (every tenth answer is retried with the same idempotency key, as a flaky phone would).

    python benchmarks/answers.py --quick                          # under 2 minutes, SQLite (WAL)
    python benchmarks/answers.py --database-url postgres://postgres@127.0.0.1:5432/metamer_bench  # made afresh

The last line is the headline: ``ratio R, lost L, duplicated D`` (ratio = answer endpoint
throughput / trivial view throughput).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3
"""The answer and trivial phases alternate this many times; medians are reported (noisy machines)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_postgres_database(url: str) -> None:
    """Drop and create the database named in ``url``, so every run starts from empty tables."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare(env: dict[str, str], n_trials: int, n_workers: int) -> tuple[str, list[int]]:
    """Migrate and build an open survey with a place for every worker (tiny noise targets,
    1-step IRIs); returns its uuid and its trial ids in order."""
    script = f"""
import django; django.setup()
from inversion import services as inv
from inversion.config import InversionConfig
from surveys import services as sv
from tests.factories import StudyFactory
spec = inv.model_spec_register(name="bench", architecture="alexnet-imagenet", layer="3", input_size=32)
targets = inv.target_set_create_noise(name="bench", n={n_trials}, law="normal-0-1", image_size=32, seed=0)
job = inv.inversion_job_create(model_spec=spec, target_set=targets, config=InversionConfig(steps=1), enqueue=False)
job = inv.inversion_job_run(job_id=job.pk)
survey = sv.survey_assemble(
    study=StudyFactory(), name="bench", jobs=[job], n_trials=None, include_unconverged=True,
    workers_per_survey={n_workers},
)
sv.survey_open(survey=survey)
print(survey.uuid, *survey.trials.order_by("position").values_list("pk", flat=True))
"""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0", "--noinput"], cwd=ROOT, env=env, check=True)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    survey, *trials = out.stdout.strip().splitlines()[-1].split()
    return survey, [int(t) for t in trials]


def consent(base: str, survey: str, name: str) -> tuple[requests.Session, str]:
    """A participant's session and assignment page, after the consent form."""
    session = requests.Session()
    reply = session.post(f"{base}/s/{survey}/", data={"pid": name}, timeout=30)
    if reply.status_code != 200 or "/a/" not in reply.url:
        raise SystemExit(f"{name} could not start: {reply.status_code} {reply.text[:200]}")
    return session, reply.url


def worker(session, page, trials, start, latencies, acks, errors):
    """Answer these trials; every tenth answer is posted twice (a retry with the same key, as
    from a phone that lost the reply). The pages' own trial lookups are left out, so the timing
    is the answer endpoint's alone."""
    token = page.rstrip("/").rsplit("/", 1)[-1]
    start.wait()
    for i, trial in enumerate(trials):
        body = {"trial": trial, "answer": 0, "idempotency_key": uuid.uuid4().hex, "response_ms": 900}
        for _ in range(2 if i % 10 == 0 else 1):
            t0 = time.perf_counter()
            reply = session.post(page + "answer", json=body, timeout=30)
            latencies.append(time.perf_counter() - t0)
            if reply.status_code == 200:
                acks.append((token, trial))
            else:
                errors.append(f"{reply.status_code} {reply.text[:80]}")


def trivial(base: str, n: int, start: threading.Barrier, latencies: list[float]):
    session = requests.Session()
    session.get(f"{base}/healthz", timeout=30)  # connect before the clock starts, as the answering workers did
    start.wait()
    for _ in range(n):
        t0 = time.perf_counter()
        session.get(f"{base}/healthz", timeout=30).raise_for_status()
        latencies.append(time.perf_counter() - t0)


def run_threads(targets, start: threading.Barrier | None = None) -> float:
    """Run the targets in threads; the clock starts when all pass ``start`` (if given)."""
    threads = [threading.Thread(target=t, args=a) for t, a in targets]
    for t in threads:
        t.start()
    if start is not None:
        start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="20 trials per worker")
    parser.add_argument("--database-url", default="", help="default: SQLite (WAL) in a temporary folder")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    args = parser.parse_args()
    n_trials = 20 if args.quick else args.trials
    tmp = Path(tempfile.mkdtemp(prefix="metamer-bench-"))
    env = {
        **os.environ,
        "METAMER_VAR_DIR": str(tmp),
        "METAMER_CACHE_DIR": str(ROOT / "var" / "cache"),
        "DJANGO_SETTINGS_MODULE": "metamer.settings",
        "PYTHONPATH": str(ROOT),
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
        if args.database_url.startswith(("postgres://", "postgresql://")):
            fresh_postgres_database(args.database_url)
    survey, trials = prepare(env, n_trials, args.workers)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "metamer.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(args.gunicorn_workers),
            "-k",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        sessions = [consent(base, survey, f"w{i}") for i in range(args.workers)]
        answer_lat: list[float] = []
        trivial_lat: list[float] = []
        acks: list[tuple[str, int]] = []
        errors: list[str] = []
        rounds = []  # (answer req/s, trivial req/s), the two phases alternating
        for chunk in (trials[i::ROUNDS] for i in range(ROUNDS)):
            before = len(answer_lat)
            start = threading.Barrier(args.workers + 1)
            seconds = run_threads(
                [(worker, (session, page, chunk, start, answer_lat, acks, errors)) for session, page in sessions], start
            )
            answered = len(answer_lat) - before
            start = threading.Barrier(args.workers + 1)
            trivial_seconds = run_threads(
                [(trivial, (base, answered // args.workers, start, trivial_lat)) for _ in range(args.workers)], start
            )
            rounds.append((answered / seconds, answered // args.workers * args.workers / trivial_seconds))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    answer_rate = statistics.median(r[0] for r in rounds)
    trivial_rate = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[0] / r[1] for r in rounds)
    print(
        f"database: {'PostgreSQL' if 'postgres' in args.database_url else 'SQLite (WAL)'}; {args.workers} workers, "
        f"{n_trials + 1} trials each, every tenth answer retried; medians of {ROUNDS} alternating rounds"
    )
    print(
        f"answer endpoint: {answer_rate:7.1f} req/s, p50 {pct(answer_lat, 50):6.1f} ms, p99 {pct(answer_lat, 99):6.1f} ms"
    )
    print(
        f"trivial view:    {trivial_rate:7.1f} req/s, p50 {pct(trivial_lat, 50):6.1f} ms, p99 {pct(trivial_lat, 99):6.1f} ms"
    )
    if errors:
        print(f"{len(errors)} answer posts failed, e.g. {errors[0]}")
    check = """
import django, json; django.setup()
from django.db.models import Count
from surveys.models import Response
rows = list(Response.objects.values_list("assignment__token", "trial_id"))
dupes = Response.objects.values("assignment", "trial").annotate(n=Count("id")).filter(n__gt=1).count()
print(json.dumps({"rows": [list(r) for r in rows], "dupes": dupes}))
"""
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    stored = json.loads(out.stdout.strip().splitlines()[-1])
    stored_pairs = {tuple(r) for r in stored["rows"]}
    lost = len({a for a in acks} - stored_pairs)
    duplicated = stored["dupes"] + (len(stored["rows"]) - len(stored_pairs))
    print(f"acknowledged {len(set(acks))} answers ({len(acks)} acks with retries), stored {len(stored['rows'])}")
    print(f"ratio {ratio:.2f}, lost {lost}, duplicated {duplicated}")


if __name__ == "__main__":
    main()
