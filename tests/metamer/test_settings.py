import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(**env) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "METAMER_MODE"))}
    return {**clean, **env}


def _manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        METAMER_MODE="production",
        DJANGO_SECRET_KEY="x" * 60 + "production-secret-key-material",
        DJANGO_ALLOWED_HOSTS="metamer.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        METAMER_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(tmp_path, missing):
    env = {
        "METAMER_MODE": "production",
        "DJANGO_SECRET_KEY": "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "h",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
        "METAMER_VAR_DIR": str(tmp_path),
    }
    del env[missing]
    result = _manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_embedded_defaults_need_no_variables(tmp_path):
    probe = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['NAME'], s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG, s.CELERY_TASK_ROUTES['inversion.tasks.*'])"
    )
    result = _manage("shell", "-c", probe, METAMER_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    database, eager, debug, route = result.stdout.strip().splitlines()[-1].split(maxsplit=3)
    assert database == str(tmp_path / "metamer.sqlite3")
    assert (eager, debug) == ("True", "False")
    assert "gpu" in route
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_processes_starting_together_share_one_embedded_secret_key(tmp_path):
    env = _clean_env(METAMER_VAR_DIR=str(tmp_path))
    probe = "from metamer.embedded import prepare; prepare(); from metamer import settings; print(settings.SECRET_KEY)"
    starts = [
        subprocess.Popen([sys.executable, "-c", probe], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    keys = {p.communicate(timeout=60)[0].strip() for p in starts}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert not list(tmp_path.glob(".secret_key*"))  # no half-made key left behind


def test_importing_the_settings_writes_nothing_and_says_how_to_prepare(tmp_path):
    var = tmp_path / "var"
    probe = "from metamer import settings"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_clean_env(METAMER_VAR_DIR=str(var)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "python -m metamer.embedded" in result.stderr
    assert not var.exists()
    with_key = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=_clean_env(METAMER_VAR_DIR=str(var), DJANGO_SECRET_KEY="k" * 50),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert with_key.returncode == 0, with_key.stderr
    assert not var.exists()
