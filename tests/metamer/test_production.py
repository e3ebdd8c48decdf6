"""A production smoke test: the processes deploy/compose.yaml runs (migrate, gunicorn, a Celery
worker on the gpu and default queues, beat), started natively with production settings against
PostgreSQL and Redis, answer as a lab's users will reach them through the TLS proxy."""

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("METAMER_TEST_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("METAMER_TEST_REDIS_SMOKE", "redis://127.0.0.1:6379/13")

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("METAMER_TEST_WORKER")), reason="runs once, in the embedded pass of make test"
)


def _reachable() -> str:
    try:
        psycopg.connect(PG + "/postgres", connect_timeout=3).close()
        redis.Redis.from_url(REDIS, socket_timeout=3).ping()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    problem = _reachable()
    if problem:
        pytest.skip(f"PostgreSQL or Redis unreachable: {problem}")
    database = f"metamer_smoke_{os.getpid()}"
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database}")
        admin.execute(f"CREATE DATABASE {database}")
    var = tmp_path_factory.mktemp("production")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "METAMER_"))},
        "METAMER_MODE": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "metamer.test",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://metamer.test",
        "DATABASE_URL": f"{PG}/{database}",
        "CELERY_BROKER_URL": REDIS,
        "METAMER_VAR_DIR": str(var),
        "MEDIA_ROOT": str(var / "media"),
        "DJANGO_SUPERUSER_USERNAME": "lab",
        "DJANGO_SUPERUSER_PASSWORD": "a long lab password 42",
        "DJANGO_SUPERUSER_EMAIL": "lab@metamer.test",
    }
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, timeout=300)
    subprocess.run([*manage, "createsuperuser", "--noinput"], cwd=ROOT, env=env, check=True, timeout=120)
    deploy = subprocess.run(
        [*manage, "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    log = os.open(var / "processes.log", os.O_WRONLY | os.O_CREAT, 0o600)  # closed at teardown
    processes = [
        subprocess.Popen(
            [bin_dir / "gunicorn", "metamer.wsgi:application", f"--bind=127.0.0.1:{port}", "--workers=2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                bin_dir / "celery",
                "-A",
                "metamer",
                "worker",
                "-Q",
                "celery,gpu",
                "-n",
                f"smoke{port}@%h",
                "--pool=solo",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [bin_dir / "celery", "-A", "metamer", "beat", "-s", str(var / "beat-schedule")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
    ]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if _https(requests.Session(), f"{base}/healthz").status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    yield {"base": base, "deploy": deploy, "processes": processes, "log": var / "processes.log"}
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    os.close(log)
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _https(session: requests.Session, url: str, **kwargs) -> requests.Response:
    """A request as the proxy forwards it: the public host, HTTPS said in a header, and the
    session's cookies (Secure ones, which requests keeps back from a plain-HTTP address)."""
    headers = {"Host": "metamer.test", "X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
    if session.cookies:
        headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    return session.request(
        kwargs.pop("method", "GET"), url, headers=headers, allow_redirects=False, timeout=10, **kwargs
    )


def test_the_deployment_checks_pass(production):
    assert production["deploy"].returncode == 0, production["deploy"].stdout + production["deploy"].stderr


def test_the_web_process_serves_the_admin_over_https_only(production):
    base, session = production["base"], requests.Session()
    plain = session.get(f"{base}/admin/login/", headers={"Host": "metamer.test"}, allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://metamer.test/")
    page = _https(session, f"{base}/admin/login/")
    assert page.status_code == 200 and "max-age" in page.headers["Strict-Transport-Security"]
    assert all(cookie.secure for cookie in session.cookies)
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page.text).group(1)
    assert _https(session, base + stylesheet).status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    login = _https(
        session,
        f"{base}/admin/login/?next=/admin/",
        method="POST",
        data={"username": "lab", "password": "a long lab password 42", "csrfmiddlewaretoken": token},
        headers={"Referer": "https://metamer.test/admin/login/"},
    )
    assert login.status_code == 302 and login.headers["Location"] == "/admin/"
    assert _https(session, f"{base}/admin/").status_code == 200
    assert _https(requests.Session(), f"{base}/api/studies/").status_code in (401, 403)
    # A private file's path, however spelt, sends a stranger to the login (or finds nothing).
    private = _https(requests.Session(), f"{base}/media/stimuli/%2e%2e/reports/x.html")
    assert private.status_code == 404 or "/admin/login/" in private.headers["Location"]
    assert _https(requests.Session(), f"{base}/api/schema/").status_code in (401, 403)


def test_the_worker_answers_on_the_broker_and_beat_keeps_running(production):
    app = Celery(broker=REDIS)
    deadline, replies = time.monotonic() + 60, []
    while not replies and time.monotonic() < deadline:
        replies = app.control.ping(timeout=2)
    assert replies, production["log"].read_text()[-3000:]
    assert all(process.poll() is None for process in production["processes"]), production["log"].read_text()[-3000:]
