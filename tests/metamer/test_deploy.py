"""The deployment files are checked as far as a machine without a Docker engine allows: the
compose file against the Compose specification's published schema, and every command, module,
file and variable they name against the code."""

import importlib
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Variables the images of others read (PostgreSQL's, Caddy's) or compose alone uses.
NOT_METAMERS = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "METAMER_HOST", "METAMER_IMAGE"}
COMPOSE_ONLY = {"WEB_WORKERS", "WORKER_QUEUES"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _code() -> str:
    return "\n".join(
        p.read_text()
        for d in ("metamer", "surveys", "inversion", "analysis", "science")
        for p in (ROOT / d).rglob("*.py")
    )


def test_the_compose_file_follows_the_compose_specification(compose):
    schema = json.loads(
        resources.files("check_jsonschema").joinpath("builtin_schemas/vendor/compose-spec.json").read_text()
    )
    jsonschema.validate(compose, schema)
    assert {"web", "worker", "gpu-worker", "beat", "migrate", "proxy", "db", "redis"} <= set(compose["services"])
    assert compose["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_every_command_the_services_run_exists(compose):
    commands = get_commands()
    for name, service in compose["services"].items():
        command = service.get("command")
        if not command or service.get("image", "").startswith(("postgres", "redis", "caddy")):
            continue
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in commands, name
        elif command[0] == "celery":
            app = importlib.import_module(command[command.index("-A") + 1] + ".celery").app
            assert command[3] in {"worker", "beat"} and app.main == "metamer", name
            if "-Q" in command:
                queues = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", command[command.index("-Q") + 1]).split(",")
                assert set(queues) <= {"celery", "gpu"}, name
        elif command[0] == "gunicorn":
            module, attribute = command[1].split(":")
            assert callable(getattr(importlib.import_module(module), attribute)), name
        else:
            pytest.fail(f"{name} runs {command[0]}, which this test does not know")


def test_every_variable_is_documented_and_read(compose):
    text = (DEPLOY / "compose.yaml").read_text() + (DEPLOY / "Caddyfile").read_text()
    used = set(re.findall(r"\$\{(\w+)", text)) | set(re.findall(r"\{\$(\w+)\}", text))
    documented = set(re.findall(r"^(\w+)=", (DEPLOY / "production.env.example").read_text(), re.M))
    assert used == documented
    app_env = compose["services"]["web"]["environment"]
    code = _code()
    for variable in set(app_env) | documented - NOT_METAMERS - COMPOSE_ONLY:
        assert f'"{variable}"' in code, f"{variable} is set for the app but nothing reads it"


def test_the_image_copies_what_exists_and_leaves_secrets_out():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (.+)$", dockerfile, re.M):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    for package in ("metamer", "science", "inversion", "surveys", "analysis", "templates", "static"):
        assert f"COPY {package} " in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", "deploy/production.env"} <= set(ignored)
    assert "USER metamer" in dockerfile and "METAMER_MODE=production" in dockerfile
