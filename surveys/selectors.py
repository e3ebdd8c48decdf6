"""Reads for surveys: what a worker sees next, and what a trial shows."""

from __future__ import annotations

import copy
import functools
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from metamer.errors import MetamerError
from surveys.kinds.checks import checks_warning, elimination_warning
from surveys.models import Assignment, AuditEntry, Response, SimilarityData, Study, Survey, SurveyLink, Trial
from surveys.recruitment import RECRUITERS, recruiter_terms


@functools.lru_cache(maxsize=256)
def survey_answer_key(survey_id: int, survey_uuid: uuid.UUID, n_trials: int) -> dict[int, tuple[Any, int | None]]:
    """Trial id → (correct answer, check row) for a survey. Trials never change once assembled
    (an adaptive round only adds some, and changes ``n_trials``), so each process reads them
    once per trial count instead of on every answer (keyed by the uuid too, which is never
    reused, unlike an id)."""
    return {
        pk: (correct, check_row)
        for pk, correct, check_row in Trial.objects.filter(survey_id=survey_id).values_list(
            "pk", "correct", "check_row"
        )
    }


def assignment_presentations(assignment: Assignment) -> list[dict[str, Any]]:
    """This worker's sequence: trial order and, per trial, sides or column/row order. (An
    assignment from before per-worker sequences sees the survey's order, unswapped.)"""
    if assignment.sequence:
        return assignment.sequence
    layout = assignment.survey.spec.layout
    return [
        layout.unchanged(pk)
        for pk in Trial.objects.filter(survey_id=assignment.survey_id).order_by("position").values_list("pk", flat=True)
    ]


@dataclass(frozen=True)
class NextTrial:
    trial: Trial
    presentation: dict[str, Any]
    position: int
    """1-based, in this worker's order."""


def assignment_next_trial(assignment: Assignment) -> NextTrial | None:
    """The worker's next unanswered trial in their own order, or None when all are answered."""
    answered = set(assignment.responses.values_list("trial_id", flat=True))
    for position, entry in enumerate(assignment_presentations(assignment), start=1):
        if entry["trial"] not in answered:
            return NextTrial(Trial.objects.select_related("survey").get(pk=entry["trial"]), entry, position)
    return None


def assignment_total(assignment: Assignment) -> int:
    """Trials plus attention checks in this worker's sequence, fixed when they started (an
    adaptive round adds trials for later workers only)."""
    if assignment.sequence:
        return len(assignment.sequence)
    return assignment.survey.n_trials + assignment.survey.n_attention_checks


def assignment_progress(assignment: Assignment) -> tuple[int, int]:
    """(answered, total) trials."""
    return assignment.responses.count(), assignment_total(assignment)


def _answers_so_far() -> RawSQL:
    # Raw, because compiling an ORM subquery costs more than running it, on every answer.
    quote = connection.ops.quote_name
    responses, assignments = quote(Response._meta.db_table), quote(Assignment._meta.db_table)
    return RawSQL(f"SELECT COUNT(*) FROM {responses} WHERE {quote('assignment_id')} = {assignments}.{quote('id')}", ())


_FOR_ANSWER = (
    Assignment.objects.select_related("survey")
    .only(
        "token",
        "status",
        "sequence",
        "survey__uuid",
        "survey__kind",
        "survey__n_trials",
        "survey__n_attention_checks",
        "survey__adaptive_every",
    )
    .annotate(n_answered=_answers_so_far())
)


_STARTED: OrderedDict[str, Assignment] = OrderedDict()
_STARTED_LOCK = threading.Lock()
STARTED_CACHE_SIZE = 4096
"""Started assignments each process remembers (least recently answered forgotten first)."""


def assignment_for_answer(token: str) -> Assignment | None:
    """The assignment an answer is for, with what saving it reads and no more (this runs on every
    answer), and ``n_answered``, its answers so far, in the same query.

    On PostgreSQL a started assignment is read once per process: what saving needs of it never
    changes once it started (its survey, its own sequence), except its status and answer count,
    which the insert itself checks and returns (``services.answers``). Such a copy comes back
    with ``status_unchecked`` set and ``n_answered`` None."""
    if connection.vendor == "postgresql":
        with _STARTED_LOCK:
            known = _STARTED.get(token)
            if known is not None:
                _STARTED.move_to_end(token)
        if known is not None:
            return _unchecked_copy(known)
    try:
        assignment = _FOR_ANSWER.get(token=token)
    except Assignment.DoesNotExist:
        return None
    if connection.vendor == "postgresql" and assignment.status == Assignment.Status.STARTED:
        with _STARTED_LOCK:
            _STARTED[token] = _unchecked_copy(assignment)
            while len(_STARTED) > STARTED_CACHE_SIZE:
                _STARTED.popitem(last=False)
    return assignment


def assignment_forget(token: str) -> None:
    """Drop a remembered assignment (it is no longer started, or its status is in doubt)."""
    with _STARTED_LOCK:
        _STARTED.pop(token, None)


def _unchecked_copy(assignment: Assignment) -> Assignment:
    unchecked = copy.copy(assignment)
    unchecked._state = copy.copy(assignment._state)  # its own state: a refresh must not touch the original
    unchecked._state.fields_cache = dict(assignment._state.fields_cache)
    unchecked.n_answered = None
    unchecked.status_unchecked = True
    return unchecked


def trial_payload(
    trial: Trial, presentation: dict[str, Any] | None = None, position: int | None = None
) -> dict[str, Any]:
    """What the worker's page needs to show a trial, in this worker's arrangement; never the
    correct answer. ``kind`` is the trial's layout (``surveys.kinds.layouts``)."""
    layout = trial.survey.spec.layout
    slots = list(trial.slots.select_related("stimulus").order_by("role", "index"))

    def images(role: str) -> list[dict[str, Any]]:
        return [
            {
                "url": s.stimulus.image.url,
                "sha256": s.stimulus.sha256,
                "width": s.stimulus.width,
                "height": s.stimulus.height,
            }
            for s in slots
            if s.role == role
        ]

    return {
        "trial": trial.pk,
        "kind": layout.name,
        "position": position or trial.position + 1,
        **layout.payload(images, presentation),
    }


def public_base_url(request: Any = None) -> str:
    """Where workers reach Metamer, without a trailing slash: ``METAMER_PUBLIC_URL`` when set,
    else the scheme and host the researcher's request came to (so the port is the one serving)."""
    if settings.METAMER_PUBLIC_URL:
        return settings.METAMER_PUBLIC_URL.rstrip("/")
    if request is None:
        raise MetamerError("set METAMER_PUBLIC_URL (where workers reach Metamer), or give the address")
    return request.build_absolute_uri("/").rstrip("/")


def survey_links(survey: Survey, base_url: str) -> list[dict[str, Any]]:
    """Each listed place of a plain-links survey: its link and its status."""
    return [
        {"survey": survey.pk, "link": f"{base_url}/s/{survey.uuid}/?link={link.token}", "status": status}
        for link, status in survey_link_statuses(survey)
    ]


def survey_link_statuses(survey: Survey) -> list[tuple[SurveyLink, str]]:
    """Each plain link of a survey with its status: unused, in progress, done or expired."""
    out = []
    for link in survey.links.select_related("assignment").order_by("pk"):
        assignment = getattr(link, "assignment", None)
        if assignment is None:
            status = "unused"
        elif assignment.status == Assignment.Status.STARTED:
            status = "in progress"
        elif assignment.status == Assignment.Status.EXPIRED:
            status = "expired"
        else:
            status = "done"
        out.append((link, status))
    return out


@dataclass(frozen=True)
class PublicationCost:
    """What putting one survey before the recruiter's workers costs (no money moves on links)."""

    places: int
    reward_cents: int
    fee_rate: float
    fee_cents: int
    total_cents: int


def publication_cost(survey: Survey) -> PublicationCost:
    """Rewards for every place plus the recruiter's fee: the one place a publication is priced
    (budget, publishing, the estimate shown in the admin and the API)."""
    study = survey.study
    places = survey.workers_per_survey
    reward = assignment_reward_cents(survey)
    rate = recruiter_terms(study).fee_rate(study, places)
    fee = round(places * reward * rate)
    return PublicationCost(places, reward, rate, fee, places * reward + fee)


def assignment_reward_cents(survey: Survey) -> int:
    """The reward one approved assignment of ``survey`` pays (0 where the recruiter moves no money)."""
    return survey.reward_cents if recruiter_terms(survey.study).pays else 0


MEASURED_FROM = 20
"""Answers needed before measured times replace the kind's typical ``seconds_per_trial``."""


def seconds_per_trial(survey: Survey) -> tuple[float, str]:
    """What a trial of ``survey`` takes, and where the figure comes from: the median response
    time of this survey's answers, else of every survey of its kind, once there are
    ``MEASURED_FROM`` of them; before that, the kind's typical figure."""
    timed = Response.objects.filter(response_ms__isnull=False, response_ms__gt=0)
    for answers, source in (
        (timed.filter(trial__survey=survey), "this survey's answers"),
        (timed.filter(trial__survey__kind=survey.kind), f"{survey.get_kind_display()} answers so far"),
    ):
        times = list(answers.order_by("-pk").values_list("response_ms", flat=True)[:2000])
        if len(times) >= MEASURED_FROM:
            return float(np.median(times)) / 1000, f"median of {len(times)} {source}"
    return float(survey.spec.seconds_per_trial), "a typical trial of this kind (no answers measured yet)"


def survey_minutes(survey: Survey, seconds: float | None = None) -> float:
    """How long a careful worker takes: the trial count (practice included) times the time a
    trial takes (``seconds``, by default ``seconds_per_trial``)."""
    trials = (survey.trials.count() or survey.n_trials + survey.n_attention_checks) + survey.n_practice
    return trials * (seconds_per_trial(survey)[0] if seconds is None else seconds) / 60


def money(cents: int, recruiter: str) -> str:
    """An amount as a worker or researcher reads it, in the recruiter's currency (``Terms.money``)."""
    return RECRUITERS[recruiter].money(cents)


def survey_estimate(survey: Survey) -> dict[str, Any]:
    """Cost (the recruiter's fee rules) and duration of one survey, before anything is spent."""
    cost = publication_cost(survey)
    seconds, measured = seconds_per_trial(survey)
    minutes = survey_minutes(survey, seconds)
    return {
        "places": cost.places,
        "reward_cents": cost.reward_cents,
        "fee_rule": recruiter_terms(survey.study).fee_rule,
        "fee_cents": cost.fee_cents,
        "total_cents": cost.total_cents,
        "estimated_minutes": round(minutes, 1),
        "seconds_per_trial": round(seconds, 1),
        "seconds_per_trial_from": measured,
        "minutes_allotted": survey.minutes_allotted,
        "hourly_rate_cents": round(cost.reward_cents / minutes * 60) if minutes and cost.reward_cents else None,
    }


def survey_build_progress(survey: Survey) -> dict[str, Any]:
    """Where a survey's build stands: its step (or, failed, why), done/total images through the
    LPIPS networks, percent and an ETA in seconds from the pace so far (None until known)."""
    done, total = survey.build_done, survey.build_total
    eta = None
    if survey.status == Survey.Status.BUILDING and survey.build_started_at and 0 < done < total:
        elapsed = (timezone.now() - survey.build_started_at).total_seconds()
        eta = round(elapsed / done * (total - done), 1)
    return {
        "status": survey.status,
        "step": survey.build_step,
        "done": done,
        "total": total,
        "percent": round(100 * done / total, 1) if total else 0.0,
        "eta_seconds": eta,
    }


def survey_design_warnings(survey: Survey) -> list[str]:
    """What lets a worker score without looking (``surveys.kinds.checks``), in numbers."""
    warnings = [checks_warning(survey.n_attention_checks, survey.spec.layout.check_chance)]
    if survey.spec.eliminable:
        trials = []
        for trial in survey.trials.filter(is_attention_check=False).prefetch_related("slots__stimulus"):
            options = sorted((s for s in trial.slots.all() if s.role == "option"), key=lambda s: s.index)
            trials.append(([s.stimulus.sha256 for s in options], trial.correct))
        warnings.append(elimination_warning(trials))
    return [w for w in warnings if w]


def ceiling_sentence(reliability: dict) -> str:
    """The Spearman ceilings of stored similarity data, each named by its comparison."""
    ceiling = reliability.get("ceiling")
    if ceiling is None:  # stored before both comparisons were kept: the per-person bounds only
        low, high = reliability.get("noise_ceiling_low"), reliability.get("noise_ceiling_high")
        return "—" if low is None else f"Spearman against each person: {low:.2f}–{high:.2f}"
    person, group = ceiling["person"]["spearman"], ceiling["group"]["spearman"]
    return (
        f"Spearman ceiling against each person {person[0]:.2f}–{person[1]:.2f}, "
        f"against the group mean {group[0]:.2f}–{group[1]:.2f}"
    )


def similarity_arrays(data: SimilarityData) -> dict[str, np.ndarray]:
    """The stored arrays: ``matrices`` (people × n × n), or ``triplets``, ``choices``,
    ``workers``; and ``group`` (``similarity_group_matrix``)."""
    with data.data.open("rb") as f, np.load(f, allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def similarity_group_matrix(data: SimilarityData) -> np.ndarray:
    """The group's n × n dissimilarities, made at import: the people's mean matrix, or, for
    triplets, the distances of an ordinal embedding (t-STE) fitted to them, which fills in pairs
    nobody was asked."""
    return similarity_arrays(data)["group"]


def _counted_answers(survey: Survey) -> tuple[list[tuple], set[str]]:
    """Answers from submitted work, in each worker's order: (worker, trial items, attention
    check, answer), and the workers left out: those who failed a check, those the researcher
    excluded (the audit log says why), and those whose consistency on repeated trials is under
    the survey's ``min_consistency``."""
    rows = list(
        Response.objects.filter(assignment__survey=survey, assignment__status__in=Assignment.COUNTED)
        .order_by("assignment_id", "trial__position")
        .values_list(
            "assignment__participant__external_id",
            "trial__items",
            "trial__is_attention_check",
            "answer",
            "correct",
            "trial__repeat_of",
        )
    )
    failed = {worker for worker, _, check, _, correct, _ in rows if check and not correct}
    failed |= set(survey.assignments.filter(excluded=True).values_list("participant__external_id", flat=True))
    if survey.min_consistency > 0:
        failed |= {w for w, c in survey_consistency(survey).items() if c["consistency"] < survey.min_consistency}
    # A repeated trial measures consistency (``survey_consistency``); its answer is not data.
    answers = [(worker, items, check, answer) for worker, items, check, answer, _, repeat in rows if repeat is None]
    return answers, failed


def survey_consistency(survey: Survey) -> dict[str, dict[str, float | int]]:
    """Per worker (submitted work): how many repeated trials they answered both times, the
    share answered alike (``Layout.alike``: the same choice, ratings within one point), and whether
    that share keeps them in the data (``Survey.min_consistency``)."""
    counted = Response.objects.filter(assignment__survey=survey, assignment__status__in=Assignment.COUNTED)
    answers = {
        (worker, trial): answer
        for worker, trial, answer in counted.values_list("assignment__participant__external_id", "trial_id", "answer")
    }
    pairs = survey.trials.filter(repeat_of__isnull=False).values_list("pk", "repeat_of_id")
    out: dict[str, dict[str, float | int]] = {}
    for worker in {w for w, _ in answers}:
        both = [
            (answers[worker, o], answers[worker, r])
            for r, o in pairs
            if (worker, r) in answers and (worker, o) in answers
        ]
        if both:
            alike = sum(survey.spec.layout.alike(a, b) for a, b in both)
            share = alike / len(both)
            out[worker] = {"repeats": len(both), "consistency": share, "kept": share >= survey.min_consistency}
    return out


def survey_ratings(survey: Survey) -> list[dict[str, Any]]:
    """A rating survey's answers from submitted work: the worker, the pair's image-set indices
    ``i, j``, the ``rating`` (0: not alike at all, 10: the same), whether it was an attention
    check and whether that worker passed every check."""
    rows, failed = _counted_answers(survey)
    return [
        {
            "worker": worker,
            "i": items[0],
            "j": items[1],
            "rating": answer,
            "attention_check": check,
            "passed_checks": worker not in failed,
        }
        for worker, items, check, answer in rows
    ]


def survey_triplets(survey: Survey) -> list[dict[str, Any]]:
    """A triplet or odd-one-out survey's answers from submitted work as triplets: the worker,
    the image-set indices ``i, j, k`` and ``choice`` (1: the worker found ``i`` closer to
    ``j`` than to ``k``), whether it was an attention check and whether that worker passed
    every check. A triplet trial gives one (reference, first option, second option in the
    survey's own order); an odd-one-out answer gives two: each of the two images kept is closer
    to the other than to the odd one (nothing is said about the odd one's own neighbour)."""
    rows, failed = _counted_answers(survey)
    to_triplets = survey.spec.to_triplets
    out = []
    for worker, items, check, answer in rows:
        flags = {"attention_check": check, "passed_checks": worker not in failed}
        for i, j, k, choice in to_triplets(items, answer):
            out.append({"worker": worker, "i": i, "j": j, "k": k, "choice": choice, **flags})
    return out


def study_audit(study: Study) -> list[dict[str, Any]]:
    """Every later decision in a study, oldest first: when, who, what, about which worker and
    survey, why, and the decision's details (JSON)."""
    entries = AuditEntry.objects.filter(study=study).select_related("assignment__participant", "assignment__survey")
    return [
        {
            "when": e.created_at.isoformat(timespec="seconds"),
            "actor": e.actor,
            "action": e.action,
            "worker": e.assignment.participant.external_id if e.assignment else "",
            "survey": e.assignment.survey.name if e.assignment else "",
            "reason": e.reason,
            "details": json.dumps(e.details, sort_keys=True),
        }
        for e in entries
    ]
