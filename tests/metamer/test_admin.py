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


def test_the_index_reads_in_the_order_of_the_work_with_no_add_for_recorded_rows(admin_client):
    html = admin_client.get("/admin/").content.decode()
    sections = ["Inversion: networks", "Surveys: studies", "Analysis: reports", "Authentication and"]
    assert [html.index(s) for s in sections] == sorted(html.index(s) for s in sections)
    pages = [
        f">{p}</a>"
        for p in ("Model specs (network + layer)", "Target sets", "Inversion jobs", "IRIs", "LPIPS judgements")
    ]
    assert [html.index(p) for p in pages] == sorted(html.index(p) for p in pages)
    assert (
        html.index(">Studies</a>")
        < html.index(">Surveys</a>")
        < html.index(">Assignments</a>")
        < html.index(">Payments</a>")
    )
    for recorded in ("surveys/response", "surveys/payment", "surveys/assignment", "inversion/iri", "analysis/report"):
        assert f"/admin/{recorded}/add/" not in html
        assert admin_client.get(f"/admin/{recorded}/add/").status_code == 403
    assert "/admin/inversion/inversionjob/add/" in html and "/admin/surveys/survey/add/" in html


def test_the_model_spec_form_lists_architectures_and_the_chosen_ones_layers_by_name(admin_client):
    form = admin_client.get("/admin/inversion/modelspec/add/").content.decode()
    assert '<datalist id="architectures">' in form
    for name in ("alexnet-imagenet", "efficientnet-lite0-imagenet", "resnet50", "vit_base_patch16_224"):
        assert f'<option value="{name}">' in form
    assert 'list="layer-names"' in form and "inversion/modelspec.js" in form
    layers = admin_client.get(
        "/admin/inversion/modelspec/layers/", {"source": "torchvision", "architecture": "resnet18"}
    ).json()
    assert "layer4.1.relu_1" in layers["layers"] and layers["default"] == "flatten"
    assert admin_client.get(
        "/admin/inversion/modelspec/layers/", {"source": "timm", "architecture": "nope"}
    ).json() == {
        "layers": [],
        "default": "",
    }


def test_the_admin_home_leads_through_the_path_and_marks_the_next_step(admin_client):
    from tests.factories import ModelSpecFactory

    page = admin_client.get("/admin/").content.decode()
    assert page.index("Register a network") < page.index("Run an inversion job") < page.index("Build the report")
    assert page.count("start here") == 1 and page.index("start here") < page.index("Add target images")
    assert 'href="/admin/inversion/modelspec/add/">add</a>' in page
    ModelSpecFactory()
    page = admin_client.get("/admin/").content.decode()
    assert "1 made" in page and page.index("Add target images") < page.index("start here")


def test_each_step_of_the_path_says_what_comes_next_once_saved(admin_client):
    reply = admin_client.post(
        "/admin/surveys/study/add/",
        {
            "name": "Pilot",
            "recruiter": "links",
            "review_policy": "approve-all",
            "min_approval_rate": 95,  # another recruiter's fields: hidden, sent with their defaults
            "min_approved_hits": 100,
            "surveys-TOTAL_FORMS": 0,
            "surveys-INITIAL_FORMS": 0,
        },
        follow=True,
    )
    page = reply.content.decode()
    assert 'Next: <a href="/admin/surveys/survey/add/">Design a survey</a>' in page
