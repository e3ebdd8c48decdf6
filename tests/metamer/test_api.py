from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inversion.models import InversionJob
from tests.factories import ModelSpecFactory, TargetFactory

pytestmark = pytest.mark.django_db


def _client(username: str, *, codenames: tuple[str, ...] | None = None) -> APIClient:
    """A staff user's API client with the given permissions (None: every Metamer permission)."""
    user = get_user_model().objects.create_user(username, password="pw-unused-123", is_staff=True)
    metamer = Permission.objects.filter(content_type__app_label__in=["inversion", "surveys", "analysis"])
    user.user_permissions.set(metamer if codenames is None else metamer.filter(codename__in=codenames))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api():
    return _client("r")


def test_a_staff_account_gets_through_the_api_what_the_admin_grants_it(admin_client):
    nothing = _client("none", codenames=())
    for url in ("/api/responses/", "/api/assignments/", "/api/reports/", "/api/similarity-data/", "/api/studies/"):
        assert nothing.get(url).status_code == 403, url
    assert nothing.post("/api/studies/", {"name": "x"}, format="json").status_code == 403
    reader = _client("reader", codenames=("view_study", "view_response"))
    assert reader.get("/api/studies/").status_code == reader.get("/api/responses/").status_code == 200
    assert reader.post("/api/studies/", {"name": "x"}, format="json").status_code == 403
    assert reader.get("/api/assignments/").status_code == 403
    from surveys.models import Study

    assert not Study.objects.exists()
    writer = _client("writer", codenames=("view_study", "add_study"))
    assert writer.post("/api/studies/", {"name": "x"}, format="json").status_code == 201
    study = Study.objects.get()
    assert writer.post(f"/api/studies/{study.pk}/sync/").status_code == 403  # acting on one needs change


def test_the_schema_and_its_docs_are_for_staff():
    assert APIClient().get("/api/schema/").status_code in (401, 403)
    assert APIClient().get("/api/docs/").status_code in (401, 403)


def test_api_needs_a_token(client):
    assert APIClient().get("/api/model-specs/").status_code == 401


def test_an_expired_token_is_refused_saying_how_to_make_a_new_one(settings):
    settings.METAMER_API_TOKEN_DAYS = 30
    client = _client("old")
    token = Token.objects.get(user__username="old")
    assert client.get("/api/model-specs/").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=31))
    reply = client.get("/api/model-specs/")
    assert reply.status_code == 401
    assert "drf_create_token -r old" in reply.json()["detail"]


def test_schema_is_served(api):
    reply = api.get("/api/schema/")
    assert reply.status_code == 200
    assert b"/api/jobs/" in reply.content


def test_register_a_model_spec_and_get_a_clear_error_for_a_bad_layer(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.post(
            "/api/model-specs/",
            {"name": "alex", "architecture": "alexnet-imagenet", "layer": "3", "input_size": 64},
            format="json",
        )
    assert ok.status_code == 201, ok.content
    assert ok.json()["status"] == "checking"  # the network is built in the background
    assert api.get(f"/api/model-specs/{ok.json()['id']}/").json()["status"] == "ready"
    with django_capture_on_commit_callbacks(execute=True):
        bad = api.post(
            "/api/model-specs/", {"name": "alex2", "architecture": "alexnet-imagenet", "layer": "fc9"}, format="json"
        )
    assert bad.status_code == 201
    failed = api.get(f"/api/model-specs/{bad.json()['id']}/").json()
    assert failed["status"] == "failed"
    assert "layer: no layer named 'fc9'" in failed["message"]
    taken = api.post("/api/model-specs/", {"name": "alex", "architecture": "alexnet-imagenet"}, format="json")
    assert taken.status_code == 400
    assert "name" in taken.json()


def test_create_a_job_through_the_api_runs_it_in_process(api, django_capture_on_commit_callbacks):
    from inversion import services

    spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    ts = services.target_set_create_noise(name="n", n=2, law="normal-0-1", image_size=32, seed=0)
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post(
            "/api/jobs/", {"model_spec": spec.pk, "target_set": ts.pk, "config": {"steps": 3}}, format="json"
        )
    assert reply.status_code == 201, reply.content
    job = InversionJob.objects.get()
    assert job.status == InversionJob.Status.DONE
    assert job.config["steps"] == 3
    iris = api.get(f"/api/iris/?job={job.pk}").json()
    assert iris["count"] == 2
    assert iris["results"][0]["image"].endswith(".png")


def test_bad_job_settings_are_refused_with_what_to_fix(api):
    spec = ModelSpecFactory(input_size=16)
    targets = TargetFactory(target_set__image_size=16).target_set
    good = {"model_spec": spec.pk, "target_set": targets.pk}
    for config, message in (
        ({"steps": 0}, "steps must be at least 1"),
        ({"update": "lbfgs"}, "update must be one of"),
        ({"learning_rate": 0.1}, "unknown inversion settings: learning_rate"),
        ({"steps": 1e300}, "steps must be a whole number"),
        ({"steps": True}, "steps must be a whole number"),
        ({"steps": "800"}, "steps must be a whole number"),
        ({"steps": 10**9}, "steps must be between 1 and 100000"),
        ({"seeds_per_target": 10**10}, "seeds_per_target must be between 1 and 1000"),
        ({"seed": 2**64}, "seed must be between 0 and"),
        ({"transform": "yes"}, "transform must be true or false"),
        ({"update": ["adam"]}, "update must be text"),
    ):
        reply = api.post("/api/jobs/", {**good, "config": config}, format="json")
        assert reply.status_code == 400
        assert message in str(reply.json()["config"])
    raw = f'{{"model_spec": {spec.pk}, "target_set": {targets.pk}, "config": {{"step_size": 1e400}}}}'
    reply = api.post("/api/jobs/", raw, content_type="application/json")
    assert reply.status_code == 400 and reply.json()["config"]  # infinity is not a setting
    assert not InversionJob.objects.exists()


def test_upload_an_archive_as_targets_and_get_progress(api, tmp_path, django_capture_on_commit_callbacks):
    import zipfile

    from PIL import Image

    archive = tmp_path / "imgs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(3):
            path = tmp_path / f"{i}.png"
            Image.new("RGB", (40, 30), (i * 60, 0, 0)).save(path)
            zf.write(path, f"bird/{i}.png")
        zf.writestr("bird/broken.png", b"not an image")
    with open(archive, "rb") as fh:
        bad = api.post("/api/target-sets/", {"name": "t", "image_size": 32, "archive": fh}, format="multipart")
    assert bad.status_code == 400
    assert "broken.png: not a readable image" in bad.json()["detail"]
    from inversion.models import Stimulus, TargetSet

    assert not TargetSet.objects.exists()
    assert not Stimulus.objects.exists()

    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(3):
            zf.write(tmp_path / f"{i}.png", f"bird/{i}.png")
    with open(archive, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        ok = api.post(
            "/api/target-sets/", {"name": "t", "image_size": 32, "archive": fh, "sample": 2}, format="multipart"
        )
    assert ok.status_code == 201, ok.content
    assert ok.json()["status"] == "importing"  # a worker decodes the images; the client polls
    done = api.get(f"/api/target-sets/{ok.json()['id']}/").json()
    assert (done["status"], done["n_targets"]) == ("ready", 2)
    with django_capture_on_commit_callbacks(execute=True):
        noise = api.post(
            "/api/target-sets/", {"name": "n", "image_size": 32, "noise_law": "normal-0.5-2", "n": 3}, format="json"
        )
    assert noise.status_code == 201
    assert api.get(f"/api/target-sets/{noise.json()['id']}/").json()["n_targets"] == 3
    neither = api.post("/api/target-sets/", {"name": "x", "image_size": 32}, format="json")
    assert neither.status_code == 400


def test_noise_targets_at_the_input_size_of_the_network_named(api, django_capture_on_commit_callbacks):
    spec = ModelSpecFactory(input_size=24)
    made = api.post("/api/target-sets/", {"name": "n", "model_spec": spec.pk, "noise_law": "normal-0-1", "n": 2})
    assert made.status_code == 201, made.content
    assert made.json()["image_size"] == 24
    other = api.post(
        "/api/target-sets/",
        {"name": "m", "model_spec": spec.pk, "image_size": 32, "noise_law": "normal-0-1", "n": 2},
        format="json",
    )
    assert other.status_code == 400
    assert "give 24" in other.json()["detail"]
    assert other.json()["field"] == "image_size"


def test_with_the_broker_down_a_job_is_stored_queued_said_so_and_sent_again(
    api, admin_client, monkeypatch, django_capture_on_commit_callbacks, settings
):
    from datetime import timedelta

    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from inversion import services, tasks

    spec = ModelSpecFactory(input_size=16)
    targets = TargetFactory(target_set__image_size=16).target_set

    def down(*args):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_inversion_job, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        reply = api.post("/api/jobs/", {"model_spec": spec.pk, "target_set": targets.pk}, format="json")
    assert reply.status_code == 201, reply.content  # stored, and the reply says what became of it
    job = InversionJob.objects.get()
    assert job.status == InversionJob.Status.QUEUED and job.enqueued_at is None
    assert "could not be reached" in api.get(f"/api/jobs/{job.pk}/").json()["progress"]["waiting"]
    assert (
        "could not be reached" in admin_client.get(f"/admin/inversion/inversionjob/{job.pk}/change/").content.decode()
    )
    assert services.inversion_jobs_send_unsent() == []  # too new to send again yet, and the queue is still down
    InversionJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    assert services.inversion_jobs_send_unsent() == []
    sent = []
    monkeypatch.setattr(tasks.run_inversion_job, "delay", lambda *args: sent.append(args))
    assert services.inversion_jobs_send_unsent() == [job.pk] and sent == [(job.pk,)]
    job.refresh_from_db()
    assert job.enqueued_at is not None and api.get(f"/api/jobs/{job.pk}/").json()["progress"]["waiting"] == ""
    # Handed over, but no worker takes it: said so once it waits longer than it should.
    InversionJob.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(minutes=30))
    waiting = api.get(f"/api/jobs/{job.pk}/").json()["progress"]["waiting"]
    assert "no worker has taken it for 30 minutes" in waiting
