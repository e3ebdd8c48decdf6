"""The production path: two real Celery workers consuming the ``gpu`` queue from Redis."""

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
        pytest.skip("no Celery workers on Redis beside this run (the Makefile's PostgreSQL pass starts two)")
    # The worker reads and writes the media folder the Makefile gave it.
    settings.MEDIA_ROOT = os.environ["MEDIA_ROOT"]


def _wait_until_ended(record, seconds: float) -> None:
    """Poll a job or run until it is done or failed (or the time is up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record.refresh_from_db()
        if record.status in ("done", "failed"):
            return
        time.sleep(0.5)


def _run_on_the_workers(n_targets: int, config: InversionConfig) -> InversionJob:
    from metamer.celery import app

    # Only these tests send tasks to the broker; the rest of the suite runs them in-process.
    app.conf.task_always_eager = False
    try:
        spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
        ts = services.target_set_create_noise(name="n", n=n_targets, law="normal-0-1", image_size=32, seed=0)
        job = services.inversion_job_create(model_spec=spec, target_set=ts, config=config)
        _wait_until_ended(job, 180)
    finally:
        app.conf.task_always_eager = True
    return job


def test_a_job_enqueued_on_commit_is_run_by_the_workers():
    job = _run_on_the_workers(2, InversionConfig(steps=3))
    assert job.status == InversionJob.Status.DONE, job.error
    assert job.iris.count() == 2


def test_a_job_fans_out_in_chunks_across_two_workers_with_each_iri_stored_once():
    job = _run_on_the_workers(8, InversionConfig(steps=150, batch_size=1))
    assert job.status == InversionJob.Status.DONE, job.error
    pairs = list(job.iris.values_list("target_id", "seed_index"))
    assert len(pairs) == len(set(pairs)) == job.done == job.total == 8
    assert len(set(job.iris.values_list("worker", flat=True))) == 2  # both workers made IRIs


def test_an_alignment_run_fans_out_one_task_per_model_across_the_workers():
    import numpy as np
    from django.db import transaction

    from analysis.config import AlignmentConfig
    from analysis.models import AlignmentRun
    from analysis.services import alignment_run_create
    from metamer.celery import app
    from surveys.services import similarity_data_import

    models = ("alexnet-imagenet", "alexnet-random", "efficientnet-lite0-random", "efficientnet-lite0-imagenet")
    app.conf.task_always_eager = False
    try:
        image_set = services.target_set_create_noise(name="n", n=6, law="normal-0-1", image_size=32, seed=0)
        matrix = np.abs(np.subtract.outer(np.arange(6.0), np.arange(6.0)))
        data = similarity_data_import(name="d", image_set=image_set, matrices=matrix)
        with transaction.atomic():
            run = alignment_run_create(human=data, config=AlignmentConfig(models=models, bootstrap=20))
        _wait_until_ended(run, 240)
    finally:
        app.conf.task_always_eager = True
    assert run.status == AlignmentRun.Status.DONE, run.error
    assert [r["model"] for r in run.results["rows"]] == list(models)
    assert set(run.progress["workers"]) == set(models)
    assert len(set(run.progress["workers"].values())) == 2  # both workers embedded models
