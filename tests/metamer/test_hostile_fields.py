"""The hostile-input catalogue, field by field: every writable field of every API endpoint that
creates something, given values of the wrong type, out of range, or carrying characters no
field should hold. Each must be a 4xx naming the field, with nothing stored. Runs on SQLite and,
in the Makefile's second pass, on PostgreSQL, whose integer columns are narrower."""

import json

import pytest

from analysis.models import AlignmentRun
from inversion.models import InversionJob, ModelSpec, TargetSet
from surveys.models import Study, Survey

pytestmark = pytest.mark.django_db

RAW = "RAW:"  # a value written into the JSON body as it stands (numbers JSON cannot spell)

TEXT = {
    "a NUL": "a\x00b",
    "a lone surrogate": RAW + '"a\\ud800b"',
    "a boolean": True,
    "a list": ["a"],
    "an object": {"a": 1},
    "null": None,
    "100,001 characters": "x" * 100_001,
}
COUNT = {
    "a boolean": True,
    "a fraction": 1.5,
    "text": "many",
    "a superscript digit": "²",
    "2^70": 2**70,
    "2^31 + 1": 2**31 + 1,
    "negative": -1,
    "a list": [1],
    "an object": {"n": 1},
    "1e400": RAW + "1e400",
    "NaN": RAW + "NaN",
    "-Infinity": RAW + "-Infinity",
}
SHARE = {
    "a boolean": True,
    "text": "high",
    "NaN": RAW + "NaN",
    "Infinity": RAW + "Infinity",
    "1e400": RAW + "1e400",
    "negative": -0.5,
    "above one": 1.5,
    "a list": [0.5],
}
CHOICE = {"unknown": "nope", "a NUL": "builtin\x00", "a list": ["builtin"], "a boolean": True, "a number": 3}
REFERENCE = {
    "missing": 999_999,
    "2^70": 2**70,
    "negative": -1,
    "a superscript digit": "²",
    "text": "first",
    "a boolean": True,
    "an object": {"id": 1},
    "a fraction": 1.5,
}
FLAG = {"text": "perhaps", "a list": [True], "a number": 7, "an object": {}}
CHANNELS = {
    "text": "0.5,0.5,0.5",
    "two values": [0.5, 0.5],
    "NaN inside": RAW + "[0.5, NaN, 0.5]",
    "nested": [[0.5], [0.5], [0.5]],
    "words": ["a", "b", "c"],
    "booleans": [True, True, True],
    "a million": [0.5] * 1_000_000,
    "a zero std": [0.0, 0.0, 0.0],
}


def _body(base: dict, field: str, value) -> bytes:
    if isinstance(value, str) and value.startswith(RAW):
        marker = "__RAW_VALUE__"
        return json.dumps({**base, field: marker}).replace(f'"{marker}"', value[len(RAW) :]).encode()
    return json.dumps({**base, field: value}).encode()


@pytest.fixture
def world(db):
    """What the baseline bodies refer to: a study, a model spec, a ready target set and a job."""
    from inversion import services as inversion
    from tests.factories import ModelSpecFactory, StudyFactory

    image_set = inversion.target_set_create_noise(name="noise", n=5, law="normal-0-1", image_size=16, seed=0)
    spec = ModelSpecFactory(input_size=16)
    job = InversionJob.objects.create(model_spec=spec, target_set=image_set, config={}, total=5)
    return {"study": StudyFactory(), "spec": spec, "image_set": image_set, "job": job}


def _endpoints(world) -> dict:
    return {
        "model-specs": (
            ModelSpec,
            {"name": "m", "source": "builtin", "architecture": "alexnet-imagenet", "layer": "3", "input_size": 16},
        ),
        "studies": (Study, {"name": "study", "description": "d", "recruiter": "links"}),
        "surveys": (
            Survey,
            {
                "study": world["study"].pk,
                "name": "s",
                "kind": "triplet",
                "image_set": world["image_set"].pk,
                "n_trials": 4,
                "seed": 0,
            },
        ),
        "jobs": (InversionJob, {"model_spec": world["spec"].pk, "target_set": world["image_set"].pk, "config": {}}),
        "target-sets": (TargetSet, {"name": "t", "image_size": 16, "noise_law": "normal-0-1", "n": 2, "seed": 0}),
        "alignment-runs": (AlignmentRun, {"name": "run", "config": {"models": ["alexnet-random"]}}),
    }


FIELDS = {
    "model-specs": {
        "name": TEXT,
        "architecture": TEXT,
        "layer": TEXT,
        "source": CHOICE,
        "input_size": COUNT,
        "mean": {k: v for k, v in CHANNELS.items() if k != "a zero std"},
        "std": CHANNELS,
        "imagenet_top1": {**SHARE, "above 100": 101, "above one": 100.5},
        "cifar_stem": FLAG,
        "fake_relu": FLAG,
    },
    "studies": {"name": TEXT, "description": {k: v for k, v in TEXT.items() if k != "null"}, "recruiter": CHOICE},
    "surveys": {
        "study": REFERENCE,
        "name": TEXT,
        "kind": CHOICE,
        "image_set": REFERENCE,
        "n_trials": COUNT,
        "n_attention_checks": COUNT,
        "seed": {k: v for k, v in COUNT.items() if k not in {"negative", "2^31 + 1"}},
        "workers_per_survey": COUNT,
        "reward_cents": COUNT,
        "minutes_allotted": COUNT,
        "min_consistency": SHARE,
        "n_repeats": COUNT,
    },
    "jobs": {"model_spec": REFERENCE, "target_set": REFERENCE},
    "target-sets": {"name": TEXT, "image_size": COUNT, "noise_law": CHOICE, "n": COUNT},
    "alignment-runs": {"name": TEXT},
}
# Values a field may rightly take: the API stores them, so they are no case.
ACCEPTED = {
    ("model-specs", "layer", "null"),
    ("studies", "description", "100,001 characters"),
    ("surveys", "n_trials", "null"),
    ("surveys", "n_attention_checks", "null"),
}
CASES = [
    (endpoint, field, name)
    for endpoint, fields in FIELDS.items()
    for field, values in fields.items()
    for name in values
    if (endpoint, field, name) not in ACCEPTED
]


@pytest.mark.parametrize(("endpoint", "field", "value"), CASES, ids=[f"{e}.{f}={v}" for e, f, v in CASES])
def test_every_field_refuses_what_it_cannot_hold_with_a_4xx_and_stores_nothing(
    admin_client, world, endpoint, field, value
):
    model, base = _endpoints(world)[endpoint]
    before = model.objects.count()
    body = _body(base, field, FIELDS[endpoint][field][value])
    reply = admin_client.post(f"/api/{endpoint}/", body, content_type="application/json")
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.content[:300])
    assert reply.json(), reply.content[:300]
    assert model.objects.count() == before


def test_the_catalogue_is_at_least_three_hundred_cases_across_the_two_files():
    from tests.metamer import test_hostile_inputs

    here = len(CASES)
    there = sum(
        len(mark.args[1]) if isinstance(mark.args[1], list | tuple | dict) else 0
        for item in vars(test_hostile_inputs).values()
        for mark in getattr(item, "pytestmark", [])
        if mark.name == "parametrize"
    )
    assert here + there >= 300, (here, there)
