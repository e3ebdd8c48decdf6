"""Odd-one-out surveys over any image set: assembly, checks, answers as triplets, and the
worker's pages."""

import itertools

import numpy as np
import pytest

from inversion import services as inversion_services
from metamer.errors import MetamerError
from science import similarity as sim
from surveys import services
from surveys.kinds.layouts import OddOneOut
from surveys.models import Response, Survey
from surveys.presentation import assignment_sequence
from surveys.selectors import survey_triplets, trial_payload
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def _images(n: int, size: int = 16):
    return inversion_services.target_set_create_noise(name="set", n=n, law="normal-0-1", image_size=size, seed=0)


def _survey(n=6, **kwargs):
    return services.survey_assemble(
        study=StudyFactory(), name="odd", kind="odd-one-out", image_set=_images(n), **{"n_trials": None, **kwargs}
    )


def test_a_small_set_asks_every_set_of_three_once_with_checks_showing_one_image_twice():
    survey = _survey(6)
    trials = list(survey.trials.order_by("position"))
    asked = [t for t in trials if not t.is_attention_check]
    assert survey.sampling == "all 20 sets of three" and survey.n_trials == len(asked) == 20
    assert sorted(tuple(sorted(t.items)) for t in asked) == list(itertools.combinations(range(6), 3))
    assert len({tuple(t.items) for t in asked} - {tuple(sorted(t.items)) for t in asked}) > 0  # shown in random order
    checks = [t for t in trials if t.is_attention_check]
    assert len(checks) == survey.n_attention_checks == 1
    for check in checks:
        odd = check.items[check.correct]
        assert check.items.count(odd) == 1 and len(set(check.items)) == 2
    assert sorted(checks[0].slots.values_list("role", "index")) == [("option", 0), ("option", 1), ("option", 2)]
    assert survey.layout == "odd"


def test_large_sets_are_sampled_and_bad_requests_refused():
    images = _images(30)
    with pytest.raises(MetamerError, match="4,060 distinct sets of three; say how many"):
        services.survey_assemble(study=StudyFactory(), name="o", kind="odd-one-out", image_set=images, n_trials=None)
    with pytest.raises(MetamerError, match="an odd-one-out survey asks about an image set"):
        services.survey_assemble(study=StudyFactory(), name="o", kind="odd-one-out")
    survey = services.survey_assemble(
        study=StudyFactory(), name="o", kind="odd-one-out", image_set=images, n_trials=100, seed=3
    )
    asked = [tuple(sorted(t.items)) for t in survey.trials.filter(is_attention_check=False)]
    assert len(asked) == len(set(asked)) == 100
    assert survey.sampling == "uniform: 100 of 4060 sets of three (seed 3)"


def test_each_worker_sees_the_three_in_their_own_order_and_answers_map_back():
    sequences = [
        assignment_sequence([(1, OddOneOut()), (2, OddOneOut())], survey_seed=0, ordinal=o, places=4) for o in range(4)
    ]
    orders = {tuple(s[0]["order"]) for s in sequences}
    assert len(orders) > 1 and all(sorted(o) == [0, 1, 2] for o in orders)
    entry = sequences[0][0]
    for shown in range(3):
        assert OddOneOut().to_shown(entry, OddOneOut().from_shown(entry, shown)) == shown
    assert OddOneOut().from_shown(entry, 5) == 5  # malformed answers pass through for validation to name


def test_answers_are_choices_checks_are_scored_and_each_answer_gives_two_triplets():
    survey = services.survey_open(survey=_survey(5))
    assignment = services.assignment_start(survey=survey, external_id="w")
    trials = list(survey.trials.order_by("position"))
    payload = trial_payload(trials[0], assignment.sequence[0])
    assert payload["kind"] == "odd" and len(payload["options"]) == 3 and "correct" not in payload
    with pytest.raises(MetamerError, match="an odd-one-out answer is 0, 1 or 2"):
        services.response_record(assignment=assignment, trial_id=trials[0].pk, answer=3, idempotency_key="bad")
    for trial in trials:
        # Always call the image with the highest index odd (the checks' odd one where it is a check).
        answer = trial.correct if trial.is_attention_check else trial.items.index(max(trial.items))
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=answer, idempotency_key=str(trial.pk))
    assert Response.objects.filter(trial__is_attention_check=False, score__isnull=True).count() == 10
    assert Response.objects.filter(trial__is_attention_check=True, correct=True).count() == survey.n_attention_checks
    rows = [r for r in survey_triplets(survey) if not r["attention_check"]]
    assert len(rows) == 20
    assert all(r["choice"] == 1 and r["k"] > max(r["i"], r["j"]) for r in rows)  # kept pair closer than the odd one
    data = services.similarity_data_from_survey(survey=survey, name="collected")
    assert (data.kind, data.n_judgements) == ("triplets", 20)
    assert data.source.startswith("odd-one-out survey 'odd'")


def test_an_odd_one_out_survey_answered_through_the_real_pages_reproduces_the_network(live_server, alexnet_features):
    """Simulated participants who judge by AlexNet's features pick the odd one out on the
    worker's pages; the triplets their answers give agree with AlexNet's own above 0.9 at low
    noise, and less with more noise."""
    import torch

    from inversion.selectors import stimulus_tensor
    from surveys.bots import run_bot

    images = _images(12, size=64)
    features = alexnet_features

    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(),
            name="o",
            kind="odd-one-out",
            image_set=images,
            n_trials=60,
            seed=1,
            workers_per_survey=2,
        )
    )
    f = features(torch.stack([stimulus_tensor(t.stimulus) for t in images.targets.order_by("index")]))
    network = 1 - f @ f.T
    spread = float(np.std(sim.upper(network)))
    rng = np.random.default_rng(0)

    def judge(noise: float):
        def decide(query, options: list[torch.Tensor]) -> int:
            assert query is None
            s = features(torch.stack(options))
            similarity = s @ s.T + rng.normal(0, noise * spread, (3, 3))
            pair_kept = max(itertools.combinations(range(3), 2), key=lambda p: similarity[p[0], p[1]])
            return next(o for o in range(3) if o not in pair_kept)

        return decide

    for worker, noise in (("careful", 0.05), ("sloppy", 1.5)):
        run_bot(live_server.url, str(survey.uuid), worker, judge(noise))
    agreement = {}
    for worker in ("careful", "sloppy"):
        rows = [r for r in survey_triplets(survey) if r["worker"] == worker and not r["attention_check"]]
        t = np.array([[r["i"], r["j"], r["k"]] for r in rows])
        agreement[worker] = sim.triplet_agreement(
            np.array([r["choice"] for r in rows]), sim.triplet_answers(network, t)
        )
    assert agreement["careful"] > 0.9 and agreement["careful"] > agreement["sloppy"]
    assert Survey.objects.get().kind == "odd-one-out"
