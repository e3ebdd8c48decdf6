"""Workers' arrivals and answers: each answer saved the moment it is given, exactly once."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from metamer.errors import MetamerError
from surveys.models import Assignment, Participant, Publication, Response, Study, Survey
from surveys.selectors import assignment_progress, survey_answer_key


@transaction.atomic
def assignment_start(*, survey: Survey, external_id: str, recruiter_data: dict[str, Any] | None = None) -> Assignment:
    """Start (or resume) ``external_id``'s assignment. Nobody takes a second survey of a study."""
    if not external_id:
        raise MetamerError("a participant id is needed to start", field="external_id")
    if survey.status != Survey.Status.OPEN:
        raise MetamerError("this survey is not open", code="conflict")
    participant, _ = Participant.objects.get_or_create(study=survey.study, external_id=external_id)
    existing = Assignment.objects.filter(participant=participant).first()
    if existing is not None:
        if existing.survey_id != survey.pk:
            raise MetamerError("you have already taken part in this study", code="conflict")
        return existing
    assignment = Assignment.objects.create(survey=survey, participant=participant, recruiter_data=recruiter_data or {})
    published = Publication.objects.filter(survey=survey, status=Publication.Status.PUBLISHED).exists()
    if survey.study.recruiter == Study.Recruiter.MTURK and published:
        from surveys.tasks import mark_participant_started  # tasks import services: resolved at call time

        transaction.on_commit(lambda: mark_participant_started.delay(assignment.pk))
    return assignment


def response_record(
    *,
    assignment: Assignment,
    trial_id: int,
    answer: Any,
    idempotency_key: str,
    response_ms: int | None = None,
    viewing: dict[str, Any] | None = None,
) -> tuple[Response, bool]:
    """Save one answer now. A retry with the same key (or the same answer) returns the stored
    response; a different answer to an answered trial is refused. Returns (response, created)."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise MetamerError("an idempotency key of 1 to 64 characters is needed", field="idempotency_key")
    key = survey_answer_key(assignment.survey_id, assignment.survey.uuid).get(trial_id)
    if key is None:
        raise MetamerError("no such trial in this survey", field="trial")
    if assignment.status == Assignment.Status.STARTED:
        score = _score(*key, answer)
        try:
            # Insert first: the unique constraints catch a repeat, so a first answer (the common
            # case) costs no lookup. In autocommit the insert is its own transaction; inside a
            # caller's transaction a savepoint keeps a caught repeat from breaking it.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                response = Response.objects.create(
                    assignment=assignment,
                    trial_id=trial_id,
                    answer=answer,
                    correct=score == 1.0,
                    score=score,
                    response_ms=response_ms,
                    idempotency_key=idempotency_key,
                    viewing=viewing or {},
                )
        except IntegrityError:
            pass  # this trial was answered, or this key used: see below
        else:
            answered, total = assignment_progress(assignment)
            if answered == total:
                assignment_submit(assignment=assignment)
            return response, True
    # A repeat (a retry gets the stored answer, even after the last answer submitted the
    # assignment; a changed answer is refused), or an answer after submission.
    matches = list(
        Response.objects.filter(Q(trial_id=trial_id) | Q(idempotency_key=idempotency_key), assignment=assignment)[:2]
    )
    previous = next((r for r in matches if r.trial_id == trial_id), matches[0] if matches else None)
    if previous is None:
        raise MetamerError("this assignment has been submitted; no more answers are taken", code="conflict")
    return _same_or_conflict(previous, trial_id, answer)


def _score(correct: Any, check_row: int | None, answer: Any) -> float:
    """Share of the answer that is right (an attention check: 1 if passed, else 0)."""
    if isinstance(correct, int):
        if answer not in (0, 1):
            raise MetamerError("a 2AFC answer is 0 (left/first option) or 1 (right/second option)", field="answer")
        return float(answer == correct)
    if not isinstance(answer, list) or len(answer) != len(correct) or any(a not in (0, 1, 2) for a in answer):
        raise MetamerError(
            f"a clustering answer gives a column (0, 1 or 2) for each of the {len(correct)} rows", field="answer"
        )
    if check_row is not None:
        return float(answer[check_row] == correct[check_row])
    return sum(a == c for a, c in zip(answer, correct, strict=True)) / len(correct)


def _same_or_conflict(previous: Response, trial_id: int, answer: Any) -> tuple[Response, bool]:
    if previous.trial_id != trial_id or previous.answer != answer:
        raise MetamerError("this trial was already answered differently; answers cannot be changed", code="conflict")
    return previous, False


def assignment_submit(*, assignment: Assignment) -> Assignment:
    """Mark an assignment submitted once every trial has an answer."""
    updated = Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.STARTED).update(
        status=Assignment.Status.SUBMITTED, submitted_at=timezone.now()
    )
    assignment.refresh_from_db()
    if not updated and assignment.status == Assignment.Status.STARTED:
        raise MetamerError("the assignment could not be submitted", code="conflict")
    return assignment
