"""IRI surveys are built (LPIPS similarity, the simulated participants' choices) in the
background, with progress, and open only once built."""

import re

import pytest
from django.utils import timezone

from metamer.errors import MetamerError
from surveys import services
from surveys.models import Survey, TrialLpipsChoice
from tests.factories import StudyFactory
from tests.surveys.test_admin import _design

pytestmark = pytest.mark.django_db


def test_the_admin_stores_a_survey_at_once_and_builds_it_after_the_request(
    admin_client, iris, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        assert _design(admin_client, iris[0].job, StudyFactory(), n_trials=6).status_code == 302
    survey = Survey.objects.get()
    # The request stored the design and queued its build; no LPIPS ran in it.
    assert survey.status == Survey.Status.BUILDING and survey.trials.count() == 7
    assert not TrialLpipsChoice.objects.exists() and len(sent) == 1
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "building: queued" in page or "waiting for the task queue" in page
    assert "metamer/refresh.js" in page  # the page reloads itself until built
    with pytest.raises(MetamerError, match="still being built"):
        services.survey_open(survey=survey)

    sent[0]()  # the queue takes it (tasks run in-process in tests)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.DRAFT and survey.enqueued_at is not None
    assert (survey.build_done, survey.build_total) == (survey.build_total, 3 * 6 * 2)  # 18 images, 2 backbones
    assert TrialLpipsChoice.objects.filter(trial__survey=survey).count() == 7 * 4
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "metamer/refresh.js" not in page
    assert services.survey_open(survey=survey).status == Survey.Status.OPEN


def test_a_synchronous_build_that_fails_stores_nothing(iris, monkeypatch):
    from surveys.services import building

    monkeypatch.setattr(building, "trial_lpips_choices_compute", lambda **_: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        services.survey_assemble(study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=4)
    assert not Survey.objects.exists()


def test_a_building_survey_shows_its_progress_with_an_eta(admin_client, iris):
    survey = services.survey_assemble(study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=4)
    Survey.objects.filter(pk=survey.pk).update(
        status=Survey.Status.BUILDING,
        build_step="the simulated participants' LPIPS choices",
        build_done=6,
        build_total=24,
        build_started_at=timezone.now() - timezone.timedelta(seconds=3),
        enqueued_at=timezone.now(),
    )
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert '<progress value="6" max="24"' in page
    # 3 s for a quarter: about 9 s left (more on a slow machine, where the request itself takes time).
    assert re.search(r"6/24 images through LPIPS \(25%, about \d+ s left\)", page)
    reply = admin_client.get(f"/api/surveys/{survey.pk}/").json()
    assert reply["status"] == "building"
    assert reply["build"]["done"] == 6 and reply["build"]["percent"] == 25.0 and reply["build"]["eta_seconds"] > 0


def test_a_failed_build_says_why_and_builds_again_from_where_it_stopped(
    iris, monkeypatch, django_capture_on_commit_callbacks
):
    from surveys.services import building

    def broken(**_):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(building, "trial_lpips_choices_compute", broken)
    with django_capture_on_commit_callbacks(execute=True):
        survey = services.survey_assemble(
            study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=4, in_background=True
        )
    survey.refresh_from_db()
    assert survey.status == Survey.Status.FAILED and survey.build_step == "RuntimeError: out of memory"
    with pytest.raises(MetamerError, match="could not be built"):
        services.survey_open(survey=survey)
    with pytest.raises(MetamerError, match="not built"):
        services.study_publish(study=survey.study, base_url="https://x.org", confirm=True)

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        services.survey_build_retry(survey=survey)
    survey.refresh_from_db()
    assert survey.status == Survey.Status.DRAFT and survey.trials.count() == 5
    assert TrialLpipsChoice.objects.filter(trial__survey=survey).count() == 5 * 4
    with pytest.raises(MetamerError, match="only a failed build"):
        services.survey_build_retry(survey=survey)


def test_hard_clustering_plans_after_the_request_exactly_as_it_would_have_planned_in_it(
    admin_client, paired_iris, django_capture_on_commit_callbacks, monkeypatch
):
    from surveys.services import choices

    job = paired_iris[0].job
    now = services.survey_assemble(
        study=StudyFactory(), name="now", jobs=[job], kind="cluster-hard", seed=3, n_trials=None
    )

    def no_lpips_in_the_request(*args, **kwargs):
        raise AssertionError("LPIPS ran in the request")

    real = choices.target_similarity
    monkeypatch.setattr(choices, "target_similarity", no_lpips_in_the_request)
    with django_capture_on_commit_callbacks() as sent:
        reply = _design(admin_client, job, StudyFactory(), kind="cluster-hard", seed=3, name="later")
    assert reply.status_code == 302
    later = Survey.objects.get(name="later")
    assert later.status == Survey.Status.BUILDING and not later.trials.exists()
    monkeypatch.setattr(choices, "target_similarity", real)
    sent[0]()
    later.refresh_from_db()
    assert later.status == Survey.Status.DRAFT

    def layout(survey):
        return [
            (t.correct, t.is_attention_check, [(s.role, s.stimulus_id) for s in t.slots.order_by("role", "index")])
            for t in survey.trials.order_by("position")
        ]

    assert layout(later) == layout(now) and len(layout(now)) == 3 + 1


def test_builds_the_queue_never_took_are_sent_again(iris, django_capture_on_commit_callbacks):
    survey = services.survey_assemble(study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=2)
    Survey.objects.filter(pk=survey.pk).update(
        status=Survey.Status.BUILDING, enqueued_at=None, created_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.survey_builds_send_unsent() == 1
    survey.refresh_from_db()
    assert survey.status == Survey.Status.DRAFT and survey.enqueued_at is not None
    assert services.survey_builds_send_unsent() == 0


def test_a_survey_can_take_only_iris_that_beat_the_null_and_says_how_many_it_left_out(iris):
    from inversion.models import IRI

    IRI.objects.filter(pk__in=[i.pk for i in iris[:5]]).update(beats_null=False)
    IRI.objects.filter(pk__in=[i.pk for i in iris[5:]]).update(beats_null=True)
    survey = services.survey_assemble(
        study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=None, only_beating_null=True
    )
    assert survey.n_trials == 15 and survey.left_out_by_null == 5
    assert not survey.trials.filter(iri__beats_null=False).exists()
    IRI.objects.filter(job=iris[0].job).update(beats_null=False)
    with pytest.raises(MetamerError, match="none of the 20 usable IRIs beat the null"):
        services.survey_assemble_check(jobs=[iris[0].job], n_trials=None, only_beating_null=True)
