import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inversion.models import InversionJob, ModelSpec, TargetSet

pytestmark = pytest.mark.django_db


def job_settings(**changes) -> dict:
    """The job form's settings fields as a browser posts them: every default, ``changes`` over them
    (an unticked box is not sent)."""
    from inversion.config import InversionConfig

    values = {**InversionConfig().to_dict(), **changes}
    values.pop("preset")
    return {k: v for k, v in values.items() if v is not False}


def _png(colour):
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buf, "PNG")
    return buf.getvalue()


def _spec_post(**changes) -> dict:
    fields = {"name": "a", "source": "builtin", "architecture": "alexnet-imagenet", "layer": "3", "input_size": 64}
    return {**fields, "mean": "[]", "std": "[]", **changes}


def test_registering_a_network_returns_at_once_and_the_check_says_what_is_wrong(
    admin_client, django_capture_on_commit_callbacks
):
    settings_refused = admin_client.post("/admin/inversion/modelspec/add/", _spec_post(mean="[1, 2]"))
    assert "a list of three numbers" in settings_refused.context["adminform"].form.errors["mean"][0]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        reply = admin_client.post("/admin/inversion/modelspec/add/", _spec_post(layer="nope"))
    assert reply.status_code == 302
    spec = ModelSpec.objects.get()
    assert spec.status == ModelSpec.Status.CHECKING  # stored at once; the network is built later
    page = admin_client.get(f"/admin/inversion/modelspec/{spec.pk}/change/").content.decode()
    assert "being checked" in page
    assert 'data-seconds="3"' in page
    for send in queued:
        send()
    spec.refresh_from_db()
    assert spec.status == ModelSpec.Status.FAILED
    assert "layer: no layer named 'nope'" in spec.message
    page = admin_client.get(f"/admin/inversion/modelspec/{spec.pk}/change/").content.decode()
    assert "failed: layer: no layer named" in page
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/inversion/modelspec/add/", _spec_post(name="b"))
    good = ModelSpec.objects.get(name="b")
    assert (good.status, good.layer) == (ModelSpec.Status.READY, "3")


def test_a_job_waits_for_its_network_to_be_checked(admin_client):
    from inversion import services
    from inversion.config import InversionConfig
    from metamer.errors import MetamerError

    spec = ModelSpec.objects.create(name="n", architecture="alexnet-imagenet", input_size=32, status="checking")
    targets = services.target_set_create_noise(name="t", n=1, law="normal-0-1", image_size=32, seed=0)
    with pytest.raises(MetamerError, match="still being checked"):
        services.inversion_job_check(model_spec=spec, target_set=targets, config=InversionConfig())
    ModelSpec.objects.filter(pk=spec.pk).update(status="failed", message="layer: no layer named 'x'")
    spec.refresh_from_db()
    with pytest.raises(MetamerError, match="failed its check"):
        services.inversion_job_check(model_spec=spec, target_set=targets, config=InversionConfig())


def test_a_check_the_queue_never_took_is_sent_again(monkeypatch):
    from datetime import timedelta

    from inversion.services import specs

    sent = []
    monkeypatch.setattr(specs, "_send_check", sent.append)
    spec = ModelSpec.objects.create(name="n", architecture="alexnet-imagenet", status="checking")
    assert specs.model_specs_send_unsent() == 0  # just made: the queue may still take it
    assert specs.model_specs_send_unsent(older_than=timedelta(seconds=-1)) == 1
    assert sent == [spec]


def test_upload_targets_then_run_a_job_from_the_admin(admin_client, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("cat.png", _png((200, 10, 10)), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        reply = admin_client.post(
            "/admin/inversion/targetset/add/", {"name": "one", "image_size": 32, "archive": upload, "seed": 0}
        )
    assert reply.status_code == 302, reply.context["adminform"].form.errors
    target_set = TargetSet.objects.get()
    assert target_set.status == TargetSet.Status.IMPORTING  # decoded and stored by a worker
    for send in queued:
        send()
    target_set.refresh_from_db()
    assert target_set.status == TargetSet.Status.READY
    assert target_set.targets.count() == 1
    with django_capture_on_commit_callbacks(execute=True):  # the network's check, in the background
        admin_client.post(
            "/admin/inversion/modelspec/add/",
            {
                "name": "a",
                "source": "builtin",
                "architecture": "alexnet-imagenet",
                "layer": "3",
                "input_size": 32,
                "mean": "[]",
                "std": "[]",
            },
        )
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post(
            "/admin/inversion/inversionjob/add/",
            {"model_spec": ModelSpec.objects.get().pk, "target_set": target_set.pk, **job_settings(steps=3)},
        )
    assert reply.status_code == 302
    job = InversionJob.objects.get()
    assert job.status == InversionJob.Status.DONE
    page = admin_client.get("/admin/inversion/inversionjob/").content.decode()
    assert "1/1 IRIs stored (100% of the steps)" in page
    assert f'<td class="field-converged">{job.iris.filter(converged=True).count()}/1</td>' in page
    detail = admin_client.get(f"/admin/inversion/inversionjob/{job.pk}/change/").content.decode()
    assert "under the threshold, median distance" in detail


def test_a_finished_job_is_read_not_saved_or_deleted(admin_client):
    from tests.factories import InversionJobFactory, IRIFactory

    done = IRIFactory().job
    InversionJob.objects.filter(pk=done.pk).update(status=InversionJob.Status.DONE)
    page = admin_client.get(f"/admin/inversion/inversionjob/{done.pk}/change/").content.decode()
    assert 'name="_save"' not in page and "/delete/" not in page
    assert admin_client.post(f"/admin/inversion/inversionjob/{done.pk}/delete/", {"post": "yes"}).status_code == 403
    assert InversionJob.objects.filter(pk=done.pk).exists()
    queued = InversionJobFactory()
    assert admin_client.post(f"/admin/inversion/inversionjob/{queued.pk}/delete/", {"post": "yes"}).status_code == 302


def test_the_model_spec_form_starts_mean_and_std_empty_with_a_hint(admin_client):
    page = admin_client.get("/admin/inversion/modelspec/add/").content.decode()
    assert 'name="mean" value="[]"' not in page and 'placeholder="[0.485, 0.456, 0.406]"' in page


def _spec(input_size: int) -> ModelSpec:
    from inversion import services

    return services.model_spec_register(
        name=f"alexnet {input_size}", architecture="alexnet-imagenet", layer="3", input_size=input_size
    )


def test_a_target_set_takes_its_image_size_from_the_network_it_is_for(admin_client, django_capture_on_commit_callbacks):
    spec = _spec(40)
    form = admin_client.get("/admin/inversion/targetset/add/").content.decode()
    assert f'<option value="{spec.pk}" selected>alexnet 40 (40 px)</option>' in form
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post(
            "/admin/inversion/targetset/add/",
            {"name": "noise", "network": spec.pk, "noise_law": "normal-0-1", "n": 2, "seed": 0},
        )
    assert reply.status_code == 302, reply.context["adminform"].form.errors
    made = TargetSet.objects.get()
    assert (made.image_size, made.status, made.targets.count()) == (40, TargetSet.Status.READY, 2)
    assert made.targets.first().stimulus.width == 40


def test_an_image_size_the_network_cannot_take_is_refused_with_the_size_it_needs(admin_client):
    spec = _spec(40)
    reply = admin_client.post(
        "/admin/inversion/targetset/add/",
        {"name": "noise", "network": spec.pk, "image_size": 32, "noise_law": "normal-0-1", "n": 2, "seed": 0},
    )
    assert "leave the image size empty or give 40" in reply.context["adminform"].form.errors["image_size"][0]
    neither = admin_client.post(
        "/admin/inversion/targetset/add/", {"name": "noise", "noise_law": "normal-0-1", "n": 2, "seed": 0}
    )
    assert "give an image size, or choose the network" in neither.context["adminform"].form.errors["image_size"][0]
    assert not TargetSet.objects.exists()


def test_an_archive_is_kept_when_the_form_is_refused_and_used_when_sent_again(
    admin_client, django_capture_on_commit_callbacks
):
    TargetSet.objects.create(name="taken", kind=TargetSet.Kind.NOISE, image_size=32)
    upload = SimpleUploadedFile("cats.png", _png((200, 10, 10)), content_type="image/png")
    refused = admin_client.post(
        "/admin/inversion/targetset/add/", {"name": "taken", "image_size": 32, "archive": upload, "seed": 0}
    )
    assert "name" in refused.context["adminform"].form.errors
    page = refused.content.decode()
    assert "Kept from your last try: <b>cats.png</b>" in page
    token = re.search(r'name="archive_kept" value="([^"]+)"', page).group(1)
    # Sent again with the name fixed and no file chosen: the held archive is imported.
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post(
            "/admin/inversion/targetset/add/", {"name": "cats", "image_size": 32, "archive_kept": token, "seed": 0}
        )
    assert reply.status_code == 302, reply.context["adminform"].form.errors
    made = TargetSet.objects.get(name="cats")
    assert made.targets.count() == 1
    assert made.source == "cats.png"
