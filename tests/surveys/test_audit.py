"""Recorded data stays as recorded: later decisions go through services into an append-only
audit log, shown on the object and exported with the study; nothing a worker sent is changed
or deleted through the admin or the API."""

import json

import pandas as pd
import pytest

from analysis.selectors import judgements
from analysis.services import report_build
from inversion.models import IRI
from metamer.errors import MetamerError
from surveys import services
from surveys.models import Assignment, AuditEntry, Response, Trial
from surveys.recruitment.links import LinksRecruiter

pytestmark = pytest.mark.django_db


def _submitted(survey, worker: str) -> Assignment:
    assignment = services.assignment_start(survey=survey, external_id=worker)
    for t in survey.trials.all():
        services.response_record(assignment=assignment, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk))
    assignment.refresh_from_db()
    return assignment


def test_an_exclusion_needs_a_reason_leaves_the_answers_stored_and_out_of_the_data(survey):
    kept, left_out = _submitted(survey, "kept"), _submitted(survey, "left-out")
    with pytest.raises(MetamerError, match="needs a reason"):
        services.assignment_exclude(assignment=left_out, reason=" ", actor="ana")
    assert not AuditEntry.objects.exists()
    services.assignment_exclude(assignment=left_out, reason="talked on the phone throughout", actor="ana")
    frame = judgements(survey.study)
    assert set(frame[frame.excluded].worker) == {"left-out"} and not frame[frame.worker == "kept"].excluded.any()
    assert Response.objects.filter(assignment=left_out).count() == survey.trials.count()  # still stored
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.assignment, entry.reason) == (
        "ana",
        "exclude",
        left_out,
        "talked on the phone throughout",
    )
    with pytest.raises(MetamerError, match="excluded already"):
        services.assignment_exclude(assignment=left_out, reason="again", actor="ana")
    services.assignment_include(assignment=left_out, reason="the note was about someone else", actor="ben")
    assert not judgements(survey.study).excluded.any()
    assert list(AuditEntry.objects.values_list("action", "actor")) == [("exclude", "ana"), ("include", "ben")]
    assert kept.audit.count() == 0


def test_every_review_decision_is_in_the_audit_log_with_who_took_it(survey):
    approved, rejected, flagged = (_submitted(survey, w) for w in ("a", "r", "f"))
    recruiter = LinksRecruiter()
    services.assignment_approve(assignment=approved, confirm=True, recruiter=recruiter, actor="ana")
    services.assignment_reject(assignment=rejected, feedback="all one side", recruiter=recruiter, actor="ana")
    services.assignment_flag(assignment=flagged, note="too fast", actor="ben")
    services.assignment_note(assignment=flagged, note="checked: fine", actor="ben")
    log = list(AuditEntry.objects.values_list("assignment__participant__external_id", "action", "actor", "reason"))
    assert log == [
        ("a", "approve", "ana", ""),
        ("r", "reject", "ana", "all one side"),
        ("f", "flag", "ben", "too fast"),
        ("f", "note", "ben", "checked: fine"),
    ]


def test_the_admin_actions_record_the_staff_user(admin_client, survey):
    assignment = _submitted(survey, "w1")
    reply = admin_client.post(
        "/admin/surveys/assignment/",
        {"action": "exclude_from_data", "_selected_action": [assignment.pk], "confirm": "yes", "feedback": "bot-like"},
    )
    assert reply.status_code == 302
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == ("admin", "exclude", "bot-like")
    page = admin_client.get(f"/admin/surveys/assignment/{assignment.pk}/change/").content.decode()
    assert "bot-like" in page and "audit log" in page
    study_page = admin_client.get(f"/admin/surveys/study/{survey.study.pk}/change/").content.decode()
    assert "bot-like" in study_page


def test_asking_for_the_reason_first_stores_nothing(admin_client, survey):
    assignment = _submitted(survey, "w1")
    reply = admin_client.post(
        "/admin/surveys/assignment/", {"action": "exclude_from_data", "_selected_action": [assignment.pk]}
    )
    assert reply.status_code == 200 and "(required)" in reply.content.decode()
    assert not AuditEntry.objects.exists() and not Assignment.objects.get(pk=assignment.pk).excluded


def test_the_study_export_carries_the_audit_log(survey):
    assignment = _submitted(survey, "w1")
    services.assignment_exclude(assignment=assignment, reason="=cmd|' /C calc'!A0", actor="ana")
    report = report_build(study=survey.study)
    audit = pd.read_csv(report.audit_csv)
    assert list(audit.columns) == ["when", "actor", "action", "worker", "survey", "reason", "details"]
    assert audit.loc[0, "action"] == "exclude" and audit.loc[0, "worker"] == "w1"
    assert audit.loc[0, "reason"].startswith("'=")  # a spreadsheet shows it, never runs it
    codebook = pd.read_csv(report.codebook)
    assert set(codebook[codebook.file == "audit"].column) == set(audit.columns)
    assert "w1" in report.summary["excluded_workers"]


def _recorded(survey):
    assignment = _submitted(survey, "w1")
    response = assignment.responses.first()
    return assignment, response, response.trial


def test_the_admin_cannot_change_or_delete_what_was_recorded(admin_client, survey, iris):
    assignment, response, trial = _recorded(survey)
    before = (
        json.dumps(response.answer),
        json.dumps(trial.correct),
        trial.is_attention_check,
        json.dumps(assignment.sequence),
        assignment.status,
    )
    iri = IRI.objects.get(pk=iris[0].pk)
    attempts = {
        f"/admin/surveys/response/{response.pk}/change/": {"answer": "1", "correct": "on"},
        f"/admin/surveys/trial/{trial.pk}/change/": {"correct": "7", "is_attention_check": "on"},
        f"/admin/surveys/assignment/{assignment.pk}/change/": {"status": "approved", "sequence": "[]"},
        f"/admin/inversion/iri/{iri.pk}/change/": {"rep_distance": "0", "converged": "on"},
    }
    for url, data in attempts.items():
        assert admin_client.post(url, data).status_code == 403, url
        assert admin_client.post(url.replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403, url
    response.refresh_from_db()
    trial = Trial.objects.get(pk=trial.pk)
    assignment.refresh_from_db()
    after = (
        json.dumps(response.answer),
        json.dumps(trial.correct),
        trial.is_attention_check,
        json.dumps(assignment.sequence),
        assignment.status,
    )
    assert after == before
    assert IRI.objects.get(pk=iri.pk).rep_distance == iri.rep_distance
    changelist = admin_client.get("/admin/surveys/response/").content.decode()
    assert "delete_selected" not in changelist


def test_the_api_cannot_change_or_delete_what_was_recorded(admin_client, survey):
    assignment, response, _ = _recorded(survey)
    for url in (f"/api/responses/{response.pk}/", f"/api/assignments/{assignment.pk}/"):
        for method in (admin_client.put, admin_client.patch):
            assert method(url, {"answer": 1, "status": "approved"}, content_type="application/json").status_code == 405
        assert admin_client.delete(url).status_code == 405
    assert Response.objects.get(pk=response.pk).answer == response.answer
    assert Assignment.objects.get(pk=assignment.pk).status == assignment.status


def test_the_audit_log_itself_cannot_be_added_changed_or_deleted_in_the_admin(admin_client, survey):
    assignment = _submitted(survey, "w1")
    entry = services.assignment_note(assignment=assignment, note="first look", actor="ana")
    assert admin_client.get("/admin/surveys/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/surveys/auditentry/{entry.pk}/change/", {"reason": "x"}).status_code == 403
    assert admin_client.post(f"/admin/surveys/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get().reason == "first look"


def test_stored_similarity_data_cannot_be_deleted_in_the_admin(admin_client):
    import numpy as np

    from inversion import services as inversion_services
    from surveys.models import SimilarityData

    images = inversion_services.target_set_create_noise(name="set", n=4, law="normal-0-1", image_size=16, seed=0)
    matrix = np.ones((4, 4)) - np.eye(4)
    data = services.similarity_data_import(name="judged", image_set=images, matrices=matrix)
    assert admin_client.post(f"/admin/surveys/similaritydata/{data.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SimilarityData.objects.filter(pk=data.pk).exists()
