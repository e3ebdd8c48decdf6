"""Workers' arrivals and answers: each answer saved the moment it is given, exactly once."""

from __future__ import annotations

import functools
import json
import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from metamer.errors import MetamerError
from surveys.models import Assignment, Participant, Publication, Response, Survey, SurveyLink
from surveys.presentation import assignment_sequence, worker_seed
from surveys.recruitment import recruiter_terms
from surveys.selectors import (
    assignment_forget,
    assignment_presentations,
    assignment_progress,
    assignment_total,
    survey_answer_key,
)
from surveys.validation import MAX_ID_LENGTH, clean_text

logger = logging.getLogger(__name__)

LINK_PREFIX = "link-"
"""A plain link's place is held by the participant ``link-<link id>``: typed ids may not take it."""


def assignments_expire(*, survey: Survey) -> int:
    """Expire started assignments past the survey's time allowance, freeing their places. Their
    answers stay stored (never lost) and are never counted. Work that is complete is never
    expired: an assignment whose every answer is stored but which a crash left started (killed
    between the last answer and its submission) is submitted as of its last answer, and counts.
    Returns how many expired."""
    deadline = timezone.now() - timedelta(minutes=survey.minutes_allotted)
    overdue = Assignment.objects.filter(survey=survey, status=Assignment.Status.STARTED, started_at__lt=deadline)
    complete = [
        a
        for a in overdue.select_related("survey").annotate(
            n_stored=Count("responses"), last=Max("responses__created_at")
        )
        if a.n_stored and a.n_stored >= assignment_total(a)
    ]
    for assignment in complete:
        submitted = Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.STARTED).update(
            status=Assignment.Status.SUBMITTED, submitted_at=assignment.last
        )
        if submitted:
            assignment_forget(assignment.token)
            _adaptive_round_due(survey)
    return overdue.exclude(pk__in=[a.pk for a in complete]).update(status=Assignment.Status.EXPIRED)


@transaction.atomic
def assignment_start(
    *,
    survey: Survey,
    external_id: str = "",
    recruiter_data: dict[str, Any] | None = None,
    session_key: str = "",
    link_token: str = "",
) -> Assignment:
    """Start ``external_id``'s assignment (or, with ``link_token``, the link's place), or
    resume it when the arrival is vouched for (see ``_vouched``). Nobody takes a second survey
    of a study, and no more people start than the survey has places, however many arrive at
    once (the survey row is locked while a place is taken)."""
    recruiter_data = {
        key: clean_text(value, field=key, max_length=MAX_ID_LENGTH, required=False)
        for key, value in (recruiter_data or {}).items()
    }
    external_id = clean_text(external_id, field="external_id", max_length=MAX_ID_LENGTH, required=False)
    session_key = clean_text(session_key, field="session_key", max_length=64, required=False)
    link_token = clean_text(link_token, field="link", max_length=64, required=False)
    survey = Survey.objects.select_for_update().select_related("study").get(pk=survey.pk)
    if survey.status != Survey.Status.OPEN:
        raise MetamerError(
            "this survey is not taking answers (it has not opened yet, or it has closed); return it on the page you came from, or contact the researcher",
            code="conflict",
        )
    link = None
    if external_id.startswith(LINK_PREFIX) and not link_token:
        raise MetamerError(
            f"participant ids starting with {LINK_PREFIX!r} name plain links' places: use your own id, or open your link",
            field="external_id",
        )
    if link_token:
        link = SurveyLink.objects.filter(survey=survey, token=link_token).first()
        if link is None:
            raise MetamerError("this link is not one of this survey's: check that it was copied whole", code="link")
        external_id = f"{LINK_PREFIX}{link.pk}"
        if Assignment.objects.filter(link=link).exclude(participant__external_id=external_id).exists():
            raise MetamerError("this link's place was taken by someone who came without a link", code="taken")
    if not external_id:
        raise MetamerError("a participant id is needed to start", field="external_id")
    terms = recruiter_terms(survey.study)
    walk_in = link is None and terms.places_are_links and survey.links.exists()
    if walk_in and not terms.walk_ins(survey.study):
        raise MetamerError(
            "this survey admits invited people only: open the link you were given (it ends in ?link=…)", code="link"
        )
    assignments_expire(survey=survey)
    participant, _ = Participant.objects.get_or_create(study=survey.study, external_id=external_id)
    existing = Assignment.objects.filter(participant=participant).select_related("survey__study").first()
    if existing is not None:
        if existing.survey_id != survey.pk:
            raise MetamerError(
                "you have already taken part in this study, and each person takes part once; return it on the page you came from so someone else can take the place",
                code="conflict",
            )
        # The recruiter vouches for a return (MTurk's assignmentId, Prolific's session), or for
        # plain links and typed ids, the browser session that started it does.
        if not recruiter_terms(existing.survey.study).vouches(existing, recruiter_data, session_key):
            raise MetamerError(
                "this place is already taken on another device or browser; continue where you started, or ask the "
                "researcher for a link of your own",
                code="taken",
            )
        if existing.status == Assignment.Status.EXPIRED:
            raise MetamerError(
                "your time for this survey ran out and the place was given to someone else", code="expired"
            )
        return existing
    taken = survey.assignments.exclude(status=Assignment.Status.EXPIRED).count()
    if taken >= survey.workers_per_survey:
        raise MetamerError(
            "all places in this survey are taken; thank you for your interest. Return it on the page you came from",
            code="full",
        )
    if walk_in:
        link = survey.links.filter(assignment__isnull=True).order_by("pk").first()
        if link is None:
            raise MetamerError(
                "all places in this survey are taken; thank you for your interest. Return it on the page you came from",
                code="full",
            )
    ordinal = survey.assignments.count()
    trials = [(pk, survey.spec.layout) for pk in survey.trials.order_by("position").values_list("pk", flat=True)]
    assignment = Assignment.objects.create(
        survey=survey,
        participant=participant,
        recruiter_data=recruiter_data,
        ordinal=ordinal,
        seed=worker_seed(survey.seed, ordinal),
        sequence=assignment_sequence(
            trials, survey_seed=survey.seed, ordinal=ordinal, places=survey.workers_per_survey
        ),
        session_key=session_key,
        link=link,
    )
    published = Publication.objects.filter(survey=survey, status=Publication.Status.PUBLISHED).exists()
    if recruiter_terms(survey.study).tells_started and published:
        from surveys.tasks import mark_participant_started  # tasks import services: resolved at call time

        transaction.on_commit(lambda: _enqueue(mark_participant_started, assignment.pk))
    return assignment


def _enqueue(task, object_id: int) -> None:
    """Queue follow-up work of a worker's request (telling the recruiter a worker started, an
    adaptive round). What the worker did is stored already: a broker that cannot be reached
    must not turn it into an error page (the periodic sync and Metamer's own one-study-per-person
    check cover what the recruiter is not told; the next submission queues the round again)."""
    try:
        task.delay(object_id)
    except Exception:
        logger.exception("could not queue %s for %s", task.name, object_id)


def response_record(
    *,
    assignment: Assignment,
    trial_id: int,
    answer: Any,
    idempotency_key: str,
    response_ms: int | None = None,
    viewing: dict[str, Any] | None = None,
) -> tuple[Response, bool]:
    """Save one answer now, in the trial's own terms (the worker's page maps what was clicked
    with ``presentation.answer_from_shown``); what the worker saw is recorded beside it. A retry
    with the same key (or the same answer) returns the stored response; a different answer to
    an answered trial is refused. Returns (response, created)."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise MetamerError("an idempotency key of 1 to 64 characters is needed", field="idempotency_key")
    clean_text(idempotency_key, field="idempotency_key", max_length=64)
    key = survey_answer_key(assignment.survey_id, assignment.survey.uuid, assignment.survey.n_trials).get(trial_id)
    if key is None:
        raise MetamerError("no such trial in this survey", field="trial")
    unchecked = assignment.status_unchecked
    if unchecked or assignment.status == Assignment.Status.STARTED:
        score = assignment.survey.spec.score(*key, answer)
        fields = {
            "trial_id": trial_id,
            "answer": answer,
            "correct": None if score is None else score == 1.0,
            "score": score,
            "response_ms": response_ms,
            "idempotency_key": idempotency_key,
            "viewing": viewing or {},
            "presented": _presented(assignment, trial_id, answer),
        }
    repeat = False
    if unchecked:
        stored, status, before = _insert_if_started(assignment, fields)
        if stored is not None:
            if before + 1 >= assignment_total(assignment):
                # Every other answer was stored before this one: no need to count them again.
                assignment_forget(assignment.token)
                assignment_submit(assignment=assignment)
            return stored, True
        # Not stored: a repeat, or the assignment is no longer started; the same statement read
        # which, and how many answers it has, so a retry costs one more read, not four.
        assignment.status, assignment.n_answered, assignment.status_unchecked = status, before, False
        if status != Assignment.Status.STARTED:
            assignment_forget(assignment.token)
        repeat = status == Assignment.Status.STARTED
    if assignment.status == Assignment.Status.EXPIRED:
        raise MetamerError("your time for this survey ran out; no more answers are taken", code="conflict")
    if assignment.status == Assignment.Status.STARTED and not repeat:
        try:
            # Insert first: the unique constraints catch a repeat, so a first answer (the common
            # case) costs no lookup. In autocommit the insert is its own transaction; inside a
            # caller's transaction a savepoint keeps a caught repeat from breaking it.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                response = Response.objects.create(assignment=assignment, **fields)
        except IntegrityError:
            pass  # this trial was answered, or this key used: see below
        else:
            # An assignment read with its answer count (``selectors.assignment_for_answer``, as on
            # every answer from a page) skips the count unless this answer can be the last; two
            # answers racing past that check are submitted when the page next asks what is left.
            before = assignment.n_answered
            if before is None:
                assignment_finish(assignment=assignment)
            elif before + 1 >= assignment_total(assignment):
                assignment_submit(assignment=assignment)  # the others were stored before it was read
            return response, True
    # A repeat (a retry gets the stored answer, even after the last answer submitted the
    # assignment; a changed answer is refused), or an answer after submission.
    matches = list(
        Response.objects.filter(Q(trial_id=trial_id) | Q(idempotency_key=idempotency_key), assignment=assignment)[:2]
    )
    previous = next((r for r in matches if r.trial_id == trial_id), matches[0] if matches else None)
    if previous is None:
        raise MetamerError("this assignment has been submitted; no more answers are taken", code="conflict")
    stored = _same_or_conflict(previous, trial_id, answer)
    # The first reply to the last answer may have been lost before the submission was stored
    # (a crash): the retry finishes the job. (An answer count read before this answer's first
    # copy was stored may be one short; that first copy then finished the job itself.)
    answered = assignment.n_answered
    if answered is None or answered >= assignment_total(assignment):
        assignment_finish(assignment=assignment)
    return stored


def _insert_if_started(assignment: Assignment, fields: dict[str, Any]) -> tuple[Response | None, str, int]:
    """PostgreSQL, in one round trip: store the answer if the assignment is still started and
    neither its trial nor its key was used (the unique constraints decide, as for any insert),
    and read the assignment's status and its answers before this one. Returns (the response, or
    None when nothing was stored; the status; answers before). Raw, because this statement is
    the whole cost of a first answer."""
    sql, json_columns = _insert_if_started_sql(tuple(fields))
    params = [
        assignment.pk,
        *(json.dumps(v) if c in json_columns else v for c, v in fields.items()),
        timezone.now(),
        assignment.pk,
        Assignment.Status.STARTED,
        assignment.pk,
        assignment.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        response_id, status, before = cursor.fetchone()
    stored = None if response_id is None else Response(pk=response_id, assignment=assignment, **fields)
    return stored, status, before


@functools.cache
def _insert_if_started_sql(fields: tuple[str, ...]) -> tuple[str, frozenset[str]]:
    """The statement of ``_insert_if_started`` for these columns (built once per process), and
    which of them are JSON."""
    quote = connection.ops.quote_name
    responses, assignments = quote(Response._meta.db_table), quote(Assignment._meta.db_table)
    columns = ["assignment_id", *fields, "created_at"]
    by_column = {f.attname: f for f in Response._meta.concrete_fields}
    # Typed placeholders: an untyped NULL in a SELECT list would be read as text.
    values = ", ".join(f"%s::{by_column[c].cast_db_type(connection)}" for c in columns)
    sql = (
        f"WITH inserted AS (INSERT INTO {responses} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {values} WHERE EXISTS (SELECT 1 FROM {assignments} WHERE {quote('id')} = %s "
        f"AND {quote('status')} = %s) ON CONFLICT DO NOTHING RETURNING {quote('id')}) "
        f"SELECT (SELECT {quote('id')} FROM inserted), "
        f"(SELECT {quote('status')} FROM {assignments} WHERE {quote('id')} = %s), "
        f"(SELECT COUNT(*) FROM {responses} WHERE {quote('assignment_id')} = %s)"
    )
    return sql, frozenset(c for c in columns if by_column[c].get_internal_type() == "JSONField")


def assignment_finish(*, assignment: Assignment) -> bool:
    """Submit a started assignment whose every trial has an answer; True when it is submitted."""
    if assignment.status != Assignment.Status.STARTED:
        return assignment.status in Assignment.COUNTED
    answered, total = assignment_progress(assignment)
    if answered < total:
        return False
    assignment_submit(assignment=assignment)
    return True


def _presented(assignment: Assignment, trial_id: int, answer: Any) -> dict[str, Any]:
    """Position (1-based), sides or column/row order, and the answer as clicked."""
    for position, entry in enumerate(assignment_presentations(assignment), start=1):
        if entry["trial"] == trial_id:
            layout = assignment.survey.spec.layout
            return {**entry, "position": position, "answer_shown": layout.to_shown(entry, answer)}
    return {}


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
    if updated:
        _adaptive_round_due(assignment.survey)
    return assignment


def _adaptive_round_due(survey: Survey) -> None:
    """In adaptive mode, every ``adaptive_every``-th submission queues a round, so the workers
    who start after it are asked what the answers so far leave least sure."""
    if not survey.spec.adaptive or not survey.adaptive_every:
        return
    submitted = Assignment.objects.filter(survey=survey, status__in=Assignment.COUNTED).count()
    if submitted % survey.adaptive_every == 0:
        from surveys.tasks import adaptive_round  # tasks import services: resolved at call time

        transaction.on_commit(lambda: _enqueue(adaptive_round, survey.pk))


def assignment_practice_record(*, assignment: Assignment, index: int) -> int:
    """Count practice question ``index`` (0-based) as done; a repeat of it (a reload, a second
    click) changes nothing. Practice answers are not data: only how far the worker got is kept.
    Returns the practice questions now done."""
    if assignment.status != Assignment.Status.STARTED:
        raise MetamerError("this assignment is not open for answers any more", code="conflict")
    Assignment.objects.filter(pk=assignment.pk, practice_done=index).update(practice_done=index + 1)
    assignment.refresh_from_db(fields=["practice_done"])
    return assignment.practice_done


def assignment_exit_record(*, assignment: Assignment, answers: dict[str, str]) -> Assignment:
    """Store a submitted worker's answers to the exit questions (``{}``: skipped), once: a
    second post (a retry) keeps the first answers."""
    if assignment.status not in Assignment.COUNTED:
        raise MetamerError("the exit questions come after the last trial", code="conflict")
    Assignment.objects.filter(pk=assignment.pk, exit_answers__isnull=True).update(exit_answers=answers)
    assignment.refresh_from_db(fields=["exit_answers"])
    return assignment
