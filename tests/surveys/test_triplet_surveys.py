"""Triplet surveys over any image set: assembly, answers, the worker's pages, and their
answers as similarity data."""

import numpy as np
import pytest

from inversion import services as inversion_services
from metamer.errors import MetamerError
from science import similarity as sim
from science.alignment import n_triplets
from surveys import services
from surveys.models import Response, Survey
from surveys.selectors import survey_triplets
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def _images(n: int, name: str = "set", size: int = 16):
    return inversion_services.target_set_create_noise(name=name, n=n, law="normal-0-1", image_size=size, seed=0)


def test_a_small_set_is_asked_every_triplet_once_with_checks_that_have_an_answer():
    images = _images(6)
    survey = services.survey_assemble(study=StudyFactory(), name="t", kind="triplet", image_set=images, n_trials=None)
    trials = list(survey.trials.order_by("position"))
    asked = [t for t in trials if not t.is_attention_check]
    assert len(asked) == survey.n_trials == n_triplets(6) and survey.sampling == "all 60 triplets"
    assert len({(t.items[0], *sorted(t.items[1:])) for t in asked}) == 60  # each triplet once
    assert all(t.correct is None and t.job is None for t in asked)
    assert {t.items[1] < t.items[2] for t in asked} == {True, False}  # sides drawn at random
    checks = [t for t in trials if t.is_attention_check]
    assert len(checks) == survey.n_attention_checks == 3
    assert all(t.items[1 + t.correct] == t.items[0] for t in checks)  # the right option is the reference
    slots = {s.role: s for s in checks[0].slots.filter(index=0)}
    assert slots["query"].stimulus_id == images.targets.get(index=checks[0].items[0]).stimulus_id


def test_a_large_set_samples_distinct_triplets_and_the_sampling_is_recorded():
    images = _images(30)
    with pytest.raises(MetamerError, match="12,180 distinct triplets; say how many"):
        services.survey_assemble(study=StudyFactory(), name="t", kind="triplet", image_set=images, n_trials=None)
    with pytest.raises(MetamerError, match="a triplet survey asks about an image set"):
        services.survey_assemble(study=StudyFactory(), name="t", kind="triplet")
    survey = services.survey_assemble(
        study=StudyFactory(), name="t", kind="triplet", image_set=images, n_trials=200, seed=4
    )
    items = [tuple(t.items) for t in survey.trials.filter(is_attention_check=False)]
    assert len(items) == len({(i, *sorted(o)) for i, *o in items}) == 200
    assert survey.sampling == "uniform: 200 of 12180 (seed 4)"


def test_triplet_answers_are_choices_not_scores_and_checks_are_scored():
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="t", kind="triplet", image_set=_images(5), n_trials=None
        )
    )
    assignment = services.assignment_start(survey=survey, external_id="w")
    trials = list(survey.trials.order_by("position"))
    with pytest.raises(MetamerError, match="a triplet answer is 0"):
        services.response_record(assignment=assignment, trial_id=trials[0].pk, answer=2, idempotency_key="bad")
    for trial in trials:
        answer = trial.correct if trial.is_attention_check else 0
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=answer, idempotency_key=str(trial.pk))
    assert (
        Response.objects.filter(trial__is_attention_check=False, correct__isnull=True, score__isnull=True).count() == 30
    )
    assert Response.objects.filter(trial__is_attention_check=True, correct=True).count() == survey.n_attention_checks
    rows = survey_triplets(survey)
    assert all(r["choice"] == 1 and r["passed_checks"] for r in rows if not r["attention_check"])
    data = services.similarity_data_from_survey(survey=survey, name="collected")
    assert (data.kind, data.n_judgements, data.n_people) == ("triplets", 30, 1)


def test_a_triplet_survey_answered_through_the_real_pages_reproduces_the_network_it_simulates(
    live_server, alexnet_features
):
    """Simulated participants who judge by one network's features answer a triplet survey over
    20 images on the worker's pages; their triplets agree with the network's own above 0.9 at
    low noise, and less with more noise."""
    import torch

    from surveys.bots import run_bot

    images = _images(20, size=64)
    features = alexnet_features

    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="t", kind="triplet", image_set=images, n_trials=60, seed=1, workers_per_survey=2
        )
    )
    from inversion.selectors import stimulus_tensor

    stimuli = [t.stimulus for t in images.targets.order_by("index")]
    f = features(torch.stack([stimulus_tensor(s) for s in stimuli]))
    network = 1 - f @ f.T
    spread = float(np.std(sim.upper(network)))  # noise in units of the network's own distances
    rng = np.random.default_rng(0)

    def judge(noise: float):
        def decide(query: torch.Tensor, options: list[torch.Tensor]) -> int:
            f = features(torch.stack([query, *options]))
            d = 1 - f[1:] @ f[0] + rng.normal(0, noise * spread, 2)
            return int(np.argmin(d))

        return decide

    for worker, noise in (("careful", 0.05), ("sloppy", 1.0)):
        run_bot(live_server.url, str(survey.uuid), worker, judge(noise))
    agreement = {}
    for worker in ("careful", "sloppy"):
        rows = [r for r in survey_triplets(survey) if r["worker"] == worker and not r["attention_check"]]
        t = np.array([[r["i"], r["j"], r["k"]] for r in rows])
        agreement[worker] = sim.triplet_agreement(
            np.array([r["choice"] for r in rows]), sim.triplet_answers(network, t)
        )
    assert agreement["careful"] > 0.9 and agreement["careful"] > agreement["sloppy"]
    assert Survey.objects.get().layout == "2afc"


def test_the_admin_and_the_api_design_a_triplet_survey_and_save_its_answers(admin_client):
    from surveys.models import SimilarityData

    images = _images(5)
    study = StudyFactory()
    form = {
        "study": study.pk,
        "name": "admin triplets",
        "kind": "triplet",
        "image_set": images.pk,
        "workers_per_survey": 3,
        "reward_cents": 100,
        "minutes_allotted": 10,
        "seed": 0,
    }
    reply = admin_client.post("/admin/surveys/survey/add/", form)
    assert reply.status_code == 302, reply.context["adminform"].form.errors
    survey = Survey.objects.get(name="admin triplets")
    assert survey.n_trials == 30 and survey.sampling == "all 30 triplets"
    refused = admin_client.post("/admin/surveys/survey/add/", {**form, "name": "x", "image_set": ""})
    assert "a triplet survey asks about an image set" in refused.content.decode()
    api = admin_client.post(
        "/api/surveys/",
        {
            "study": study.pk,
            "name": "api triplets",
            "kind": "triplet",
            "image_set": images.pk,
            "n_trials": 10,
            "seed": 0,
        },
        content_type="application/json",
    )
    assert api.status_code == 201, api.content
    assert api.json()["sampling"] == "uniform: 10 of 30 (seed 0)"
    services.survey_open(survey=survey)
    worker = services.assignment_start(survey=survey, external_id="w")
    for trial in survey.trials.all():
        answer = trial.correct if trial.is_attention_check else 1
        services.response_record(assignment=worker, trial_id=trial.pk, answer=answer, idempotency_key=str(trial.pk))
    saved = admin_client.post(
        f"/api/surveys/{survey.pk}/similarity-data/", {"name": "mine"}, content_type="application/json"
    )
    assert saved.status_code == 201 and saved.json()["n_judgements"] == 30
    assert SimilarityData.objects.get(name="mine").kind == "triplets"


def test_an_adaptive_round_asks_later_workers_what_the_answers_so_far_leave_open(admin_client):
    images = _images(10)
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="a", kind="triplet", image_set=images, n_trials=30, seed=2, workers_per_survey=1
        )
    )
    with pytest.raises(MetamerError, match="no answers yet"):
        services.survey_adaptive_round(survey=survey, n_trials=10)
    first = services.assignment_start(survey=survey, external_id="w1")
    for trial in survey.trials.order_by("position"):
        i, j, k = trial.items
        # A hidden one-dimensional world: images with nearby indices look alike.
        answer = trial.correct if trial.is_attention_check else int(abs(i - k) < abs(i - j))
        services.response_record(assignment=first, trial_id=trial.pk, answer=answer, idempotency_key=str(trial.pk))
    asked_before = {(t[0], *sorted(t[1:])) for t in survey.trials.values_list("items", flat=True)}
    survey = services.survey_adaptive_round(survey=survey, n_trials=15, places=1)
    assert survey.n_trials == 45 and survey.workers_per_survey == 2
    assert "; adaptive +15 from 30 answers" in survey.sampling
    added = [t.items for t in survey.trials.order_by("position")][-15:]
    assert len({(t[0], *sorted(t[1:])) for t in added} - asked_before) == 15  # all new, all distinct
    first.refresh_from_db()
    assert first.status == "submitted"  # the first worker's sequence was complete before the round
    second = services.assignment_start(survey=survey, external_id="w2")
    assert len(second.sequence) == 45 + survey.n_attention_checks
    new_trial = survey.trials.get(position=survey.trials.count() - 1)
    saved, created = services.response_record(assignment=second, trial_id=new_trial.pk, answer=0, idempotency_key="new")
    assert created and saved.trial_id == new_trial.pk
    reply = admin_client.post(
        f"/api/surveys/{survey.pk}/adaptive-round/", {"n_trials": 5}, content_type="application/json"
    )
    assert reply.status_code == 200, reply.content
    assert reply.json()["n_trials"] == 50
    bad = admin_client.post(
        f"/api/surveys/{survey.pk}/adaptive-round/", {"n_trials": 0}, content_type="application/json"
    )
    assert bad.status_code == 400
    odd = services.survey_assemble(study=StudyFactory(), name="o", kind="odd-one-out", image_set=images, n_trials=5)
    with pytest.raises(MetamerError, match="adaptive rounds ask triplets"):
        services.survey_adaptive_round(survey=odd, n_trials=5)


def test_in_adaptive_mode_every_nth_submission_adds_a_round_by_itself(django_capture_on_commit_callbacks):
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(),
            name="auto",
            kind="triplet",
            image_set=_images(10),
            n_trials=20,
            seed=3,
            workers_per_survey=4,
            adaptive_every=2,
            adaptive_trials=6,
        )
    )

    def answer_all(worker: str) -> None:
        assignment = services.assignment_start(survey=survey, external_id=worker)
        trials = {t.pk: t for t in survey.trials.all()}
        for entry in assignment.sequence:
            i, j, k = trials[entry["trial"]].items
            check = trials[entry["trial"]]
            answer = check.correct if check.is_attention_check else int(abs(i - k) < abs(i - j))
            services.response_record(
                assignment=assignment, trial_id=check.pk, answer=answer, idempotency_key=f"{worker}{check.pk}"
            )

    with django_capture_on_commit_callbacks(execute=True) as queued:
        answer_all("w1")
    assert not queued  # one submission of every two: no round yet
    with django_capture_on_commit_callbacks(execute=True) as queued:
        answer_all("w2")
    assert len(queued) == 1
    survey.refresh_from_db()
    assert survey.n_trials == 26 and "; adaptive +6 from 40 answers" in survey.sampling
    assert len(services.assignment_start(survey=survey, external_id="w3").sequence) == 26 + survey.n_attention_checks
    with pytest.raises(MetamerError, match="adaptive rounds ask triplets"):
        services.survey_assemble(
            study=StudyFactory(),
            name="r",
            kind="rating",
            image_set=_images(4, name="r"),
            adaptive_every=2,
            n_trials=None,
        )
