"""The job form: every inversion setting its own field, from the config itself."""

import dataclasses

import pytest

from inversion.config import InversionConfig
from inversion.forms import InversionJobForm
from inversion.models import InversionJob
from tests.factories import ModelSpecFactory, TargetFactory, TargetSetFactory
from tests.inversion.test_admin import job_settings

pytestmark = pytest.mark.django_db


def _form(**changes):
    spec, targets = ModelSpecFactory(input_size=32), TargetSetFactory(image_size=32)
    TargetFactory(target_set=targets, index=0)
    return InversionJobForm(data={"model_spec": spec.pk, "target_set": targets.pk, **job_settings(**changes)})


def test_every_setting_is_a_field_with_its_default_and_its_help():
    form = InversionJobForm()
    for field in dataclasses.fields(InversionConfig):
        if field.name != "preset":
            assert form.fields[field.name].initial == field.default, field.name
    assert form.fields["precision"].choices[0] == ("auto", "auto")
    assert "fading to exact gradients" in form.fields["surrogate"].help_text
    assert form.fields["tv_weight"].label == "TV weight"


def test_the_fields_make_the_stored_config_and_a_preset_keeps_what_was_changed():
    form = _form(steps=40, transform=True)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["config"]["steps"] == 40 and form.cleaned_data["config"]["transform"] is True
    paper = _form(steps=40)
    paper.data = {**paper.data, "preset": "paper"}
    assert paper.is_valid(), paper.errors
    config = paper.cleaned_data["config"]
    assert (config["preset"], config["steps"], config["update"], config["seed_per_target"]) == (
        "paper",
        40,
        "normalized",
        False,
    )


def test_a_setting_out_of_range_is_refused_with_the_reason_and_nothing_stored():
    form = _form(steps=0)
    assert not form.is_valid()
    assert "steps must be between 1 and 100000" in str(form.errors)
    assert not InversionJob.objects.exists()
