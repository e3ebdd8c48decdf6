"""Writes for surveys: assembling trials, starting assignments, recording answers."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from analysis.services import trial_lpips_choices_compute
from inversion.models import IRI, InversionJob, Stimulus, Target
from inversion.selectors import survey_ready_iris
from metamer.errors import MetamerError
from surveys.models import Assignment, Participant, Payment, Publication, Response, Study, Survey, Trial, TrialSlot
from surveys.selectors import assignment_progress, recruiter_fee_rate, survey_answer_key


@dataclass
class _Plan:
    """One trial before it is stored."""

    job: InversionJob
    slots: list[tuple[str, Stimulus]]
    correct: Any
    iri: IRI | None = None
    is_check: bool = False
    check_row: int | None = None


@transaction.atomic
def survey_assemble(
    *,
    study: Study,
    name: str,
    jobs: Sequence[InversionJob],
    kind: str = Survey.Kind.TWO_AFC,
    n_trials: int | None = 100,
    n_attention_checks: int | None = None,
    seed: int = 0,
    include_unconverged: bool = False,
    workers_per_survey: int = 3,
    similarity: np.ndarray | None = None,
    similarity_name: str = "",
) -> Survey:
    """Build a survey from one or many IRI sets, mixed and shuffled so that no worker can tell
    which model made a trial. Every random choice comes from ``seed``.

    2AFC: per IRI, the query ``xr`` with options ``xt`` and ``x0`` in random order.
    Clustering: three targets as columns, their IRIs (two each) as rows; random targets, or for
    ``cluster-hard`` an anchor and its two most similar targets under ``similarity`` (a matrix
    over the target set, e.g. ImageNet-HSJ) or, failing that, LPIPS (alex-lin) similarity.
    Attention checks go at random positions: by default 5 per 100 trials, at least one.
    ``n_trials=None`` uses every usable IRI (or target triple).
    """
    if kind not in Survey.Kind.values:
        raise MetamerError(f"unknown survey kind {kind!r}; choose one of {', '.join(Survey.Kind.values)}", field="kind")
    if not jobs:
        raise MetamerError("choose at least one inversion job (IRI set)", field="jobs")
    unfinished = [j.pk for j in jobs if j.status != InversionJob.Status.DONE]
    if unfinished:
        raise MetamerError(f"inversion jobs {unfinished} have not finished", field="jobs")
    iris = list(survey_ready_iris(jobs, include_unconverged=include_unconverged).order_by("pk"))
    if not iris:
        raise MetamerError("no converged IRIs in these jobs: run more steps, or allow unconverged IRIs", field="jobs")
    rng = random.Random(seed)
    source = ""
    if kind == Survey.Kind.TWO_AFC:
        plans = _plan_2afc(iris, rng)
    else:
        hard = kind == Survey.Kind.CLUSTER_HARD
        if hard:
            source = similarity_name or "LPIPS alex-lin distances between the targets"
        plans = _plan_clustering(iris, rng, similarity if hard else None, hard=hard)
    if n_trials is not None:
        if n_trials > len(plans):
            raise MetamerError(
                f"asked for {n_trials} trials but only {len(plans)} can be built from these IRIs", field="n_trials"
            )
        plans = plans[:n_trials]
    n_checks = max(1, round(len(plans) * 0.05)) if n_attention_checks is None else n_attention_checks
    for plan in [_attention_check(p, rng) for p in rng.choices(plans, k=n_checks)]:
        plans.insert(rng.randint(0, len(plans)), plan)
    survey = Survey.objects.create(
        study=study,
        name=name,
        kind=kind,
        seed=seed,
        n_trials=len(plans) - n_checks,
        n_attention_checks=n_checks,
        include_unconverged=include_unconverged,
        workers_per_survey=workers_per_survey,
        similarity_source=source,
    )
    survey.jobs.set(jobs)
    for position, plan in enumerate(plans):
        trial = Trial.objects.create(
            survey=survey,
            position=position,
            job=plan.job,
            iri=plan.iri,
            is_attention_check=plan.is_check,
            correct=plan.correct,
            check_row=plan.check_row,
        )
        counts: dict[str, int] = {}
        for role, stimulus in plan.slots:
            TrialSlot.objects.create(trial=trial, role=role, index=counts.get(role, 0), stimulus=stimulus)
            counts[role] = counts.get(role, 0) + 1
    # Every trial carries the simulated humans' answers from the start, so agreement is live.
    trial_lpips_choices_compute(survey=survey)
    return survey


def _plan_2afc(iris: list[IRI], rng: random.Random) -> list[_Plan]:
    rng.shuffle(iris)
    plans = []
    for iri in iris:
        options = [iri.target.stimulus, iri.seed]
        correct = rng.randrange(2)
        if correct == 1:
            options.reverse()
        slots = [(TrialSlot.Role.QUERY, iri.stimulus)] + [(TrialSlot.Role.OPTION, o) for o in options]
        plans.append(_Plan(job=iri.job, slots=slots, correct=correct, iri=iri))
    return plans


def _plan_clustering(iris: list[IRI], rng: random.Random, similarity: np.ndarray | None, *, hard: bool) -> list[_Plan]:
    by_job: dict[int, dict[Target, list[IRI]]] = {}
    for iri in iris:
        by_job.setdefault(iri.job_id, {}).setdefault(iri.target, []).append(iri)
    triples = []
    for per_target in by_job.values():
        eligible = sorted((t for t, its in per_target.items() if len(its) >= 2), key=lambda t: t.index)
        if hard:
            matrix = _similarity_for(eligible, similarity)
            groups = _similar_triples(eligible, matrix, rng)
        else:
            rng.shuffle(eligible)
            groups = [eligible[i : i + 3] for i in range(0, len(eligible) - 2, 3)]
        triples += [[(t, sorted(per_target[t], key=lambda i: i.seed_index)[:2]) for t in g] for g in groups]
    if not triples:
        raise MetamerError(
            "clustering needs at least 3 targets with 2 IRIs each in one job: run it with seeds_per_target=2",
            field="jobs",
        )
    rng.shuffle(triples)
    plans = []
    for triple in triples:
        rng.shuffle(triple)
        rows = [(iri, column) for column, (_, its) in enumerate(triple) for iri in its]
        rng.shuffle(rows)
        slots = [(TrialSlot.Role.COLUMN, t.stimulus) for t, _ in triple]
        slots += [(TrialSlot.Role.ROW, iri.stimulus) for iri, _ in rows]
        plans.append(_Plan(job=rows[0][0].job, slots=slots, correct=[c for _, c in rows]))
    return plans


def _similarity_for(targets: list[Target], uploaded: np.ndarray | None) -> np.ndarray:
    """Similarity between these targets: the uploaded matrix (indexed by target index) or LPIPS."""
    if uploaded is not None:
        index = [t.index for t in targets]
        return uploaded[np.ix_(index, index)]
    from analysis.perceptual import pairwise_lpips

    return -pairwise_lpips([t.stimulus.image.path for t in targets])


def _similar_triples(targets: list[Target], similarity: np.ndarray, rng: random.Random) -> list[list[Target]]:
    """An anchor drawn at random and its two most similar targets still unused, until < 3 remain."""
    remaining = list(range(len(targets)))
    groups = []
    while len(remaining) >= 3:
        anchor = rng.choice(remaining)
        others = sorted((i for i in remaining if i != anchor), key=lambda i: -similarity[anchor, i])[:2]
        group = [anchor, *others]
        groups.append([targets[i] for i in group])
        remaining = [i for i in remaining if i not in group]
    return groups


def _attention_check(plan: _Plan, rng: random.Random) -> _Plan:
    """A copy of a trial in which one answer is obvious: the query (2AFC) or one row
    (clustering) is the very same image as one of the options or columns."""
    if plan.iri is not None:
        target = plan.iri.target.stimulus
        slots = [(TrialSlot.Role.QUERY, target), *plan.slots[1:]]
        return _Plan(job=plan.job, slots=slots, correct=plan.correct, is_check=True)
    columns = [s for s in plan.slots if s[0] == TrialSlot.Role.COLUMN]
    rows = [s for s in plan.slots if s[0] == TrialSlot.Role.ROW]
    row, column = rng.randrange(len(rows)), rng.randrange(len(columns))
    rows[row] = (TrialSlot.Role.ROW, columns[column][1])
    correct = list(plan.correct)
    correct[row] = column
    return _Plan(job=plan.job, slots=columns + rows, correct=correct, is_check=True, check_row=row)


def similarity_matrix_load(*, data: bytes, filename: str, n_targets: int) -> np.ndarray:
    """A researcher's similarity matrix (CSV or NPY) over a target set, checked for shape."""
    try:
        if filename.lower().endswith(".npy"):
            matrix = np.load(io.BytesIO(data), allow_pickle=False)
        else:
            matrix = np.loadtxt(io.StringIO(data.decode()), delimiter=",")
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise MetamerError(f"{filename}: not a numeric CSV or NPY matrix ({exc})", field="similarity") from None
    if matrix.shape != (n_targets, n_targets):
        raise MetamerError(
            f"{filename}: the matrix is {matrix.shape} but the target set has {n_targets} images; "
            f"it must be {n_targets}×{n_targets}, in target index order",
            field="similarity",
        )
    return matrix.astype(np.float64)


def survey_open(*, survey: Survey) -> Survey:
    if survey.status != Survey.Status.DRAFT:
        raise MetamerError(f"the survey is {survey.status}; only a draft can be opened", code="conflict")
    survey.status = Survey.Status.OPEN
    survey.save(update_fields=["status"])
    return survey


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
        from surveys.tasks import mark_participant_started

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


# Recruitment: publishing, syncing, reviewing and paying, the same for every recruiter.


@dataclass(frozen=True)
class Budget:
    rewards_cents: int
    fee_cents: int
    total_cents: int
    lines: list[str]

    def __str__(self) -> str:
        return "; ".join(self.lines) + f". Total {self.total_cents / 100:.2f}"


def _recruiter(study: Study):
    from surveys.recruitment import recruiter_for

    return recruiter_for(study)


def study_budget(*, study: Study) -> Budget:
    """What publishing the study's unpublished surveys costs: reward × places + the fee (no
    recruiter credentials needed)."""
    rewards = fee = 0
    lines = []
    for survey in study.surveys.filter(publication__isnull=True).order_by("pk"):
        places = survey.workers_per_survey
        reward = survey.reward_cents if study.recruiter != Study.Recruiter.LINKS else 0
        rate = recruiter_fee_rate(study, places)
        survey_fee = round(places * reward * rate)
        rewards += places * reward
        fee += survey_fee
        lines.append(f"{survey.name}: {places} × {reward / 100:.2f} + fee {survey_fee / 100:.2f} ({rate:.1%})")
    return Budget(rewards, fee, rewards + fee, lines or ["nothing left to publish"])


def _request_token(kind: str, *parts: object) -> str:
    """Deterministic, at most 64 characters: a retried call carries the same token."""
    return "-".join(["metamer", kind, *map(str, parts)])[:64]


def study_publish(*, study: Study, base_url: str, confirm: bool = False, recruiter=None) -> list[Publication]:
    """Put every survey of the study before the recruiter's workers. Without ``confirm`` it
    only refuses, stating the cost. Safe to run again after a failure midway: each survey's
    publication carries a deterministic request token, so nothing is created twice."""
    recruiter = recruiter or _recruiter(study)
    budget = study_budget(study=study)
    spent = sum(Publication.objects.filter(survey__study=study).values_list("cost_cents", flat=True))
    if study.budget_cents is not None and spent + budget.total_cents > study.budget_cents:
        raise MetamerError(
            f"publishing costs {budget.total_cents / 100:.2f} on top of {spent / 100:.2f} already committed, over the "
            f"study's budget of {study.budget_cents / 100:.2f}: raise the budget or publish fewer places",
            field="budget_cents",
        )
    if not confirm and budget.total_cents:
        raise MetamerError(f"publishing costs {budget}; confirm to go ahead", code="confirm")
    publications = []
    for survey in study.surveys.order_by("pk"):
        if not survey.trials.exists():
            raise MetamerError(f"{survey.name} has no trials", field="surveys")
        places = survey.workers_per_survey
        publication, _ = Publication.objects.get_or_create(
            survey=survey,
            defaults={
                "recruiter": study.recruiter,
                "request_token": _request_token("hit", study.pk, survey.pk, survey.uuid.hex[:12]),
                "places": places,
                "reward_cents": survey.reward_cents,
                "cost_cents": round(places * survey.reward_cents * (1 + recruiter_fee_rate(study, places))),
            },
        )
        if publication.status == Publication.Status.CREATING:
            if survey.status == Survey.Status.DRAFT:
                survey_open(survey=survey)
            url = f"{base_url.rstrip('/')}/s/{survey.uuid}/"
            try:
                recruiter.publish(publication, survey, url)
            finally:
                # Whatever the recruiter already made is remembered, even if a later step failed.
                publication.save(update_fields=["external_id", "external_type_id"])
            publication.status = Publication.Status.PUBLISHED
            publication.save(update_fields=["status"])
        publications.append(publication)
    return publications


def study_sync(*, study: Study, recruiter=None) -> dict[str, int]:
    """Cross-check Metamer's assignments against the recruiter's record. Metamer's stored
    answers are the source of truth; the recruiter's status is kept beside them."""
    recruiter = recruiter or _recruiter(study)
    counts = {"remote": 0, "matched": 0, "unknown": 0}
    for publication in Publication.objects.filter(survey__study=study).exclude(status=Publication.Status.CREATING):
        assignments = list(publication.survey.assignments.select_related("participant"))
        by_id = {a.recruiter_data.get("assignmentId"): a for a in assignments if a.recruiter_data.get("assignmentId")}
        by_worker = {a.participant.external_id: a for a in assignments}
        for remote in recruiter.submissions(publication):
            counts["remote"] += 1
            assignment = by_id.get(remote.external_id) or by_worker.get(remote.worker_id)
            if assignment is None:
                counts["unknown"] += 1  # submitted there without answering here: nothing to pay for
                continue
            counts["matched"] += 1
            assignment.recruiter_status = remote.status
            if study.recruiter == Study.Recruiter.PROLIFIC:
                assignment.recruiter_data = {**assignment.recruiter_data, "submission_id": remote.external_id}
            assignment.save(update_fields=["recruiter_status", "recruiter_data"])
    return counts


def _passed_checks(assignment: Assignment) -> bool:
    return not assignment.responses.filter(trial__is_attention_check=True, correct=False).exists()


REJECTION_FEEDBACK = (
    "Your submission failed the attention checks in this survey: in those questions one image was identical to "
    "the reference, and a different one was chosen. We are sorry, but we cannot use the answers."
)


def study_review(*, study: Study, confirm: bool = False, recruiter=None) -> dict[str, int]:
    """Apply the study's review policy to every submitted assignment. The default approves and
    pays everyone who finished (check failures are only left out of the analysis); rejecting
    failures is an opt-in. Moves money, so without ``confirm`` it refuses, stating the cost."""
    recruiter = recruiter or _recruiter(study)
    pending = list(
        Assignment.objects.filter(survey__study=study, status=Assignment.Status.SUBMITTED).select_related(
            "participant", "survey__study"
        )
    )
    reject = {
        a.pk for a in pending if study.review_policy == Study.ReviewPolicy.REJECT_FAILURES and not _passed_checks(a)
    }
    to_pay = [a for a in pending if a.pk not in reject]
    cost = sum(a.survey.reward_cents for a in to_pay) if study.recruiter != Study.Recruiter.LINKS else 0
    if not confirm and cost:
        raise MetamerError(
            f"approving {len(to_pay)} assignments pays {cost / 100:.2f} in rewards (plus the recruiter's fee), "
            f"and rejects {len(reject)}; confirm to go ahead",
            code="confirm",
        )
    counts = {"approved": 0, "rejected": 0}
    for assignment in pending:
        if assignment.pk in reject:
            recruiter.reject(assignment, REJECTION_FEEDBACK)
            assignment.status = Assignment.Status.REJECTED
            counts["rejected"] += 1
        else:
            recruiter.approve(assignment)
            assignment.status = Assignment.Status.APPROVED
            counts["approved"] += 1
        assignment.save(update_fields=["status"])
    return counts


def assignment_approve(*, assignment: Assignment, confirm: bool = False, recruiter=None) -> Assignment:
    """Approve one submitted assignment: the recruiter pays its reward."""
    if assignment.status != Assignment.Status.SUBMITTED:
        raise MetamerError(
            f"only a submitted assignment can be approved; this one is {assignment.status}", code="conflict"
        )
    reward = assignment.survey.reward_cents if assignment.survey.study.recruiter != Study.Recruiter.LINKS else 0
    if reward and not confirm:
        raise MetamerError(
            f"approving pays {reward / 100:.2f} to {assignment.participant}; confirm to go ahead", code="confirm"
        )
    (recruiter or _recruiter(assignment.survey.study)).approve(assignment)
    assignment.status = Assignment.Status.APPROVED
    assignment.save(update_fields=["status"])
    return assignment


def assignment_reject(*, assignment: Assignment, feedback: str, recruiter=None) -> Assignment:
    """Reject one submitted assignment, telling the worker why (it hurts their record)."""
    if assignment.status != Assignment.Status.SUBMITTED:
        raise MetamerError(
            f"only a submitted assignment can be rejected; this one is {assignment.status}", code="conflict"
        )
    if not feedback.strip():
        raise MetamerError("a rejection needs feedback telling the worker why", field="feedback")
    (recruiter or _recruiter(assignment.survey.study)).reject(assignment, feedback)
    assignment.status = Assignment.Status.REJECTED
    assignment.save(update_fields=["status"])
    return assignment


def participant_block(*, assignment: Assignment, reason: str, recruiter=None) -> Assignment:
    """Keep a worker out of the recruiter's future tasks (MTurk's worker block)."""
    if not reason.strip():
        raise MetamerError("a block needs a reason", field="reason")
    (recruiter or _recruiter(assignment.survey.study)).block(assignment, reason)
    return assignment_flag(assignment=assignment, note=f"blocked: {reason}")


def assignment_flag(*, assignment: Assignment, note: str) -> Assignment:
    """Mark an assignment for a closer look; no money moves."""
    assignment.flagged = True
    assignment.review_note = note
    assignment.save(update_fields=["flagged", "review_note"])
    return assignment


def assignment_bonus(
    *, assignment: Assignment, amount_cents: int, reason: str, confirm: bool = False, recruiter=None
) -> Payment:
    """Pay a bonus once. The payment is recorded with its request token before the call, so a
    retry after a lost answer sends the same token and the recruiter pays once."""
    if amount_cents <= 0 or not reason.strip():
        raise MetamerError("a bonus needs a positive amount and a reason the worker will see", field="amount_cents")
    if not confirm:
        raise MetamerError(
            f"this pays {amount_cents / 100:.2f} to {assignment.participant}; confirm to go ahead", code="confirm"
        )
    recruiter = recruiter or _recruiter(assignment.survey.study)
    with transaction.atomic():
        payment = Payment.objects.filter(
            assignment=assignment, amount_cents=amount_cents, reason=reason, sent_at__isnull=True
        ).first() or Payment.objects.create(
            assignment=assignment,
            amount_cents=amount_cents,
            reason=reason,
            request_token=_request_token("bonus", assignment.pk, assignment.payments.count() + 1),
        )
    recruiter.bonus(payment)
    payment.sent_at = timezone.now()
    payment.save(update_fields=["sent_at"])
    return payment


def study_stop(*, study: Study, recruiter=None) -> int:
    """Stop recruiting: end every published HIT or study and close the surveys."""
    recruiter = recruiter or _recruiter(study)
    stopped = 0
    for publication in Publication.objects.filter(survey__study=study, status=Publication.Status.PUBLISHED):
        recruiter.stop(publication)
        publication.status = Publication.Status.STOPPED
        publication.save(update_fields=["status"])
        Survey.objects.filter(pk=publication.survey_id).update(status=Survey.Status.CLOSED)
        stopped += 1
    return stopped


def participant_started(*, assignment_id: int) -> None:
    """Tell the recruiter a worker started (MTurk: grant the 'took part' qualification)."""
    assignment = Assignment.objects.select_related("participant", "survey__study").get(pk=assignment_id)
    _recruiter(assignment.survey.study).participant_started(assignment)
