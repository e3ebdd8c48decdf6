"""The production path: a real Celery worker consuming the ``gpu`` queue from Redis."""

import os
import time

import pytest

from inversion import services
from inversion.config import InversionConfig
from inversion.models import InversionJob

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_worker(settings):
    if not os.environ.get("METAMER_TEST_WORKER"):
        pytest.skip("no Celery worker on Redis beside this run (the Makefile's PostgreSQL pass starts one)")
    # The worker reads and writes the media folder the Makefile gave it.
    settings.MEDIA_ROOT = os.environ["MEDIA_ROOT"]


def test_a_job_enqueued_on_commit_is_run_by_the_worker():
    from metamer.celery import app

    # Only this test sends tasks to the broker; the rest of the suite runs them in-process.
    app.conf.task_always_eager = False
    try:
        spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
        ts = services.target_set_create_noise(name="n", n=2, law="normal-0-1", image_size=32, seed=0)
        job = services.inversion_job_create(model_spec=spec, target_set=ts, config=InversionConfig(steps=3))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in (InversionJob.Status.DONE, InversionJob.Status.FAILED):
                break
            time.sleep(0.5)
    finally:
        app.conf.task_always_eager = True
    assert job.status == InversionJob.Status.DONE, job.error
    assert job.iris.count() == 2
