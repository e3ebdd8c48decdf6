"""One home per survey kind: the registry, and each kind's answer schema refusing what is not
an answer of its kind (strict types: a 2AFC answer is the integer index of an option shown)."""

import json

import pytest
from django.urls import reverse

from inversion import services as inversion_services
from surveys import services
from surveys.kinds import KINDS, kind_spec
from surveys.models import Response, Survey
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db

NOT_AN_INDEX = {"true": True, "false": False, "1.0": 1.0, "0.0": 0.0, "a string": "1", "null": None, "-1": -1}
WRONG = {
    "2afc": {**NOT_AN_INDEX, "out of range": 2, "a list": [0]},
    "triplet": {**NOT_AN_INDEX, "out of range": 2},
    "odd-one-out": {**NOT_AN_INDEX, "out of range": 3},
    "rating": {**NOT_AN_INDEX, "true": True, "over the scale": 11, "5.5": 5.5},
    "cluster-random": {
        "a number": 0,
        "booleans": [True, False, True, False, True, False],
        "floats": [0.0, 1.0, 2.0, 0.0, 1.0, 2.0],
        "strings": ["0", "1", "2", "0", "1", "2"],
        "out of range": [3, 0, 1, 2, 0, 1],
        "too few rows": [0, 1, 2],
    },
}


def test_every_stored_kind_has_one_spec_and_the_same_label():
    assert list(KINDS) == Survey.Kind.values
    assert all(kind_spec(value).label == label for value, label in Survey.Kind.choices)


def _image_set_survey(kind: str) -> Survey:
    images = inversion_services.target_set_create_noise(name="set", n=5, law="normal-0-1", image_size=16, seed=0)
    return services.survey_assemble(study=StudyFactory(), name=kind, kind=kind, image_set=images, n_trials=None)


@pytest.fixture
def survey_of_kind(request, paired_iris):
    kind = request.param
    if kind_spec(kind).image_set:
        survey = _image_set_survey(kind)
    else:
        job = paired_iris[0].job
        survey = services.survey_assemble(study=StudyFactory(), name=kind, kind=kind, jobs=[job], n_trials=None)
    return services.survey_open(survey=survey)


CASES = [(kind, case) for kind, cases in WRONG.items() for case in cases]


@pytest.mark.parametrize(
    ("survey_of_kind", "case"), CASES, indirect=["survey_of_kind"], ids=[f"{k}: {c}" for k, c in CASES]
)
def test_each_kind_refuses_an_answer_of_the_wrong_type_with_a_4xx_and_stores_nothing(client, survey_of_kind, case):
    assignment = services.assignment_start(survey=survey_of_kind, external_id="w1")
    trial = assignment.sequence[0]["trial"]
    body = {"trial": trial, "answer": WRONG[survey_of_kind.kind][case], "idempotency_key": "k"}
    reply = client.post(
        reverse("surveys:answer", args=[assignment.token]), json.dumps(body), content_type="application/json"
    )
    assert reply.status_code == 400, reply.content
    assert reply.json()["field"] == "answer" and reply.json()["detail"]
    assert not Response.objects.exists()


@pytest.mark.parametrize("survey_of_kind", list(WRONG), indirect=True)
def test_each_kind_stores_a_well_formed_answer(client, survey_of_kind):
    assignment = services.assignment_start(survey=survey_of_kind, external_id="w1")
    trial = assignment.sequence[0]["trial"]
    answer = [0, 1, 2, 0, 1, 2] if survey_of_kind.spec.layout.name == "clustering" else 1
    body = {"trial": trial, "answer": answer, "idempotency_key": "k"}
    reply = client.post(
        reverse("surveys:answer", args=[assignment.token]), json.dumps(body), content_type="application/json"
    )
    assert reply.status_code == 200, reply.content
    stored = Response.objects.get()
    assert type(stored.answer) is type(answer)


def test_every_stored_recruiter_has_one_home_and_the_same_label():
    from surveys.models import Study
    from surveys.recruitment import RECRUITERS

    assert list(RECRUITERS) == Study.Recruiter.values
    assert all(RECRUITERS[value].label == label for value, label in Study.Recruiter.choices)
