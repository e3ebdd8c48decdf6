"""A participant withdraws: their answers and identifiers go everywhere, the study's reports
with them, and the audit log says who did it and why."""

import os

import pytest
from django.core.management import CommandError, call_command

from analysis.models import Report
from analysis.selectors import judgements
from analysis.services import participant_delete, report_build
from metamer.errors import MetamerError
from surveys import services
from surveys.models import Assignment, AuditEntry, Participant, Response

pytestmark = pytest.mark.django_db


def _answered(survey, worker: str, **recruiter_data) -> Assignment:
    assignment = services.assignment_start(survey=survey, external_id=worker, recruiter_data=recruiter_data)
    for t in survey.trials.all():
        services.response_record(assignment=assignment, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk))
    services.assignment_exit_record(assignment=assignment, answers={"How was it?": f"I am {worker} from Leeds"})
    assignment.refresh_from_db()
    return assignment


def _anywhere(text: str) -> bool:
    fields = [
        *Participant.objects.values_list("external_id", flat=True),
        *(str(v) for v in Assignment.objects.values_list("recruiter_data", "exit_answers", "session_key")),
        *(str(v) for v in AuditEntry.objects.values_list("details", flat=True)),
    ]
    return any(text in f for f in fields)


def test_withdrawal_deletes_their_answers_identifiers_and_reports_and_is_recorded(survey):
    kept = _answered(survey, "stays")
    leaving = _answered(survey, "PID-LEAVES", assignmentId="A-LEAVES")
    report = report_build(study=survey.study)
    files = [report.html.path, report.workers_csv.path]
    withdrawal, reports = participant_delete(
        participant=leaving.participant, reason="asked to withdraw by email", actor="ana"
    )
    assert (withdrawal.answers, reports) == (survey.trials.count(), 1)
    assert not Response.objects.filter(assignment=leaving).exists()
    assert Response.objects.filter(assignment=kept).count() == survey.trials.count()
    assert not _anywhere("PID-LEAVES") and not _anywhere("A-LEAVES") and not _anywhere("PID-LEAVES from Leeds")
    assert not Report.objects.exists() and not any(os.path.exists(f) for f in files)
    entry = AuditEntry.objects.get(action="withdraw")
    assert (entry.actor, entry.reason, entry.details["answers_deleted"]) == (
        "ana",
        "asked to withdraw by email",
        withdrawal.answers,
    )
    assert set(judgements(survey.study).worker) == {"stays"}
    with pytest.raises(MetamerError, match="withdrawn already"):
        participant_delete(participant=Participant.objects.get(pk=leaving.participant_id), reason="again", actor="ana")


def test_a_withdrawal_needs_a_reason_and_changes_nothing_without_one(survey):
    leaving = _answered(survey, "w1")
    with pytest.raises(MetamerError, match="needs a reason"):
        participant_delete(participant=leaving.participant, reason=" ", actor="ana")
    assert Response.objects.filter(assignment=leaving).exists() and not AuditEntry.objects.exists()


def test_the_command_says_what_it_would_delete_and_deletes_only_with_yes(survey, capsys):
    leaving = _answered(survey, "w1")
    call_command("participant_delete", survey.study.name, "w1", "--reason", "asked")
    assert "would delete" in capsys.readouterr().out and Response.objects.filter(assignment=leaving).exists()
    call_command("participant_delete", survey.study.name, "w1", "--reason", "asked", "--yes")
    assert "withdrawn" in capsys.readouterr().out and not Response.objects.filter(assignment=leaving).exists()
    with pytest.raises(CommandError, match="no participant 'w1'"):
        call_command("participant_delete", survey.study.name, "w1", "--reason", "asked", "--yes")


def test_the_admin_action_withdraws_after_asking_why(admin_client, survey):
    leaving = _answered(survey, "w1")
    url = "/admin/surveys/participant/"
    asked = admin_client.post(url, {"action": "withdraw", "_selected_action": [leaving.participant_id]})
    assert asked.status_code == 200 and "(required)" in asked.content.decode()
    assert Response.objects.filter(assignment=leaving).exists()
    done = admin_client.post(
        url, {"action": "withdraw", "_selected_action": [leaving.participant_id], "confirm": "yes", "feedback": "asked"}
    )
    assert done.status_code == 302 and not Response.objects.filter(assignment=leaving).exists()
    assert AuditEntry.objects.get(action="withdraw").actor == "admin"
