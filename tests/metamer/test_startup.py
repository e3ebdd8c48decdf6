"""Web processes never import torch: Django's setup, the URL conf (every admin, API and worker
view) and the WSGI application load without torch, torchvision or lpips, which load in the
tasks and commands that compute."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "metamer.settings")
import django
django.setup()
import metamer.urls, metamer.wsgi
print(json.dumps(sorted(m for m in ("torch", "torchvision", "lpips", "timm", "matplotlib") if m in sys.modules)))
"""


def test_the_url_conf_and_the_wsgi_application_load_without_torch():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


DESIGN_PROBE = """
import io, json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "metamer.settings"
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from PIL import Image
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from inversion.models import IRI, InversionJob, ModelSpec, Stimulus, Target, TargetSet
from surveys.models import Study, Survey

def stimulus(n, role):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), (n * 7 % 256, n * 13 % 256, n * 29 % 256)).save(buffer, "PNG")
    return Stimulus.objects.create(role=role, image=ContentFile(buffer.getvalue(), f"{n}.png"), sha256=f"{n:064d}",
                                   width=40, height=40)

spec = ModelSpec.objects.create(name="m", architecture="alexnet-imagenet", layer="3", input_size=40)
targets = TargetSet.objects.create(name="t", image_size=40)
job = InversionJob.objects.create(model_spec=spec, target_set=targets, config={}, total=6, status="done")
for index in range(6):
    target = Target.objects.create(target_set=targets, index=index, stimulus=stimulus(100 + index, "target"))
    for k in (0, 1):
        IRI.objects.create(job=job, target=target, seed_index=k, seed=stimulus(200 + 2 * index + k, "seed"),
                           stimulus=stimulus(300 + 2 * index + k, "iri"), rep_distance=0.01, converged=True,
                           steps=1, best_step=1, wall_time=0.0, device="cpu")
User.objects.create_superuser("r", "r@example.org", "pw")
client = Client()
client.login(username="r", password="pw")
study = Study.objects.create(name="s")
for kind in ("2afc", "cluster-hard"):
    reply = client.post("/admin/surveys/survey/add/", {
        "study": study.pk, "name": kind, "kind": kind, "jobs": [job.pk], "workers_per_survey": 3,
        "reward_cents": 750, "minutes_allotted": 60, "seed": 1})
    assert reply.status_code == 302, reply.content.decode()[-3000:]
    survey = Survey.objects.get(name=kind)
    assert survey.status == "building", survey.status
    assert client.get(f"/admin/surveys/survey/{survey.pk}/change/").status_code == 200
# Registering a network: its lists come from a child process, its check runs in a worker.
assert client.get("/admin/inversion/modelspec/add/").status_code == 200
layers = client.get("/admin/inversion/modelspec/layers/?source=builtin&architecture=alexnet-imagenet").json()
assert layers["default"] == "12", layers
reply = client.post("/admin/inversion/modelspec/add/", {"name": "n", "source": "builtin",
    "architecture": "alexnet-imagenet", "layer": "3", "input_size": 40})
assert reply.status_code == 302, reply.content.decode()[-3000:]
assert ModelSpec.objects.get(name="n").status == "checking"
assert client.get("/admin/inversion/targetset/add/").status_code == 200
reply = client.post("/admin/inversion/targetset/add/", {"name": "noise", "network": spec.pk, "noise_law": "normal-0-1",
    "n": 2, "seed": 0})
assert reply.status_code == 302, reply.content.decode()[-3000:]
assert TargetSet.objects.get(name="noise").status == "importing"
print(json.dumps(sorted(m for m in ("torch", "torchvision", "lpips") if m in sys.modules)))
"""


def test_designing_an_iri_survey_and_registering_a_network_in_the_admin_import_no_torch(tmp_path):
    # A broker that only holds the build's message: the build runs in a worker, not here.
    # The embedded defaults (SQLite under a fresh var/), whatever database this run's tests use.
    inherited = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("CELERY_")}
    env = {
        **inherited,
        "METAMER_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": "probe-only",
        "CELERY_BROKER_URL": "memory://",
        "METAMER_CACHE_DIR": str(ROOT / "var" / "cache"),  # the lists a checkout has made already
    }
    done = subprocess.run(
        [sys.executable, "-c", DESIGN_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
