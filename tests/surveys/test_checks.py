"""Designs that can be answered without looking say so, with the numbers."""

import pytest

from surveys import services
from surveys.kinds.checks import checks_warning, elimination_warning
from surveys.selectors import survey_design_warnings
from tests.factories import IRIFactory, StudyFactory


def test_a_recurring_option_gives_the_answer_away():
    # The seed option is the same image in every trial, the target a new one each time.
    trials = [((f"target-{n}", "seed"), 0) if n % 2 else (("seed", f"target-{n}"), 1) for n in range(10)]
    warning = elimination_warning(trials)
    assert "never picks an option it has seen in other trials scores 100% of the 10 trials" in warning
    assert "appears in 10 of them" in warning and "seed_per_target" in warning
    # The opposite rule: the right option is the one that recurs.
    assert "always picks" in elimination_warning([((o, "t"), 1) for o, _ in [(f"s{n}", 0) for n in range(6)]])


def test_distinct_options_leave_only_chance():
    trials = [((f"target-{n}", f"seed-{n}"), n % 2) for n in range(20)]
    assert elimination_warning(trials) is None
    assert elimination_warning(trials[:3]) is None  # too few trials to say


@pytest.mark.parametrize(
    ("n_checks", "chance", "expected"),
    [
        (5, 1 / 2, None),
        (2, 1 / 2, "passes all 2 with a chance of 25%; 5 or more bring it under 5%"),
        (2, 1 / 3, "passes all 2 with a chance of 11%; 3 or more"),
        (0, 1 / 2, "no attention checks"),
        (0, None, None),
    ],
)
def test_attention_checks_must_catch_random_answers(n_checks, chance, expected):
    warning = checks_warning(n_checks, chance)
    assert warning is None if expected is None else expected in warning


@pytest.mark.django_db
def test_a_2afc_survey_of_one_shared_seed_warns_in_the_admin_and_the_api(admin_client):
    first = IRIFactory()
    iris = [first, *(IRIFactory(job=first.job, seed=first.seed) for _ in range(9))]
    survey = services.survey_assemble(study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=10, seed=2)
    warnings = survey_design_warnings(survey)
    assert len(warnings) == 2
    assert "scores 100% of the 10 trials" in warnings[1] and "passes all 1 with a chance of 50%" in warnings[0]
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "answerable by elimination" in page
    assert admin_client.get(f"/api/surveys/{survey.pk}/").json()["warnings"] == warnings

    distinct = services.survey_assemble(
        study=StudyFactory(), name="d", jobs=[IRIFactory().job], n_trials=None, n_attention_checks=5
    )
    assert survey_design_warnings(distinct) == []
