"""Pairwise-rating surveys over any image set: assembly, checks, answers as dissimilarity
matrices, and the worker's pages."""

import itertools

import numpy as np
import pytest
from scipy import stats

from inversion import services as inversion_services
from metamer.errors import MetamerError
from science import similarity as sim
from surveys import services
from surveys.kinds.layouts import Rating
from surveys.models import Response
from surveys.presentation import assignment_sequence
from surveys.selectors import survey_ratings, trial_payload
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def _images(n: int, size: int = 16, name: str = "set"):
    return inversion_services.target_set_create_noise(name=name, n=n, law="normal-0-1", image_size=size, seed=0)


def _survey(n=5, **kwargs):
    return services.survey_assemble(
        study=StudyFactory(), name="r", kind="rating", image_set=_images(n), **{"n_trials": None, **kwargs}
    )


def test_a_small_set_asks_every_pair_once_with_checks_showing_one_image_twice():
    survey = _survey(6)
    asked = list(survey.trials.filter(is_attention_check=False))
    assert survey.sampling == "all 15 pairs" and survey.n_trials == len(asked) == 15
    assert sorted(tuple(sorted(t.items)) for t in asked) == list(itertools.combinations(range(6), 2))
    checks = list(survey.trials.filter(is_attention_check=True))
    assert len(checks) == 1 and checks[0].items[0] == checks[0].items[1] and checks[0].correct == 8
    assert survey.layout == "rating"
    large = _images(70, name="large")
    with pytest.raises(MetamerError, match="2,415 pairs; say how many"):
        services.survey_assemble(study=StudyFactory(), name="r2", kind="rating", image_set=large, n_trials=None)


def test_a_rating_reads_the_same_whichever_image_is_on_the_left():
    sequences = [assignment_sequence([(1, Rating())], survey_seed=0, ordinal=o, places=2) for o in range(2)]
    assert {s[0]["swap"] for s in sequences} == {0, 1}
    for entry in (s[0] for s in sequences):
        assert Rating().from_shown(entry, 7) == Rating().to_shown(entry, 7) == 7


def test_ratings_are_checked_the_checks_scored_and_full_sets_become_one_matrix_per_worker():
    survey = services.survey_open(survey=_survey(5, workers_per_survey=3))
    trials = list(survey.trials.order_by("position"))
    for worker, offset in (("w1", 0), ("w2", 1), ("careless", 0)):
        assignment = services.assignment_start(survey=survey, external_id=worker)
        payload = trial_payload(trials[0], assignment.sequence[0])
        assert payload["kind"] == "rating" and payload["scale"] == list(range(11)) and len(payload["options"]) == 2
        for bad in (11, -1, True, 2.5, "7"):
            with pytest.raises(MetamerError, match="a rating is a whole number from 0 to 10"):
                services.response_record(assignment=assignment, trial_id=trials[0].pk, answer=bad, idempotency_key="x")
        for trial in trials:
            if trial.is_attention_check:
                rating = 2 if worker == "careless" else 9
            else:
                rating = min(10, abs(trial.items[0] - trial.items[1]) * 2 + offset)  # far apart indices: alike
            services.response_record(
                assignment=assignment, trial_id=trial.pk, answer=rating, idempotency_key=f"{worker}{trial.pk}"
            )
    assert Response.objects.filter(trial__is_attention_check=True, correct=True).count() == 2
    rows = survey_ratings(survey)
    assert {r["worker"] for r in rows if not r["passed_checks"]} == {"careless"}
    data = services.similarity_data_from_survey(survey=survey, name="rated")
    assert (data.kind, data.n_people, data.n_items) == ("matrices", 2, 5)
    from surveys.selectors import similarity_arrays

    matrices = similarity_arrays(data)["matrices"]
    assert matrices[0][0, 4] == pytest.approx((10 - 8) / 10) and matrices[0][0, 1] == pytest.approx((10 - 2) / 10)
    assert data.reliability["split_half_r"] > 0.9


def test_an_unfinished_sample_of_pairs_cannot_become_a_matrix():
    survey = services.survey_open(survey=_survey(8, n_trials=5))
    assignment = services.assignment_start(survey=survey, external_id="w")
    for trial in survey.trials.all():
        answer = 9 if trial.is_attention_check else 5
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=answer, idempotency_key=str(trial.pk))
    with pytest.raises(MetamerError, match="23 pairs were rated by nobody"):
        services.similarity_data_from_survey(survey=survey, name="partial")


def test_a_rating_survey_answered_through_the_real_pages_reproduces_the_network(live_server, alexnet_features):
    """Simulated participants rate pairs by AlexNet's cosine similarity on the worker's pages;
    the matrix their ratings make correlates with AlexNet's own above 0.9 at low noise."""
    import torch

    from inversion.selectors import stimulus_tensor
    from surveys.bots import run_bot
    from surveys.selectors import similarity_arrays

    images = _images(8, size=64)
    features = alexnet_features

    f = features(torch.stack([stimulus_tensor(t.stimulus) for t in images.targets.order_by("index")]))
    similarity = f @ f.T
    low, high = similarity[~np.eye(8, dtype=bool)].min(), similarity[~np.eye(8, dtype=bool)].max()
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="r", kind="rating", image_set=images, n_trials=None, seed=1, workers_per_survey=2
        )
    )
    rng = np.random.default_rng(0)

    def rate(noise: float):
        def decide(query, options: list[torch.Tensor]) -> int:
            assert query is None
            s = features(torch.stack(options))
            scaled = (float(s[0] @ s[1]) - low) / max(high - low, 1e-9) * 10 + rng.normal(0, noise)
            return int(np.clip(round(scaled), 0, 10))

        return decide

    for worker in ("p1", "p2"):
        run_bot(live_server.url, str(survey.uuid), worker, rate(0.3))
    data = services.similarity_data_from_survey(survey=survey, name="through the pages")
    group = similarity_arrays(data)["group"]
    rho = stats.spearmanr(sim.upper(group), sim.upper(1 - similarity))[0]
    assert rho > 0.9 and data.n_people == 2


def test_repeated_trials_measure_each_workers_consistency_and_are_not_data(admin_client):
    survey = services.survey_open(survey=_survey(5, n_repeats=3, workers_per_survey=2))
    repeats = list(survey.trials.filter(repeat_of__isnull=False))
    assert survey.n_repeats == len(repeats) == 3
    assert all(r.items == r.repeat_of.items and not r.is_attention_check for r in repeats)
    first_answers = {}
    for worker in ("steady", "fickle"):
        assignment = services.assignment_start(survey=survey, external_id=worker)
        assert len(assignment.sequence) == survey.n_trials + survey.n_attention_checks + 3
        for trial in survey.trials.order_by("position"):
            if trial.is_attention_check:
                rating = 9
            elif trial.repeat_of_id is None:
                rating = first_answers.setdefault(trial.pk, 5)
            else:
                rating = 5 if worker == "steady" else 0  # the fickle worker changes their mind
            services.response_record(
                assignment=assignment, trial_id=trial.pk, answer=rating, idempotency_key=f"{worker}{trial.pk}"
            )
    from surveys.selectors import survey_consistency

    assert survey_consistency(survey) == {
        "steady": {"repeats": 3, "consistency": 1.0, "kept": True},
        "fickle": {"repeats": 3, "consistency": 0.0, "kept": True},
    }
    assert len([r for r in survey_ratings(survey) if not r["attention_check"]]) == 2 * survey.n_trials
    assert admin_client.get(f"/api/surveys/{survey.pk}/consistency/").json()["fickle"]["consistency"] == 0.0
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/")
    assert b"fickle: 0% of 3" in page.content
    with pytest.raises(MetamerError, match="repeats must be between 0 and the 10 trials"):
        services.survey_assemble(
            study=StudyFactory(), name="x", kind="rating", image_set=_images(5, name="b"), n_repeats=11, n_trials=None
        )


def test_a_least_consistency_leaves_fickle_workers_out_of_the_data(admin_client):
    survey = services.survey_open(survey=_survey(5, n_repeats=3, workers_per_survey=2, min_consistency=0.5))
    for worker in ("steady", "fickle"):
        assignment = services.assignment_start(survey=survey, external_id=worker)
        for trial in survey.trials.order_by("position"):
            rating = 9 if trial.is_attention_check else 5
            if trial.repeat_of_id is not None and worker == "fickle":
                rating = 0
            services.response_record(
                assignment=assignment, trial_id=trial.pk, answer=rating, idempotency_key=f"{worker}{trial.pk}"
            )
    kept = {r["worker"] for r in survey_ratings(survey) if r["passed_checks"]}
    assert kept == {"steady"}
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "fickle: 0% of 3 (left out), steady: 100% of 3<" in page
    data = services.similarity_data_from_survey(survey=survey, name="kept only")
    assert data.n_people == 1
    with pytest.raises(MetamerError, match="needs repeated trials to measure it"):
        services.survey_assemble(
            study=StudyFactory(),
            name="x",
            kind="rating",
            image_set=_images(5, name="c"),
            min_consistency=0.5,
            n_trials=None,
        )
