import pytest

from inversion import services
from inversion.config import InversionConfig
from inversion.models import InversionJob, ModelSpec, Recognition
from metamer.errors import MetamerError

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    targets = services.target_set_create_noise(name="n", n=2, law="normal-0-1", image_size=32, seed=0)
    made = services.inversion_job_create(
        model_spec=spec, target_set=targets, config=InversionConfig(steps=5), enqueue=False
    )
    return services.inversion_job_run(job_id=made.pk)


def test_every_classifier_reads_a_job_once_and_a_reading_again_replaces_it(job):
    imagenet = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    ModelSpec.objects.create(
        name="resnet", source="torchvision", architecture="resnet18", layer="fc", input_size=32, **imagenet
    )
    readings = services.job_recognition_compute(job_id=job.pk)
    names = [r.classifier for r in readings]
    # The built-in ImageNet classifiers, then a registered network with a classifier head; AlexNet's
    # convolutional trunk (no head) classifies nothing.
    assert names == [
        "efficientnet-lite0-imagenet",
        "efficientnet-lite1-imagenet",
        "efficientnet-lite2-imagenet",
        "resnet",
    ]
    assert all(r.n == 2 and 0 <= r.recognised <= 2 and 0 <= r.seeds_recognised <= 2 for r in readings)
    services.job_recognition_compute(job_id=job.pk)
    assert Recognition.objects.filter(job=job).count() == 4


def test_the_admin_and_the_api_start_a_reading_and_show_it(job, admin_client, django_capture_on_commit_callbacks):
    page = admin_client.get(f"/admin/inversion/inversionjob/{job.pk}/change/").content.decode()
    assert "Classify the IRIs with every classifier" in page  # said where the readings will be
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post(f"/api/jobs/{job.pk}/recognise/")
    assert reply.status_code == 202
    shown = admin_client.get(f"/api/jobs/{job.pk}/").json()["recognition"]
    assert {row["classifier"] for row in shown} == {f"efficientnet-lite{k}-imagenet" for k in range(3)}
    assert all(0 <= row["low"] <= row["rate"] <= row["high"] <= 1 for row in shown)
    page = admin_client.get(f"/admin/inversion/inversionjob/{job.pk}/change/").content.decode()
    assert "recognised (" in page and "(the floor)" in page


def test_an_unfinished_job_is_not_classified():
    from tests.factories import InversionJobFactory

    queued = InversionJobFactory(status=InversionJob.Status.QUEUED)
    assert queued.status != InversionJob.Status.DONE
    with pytest.raises(MetamerError, match="no finished IRIs"):
        services.job_recognition_start(job=queued)
