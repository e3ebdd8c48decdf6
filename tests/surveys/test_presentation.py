"""Each worker's own order, sides and column order: reproducible, different, balanced."""

from collections import Counter

import pytest

from surveys import services
from surveys.kinds.layouts import Clustering, PickOfTwo
from surveys.presentation import assignment_sequence, worker_seed

TWO_AFC = [(pk, PickOfTwo()) for pk in range(10, 22)]
CLUSTERS = [(pk, Clustering()) for pk in range(30, 36)]


def test_each_worker_sequence_is_rebuilt_from_the_survey_seed_and_their_arrival():
    first = assignment_sequence(TWO_AFC, survey_seed=7, ordinal=0, places=4)
    assert first == assignment_sequence(TWO_AFC, survey_seed=7, ordinal=0, places=4)
    second = assignment_sequence(TWO_AFC, survey_seed=7, ordinal=1, places=4)
    assert [e["trial"] for e in first] != [e["trial"] for e in second]
    assert sorted(e["trial"] for e in second) == [pk for pk, _ in TWO_AFC]  # every trial, once
    assert worker_seed(7, 0) != worker_seed(7, 1) and worker_seed(7, 1) == worker_seed(7, 1)


def test_sides_and_positions_balance_across_four_workers():
    sequences = [assignment_sequence(TWO_AFC, survey_seed=3, ordinal=k, places=4) for k in range(4)]
    for pk, _ in TWO_AFC:
        flips = [next(e["flip"] for e in seq if e["trial"] == pk) for seq in sequences]
        assert Counter(flips) == {0: 2, 1: 2}  # the target on each side equally often
        positions = [next(i for i, e in enumerate(seq) if e["trial"] == pk) for seq in sequences]
        assert max(positions) - min(positions) >= len(TWO_AFC) // 2  # early for some, late for others


def test_clustering_columns_rotate_over_three_workers():
    sequences = [assignment_sequence(CLUSTERS, survey_seed=3, ordinal=k, places=3) for k in range(3)]
    for pk, _ in CLUSTERS:
        columns = [next(e["columns"] for e in seq if e["trial"] == pk) for seq in sequences]
        for display in range(3):
            assert sorted(c[display] for c in columns) == [0, 1, 2]  # each target in each column once


@pytest.mark.parametrize("flip", [0, 1])
def test_two_afc_answers_map_between_what_was_clicked_and_the_trial(flip):
    entry, layout = {"trial": 1, "flip": flip}, PickOfTwo()
    assert layout.arrange(entry, ["target", "seed"]) == (["seed", "target"] if flip else ["target", "seed"])
    clicked = layout.arrange(entry, ["target", "seed"]).index("target")
    assert layout.from_shown(entry, clicked) == 0 and layout.to_shown(entry, 0) == clicked
    assert layout.from_shown(entry, 7) == 7  # malformed answers pass through for validation to name
    # A boolean or a float is not an option index: it passes through unmapped, to be refused.
    assert layout.from_shown(entry, True) is True and layout.from_shown(entry, 1.0) == 1.0


def test_clustering_answers_map_between_what_was_clicked_and_the_trial():
    entry = {"trial": 1, "columns": [2, 0, 1], "rows": [5, 4, 3, 2, 1, 0]}
    correct = [0, 0, 1, 1, 2, 2]  # each row's own column
    layout = Clustering()
    drawn = layout.payload(lambda role: [f"{role[0]}{i}" for i in range(3 if role == "column" else 6)], entry)
    columns, rows = drawn["columns"], drawn["rows"]
    assert columns == ["c2", "c0", "c1"] and rows[0] == "r5"
    clicked = [columns.index(f"c{correct[int(row[1])]}") for row in rows]
    assert layout.from_shown(entry, clicked) == correct
    assert layout.to_shown(entry, correct) == clicked


@pytest.mark.django_db
def test_two_assignments_get_different_recorded_sequences_and_responses_record_what_was_shown(survey):
    a = services.assignment_start(survey=survey, external_id="w1")
    b = services.assignment_start(survey=survey, external_id="w2")
    assert (a.ordinal, b.ordinal) == (0, 1) and a.seed != b.seed
    assert a.sequence != b.sequence
    trials = [(pk, PickOfTwo()) for pk in survey.trials.order_by("position").values_list("pk", flat=True)]
    assert a.sequence == assignment_sequence(
        trials, survey_seed=survey.seed, ordinal=0, places=survey.workers_per_survey
    )
    first = a.sequence[0]
    trial = survey.trials.get(pk=first["trial"])
    response, _ = services.response_record(assignment=a, trial_id=trial.pk, answer=trial.correct, idempotency_key="k")
    assert response.presented == {**first, "position": 1, "answer_shown": trial.correct ^ first["flip"]}
