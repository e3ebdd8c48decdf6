import pytest
from django.contrib import admin
from django.urls import reverse

from surveys import services

pytestmark = pytest.mark.django_db


def test_every_admin_list_and_change_page_renders(admin_client, survey):
    # A study with a survey, IRIs, an assignment and an answer: most models have a row to open.
    assignment = services.assignment_start(survey=survey, external_id="w1")
    services.response_record(assignment=assignment, trial_id=survey.trials.first().pk, answer=1, idempotency_key="k1")
    opened = []
    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(changelist).status_code == 200, changelist
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change
            opened.append(meta.model_name)
    assert {"inversionjob", "iri", "study", "survey", "assignment", "response"} <= set(opened)
