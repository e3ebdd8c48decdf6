"""Web processes never import torch: Django's setup, the URL conf (every admin, API and worker
view) and the WSGI application load without torch, torchvision or lpips, which load in the
tasks and commands that compute."""

import json
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
