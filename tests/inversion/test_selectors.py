import pytest

from inversion.selectors import job_convergence
from tests.factories import InversionJobFactory, IRIFactory

pytestmark = pytest.mark.django_db


def _job_with(distances, best_steps, steps=100):
    job = InversionJobFactory(config={"steps": steps, "convergence_threshold": 0.05})
    for d, b in zip(distances, best_steps, strict=True):
        IRIFactory(job=job, rep_distance=d, converged=d <= 0.05, best_step=b, steps=steps)
    return job


def test_a_converged_job_needs_no_advice():
    summary = job_convergence(_job_with([0.01, 0.03, 0.04], [50, 60, 70]))
    assert summary == {
        "converged": 3,
        "stored": 3,
        "median_distance": 0.03,
        "beat_null": None,  # made before the null test was kept
        "tested_against_null": 0,
        "advice": None,
    }


def test_iris_still_improving_at_the_end_call_for_more_steps():
    summary = job_convergence(_job_with([0.02, 0.09, 0.12], [98, 100, 100]))
    assert (summary["converged"], summary["stored"]) == (1, 3)
    assert "2 of 3 IRIs are above the threshold 0.05" in summary["advice"]
    assert "still improving at step 100: run again with more steps" in summary["advice"]


def test_iris_that_stalled_early_call_for_another_update_rule():
    summary = job_convergence(_job_with([0.2, 0.3], [10, 20]))
    assert "stopped improving early: try another update rule" in summary["advice"]


def test_a_job_without_iris_yet():
    assert job_convergence(InversionJobFactory()) == {
        "converged": 0,
        "stored": 0,
        "median_distance": None,
        "beat_null": None,
        "tested_against_null": 0,
        "advice": None,
    }


def test_job_progress_moves_with_the_steps_of_chunks_in_flight():
    from django.utils import timezone

    from inversion.models import InversionJob
    from inversion.selectors import job_progress
    from tests.factories import InversionJobFactory

    job = InversionJobFactory(
        config={"steps": 99},
        total=4,
        done=1,
        status=InversionJob.Status.RUNNING,
        started_at=timezone.now() - timezone.timedelta(seconds=40),
    )
    job.steps_in_flight = 3 * 100 // 2  # the other three images halfway
    p = job_progress(job)
    assert p["done"] == 1 and p["percent"] == 62.5
    assert p["eta_seconds"] == pytest.approx(24, abs=0.5)  # 40 s for 62.5%
    job.steps_in_flight = 10**9  # a killed worker's report never passes what is left
    assert job_progress(job)["percent"] == 100.0
