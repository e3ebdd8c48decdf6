"""Assembling surveys: 2AFC and clustering trials from IRI sets, triplet trials from any image
set, attention checks, and the simulated participants' (LPIPS variants') answer on every IRI
trial."""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from inversion.models import IRI, InversionJob, LpipsJudgement, Stimulus, Target, TargetSet
from inversion.selectors import stimulus_tensor, survey_ready_iris
from metamer.errors import MetamerError
from science import similarity as sim
from science.alignment import n_triplets
from science.perceptual import VARIANTS, load_lpips, lpips_pairs, pairwise_lpips
from surveys.models import Study, Survey, Trial, TrialLpipsChoice, TrialSlot
from surveys.selectors import survey_triplets


@dataclass
class _Plan:
    """One trial before it is stored."""

    job: InversionJob
    slots: list[tuple[str, Stimulus]]
    correct: Any
    iri: IRI | None = None
    is_check: bool = False
    check_row: int | None = None


@dataclass(frozen=True)
class SurveyDesign:
    """A checked survey design: its trials planned, nothing stored yet."""

    plans: list[_Plan]
    n_checks: int
    similarity_source: str


LPIPS_MIN_SIZE = 32
"""Smallest image AlexNet-LPIPS can judge (smaller ones pool to nothing)."""

ALL_TRIPLETS_UP_TO = 2000
"""Image sets with at most this many distinct triplets are asked all of them by default."""


def survey_assemble_check(
    *,
    jobs: Sequence[InversionJob] = (),
    kind: str = Survey.Kind.TWO_AFC,
    n_trials: int | None = 100,
    n_attention_checks: int | None = None,
    seed: int = 0,
    include_unconverged: bool = False,
    similarity: np.ndarray | None = None,
    similarity_name: str = "",
    image_set: TargetSet | None = None,
) -> SurveyDesign:
    """Plan a survey's trials or say why it cannot be built, storing nothing (see
    ``survey_assemble``)."""
    if kind not in Survey.Kind.values:
        raise MetamerError(f"unknown survey kind {kind!r}; choose one of {', '.join(Survey.Kind.values)}", field="kind")
    if kind in Survey.IMAGE_SET_KINDS:
        _check_triplet_request(jobs, image_set, kind)
        _, checks, _ = survey_triplets_plan(
            image_set=image_set, n_trials=n_trials, seed=seed, n_attention_checks=n_attention_checks, kind=kind
        )
        return SurveyDesign(plans=[], n_checks=len(checks), similarity_source="")
    if image_set is not None:
        raise MetamerError(
            "only triplet and odd-one-out surveys ask about an image set; IRI surveys take inversion jobs",
            field="image_set",
        )
    if not jobs:
        raise MetamerError("choose at least one inversion job (IRI set)", field="jobs")
    unfinished = [j.pk for j in jobs if j.status != InversionJob.Status.DONE]
    if unfinished:
        raise MetamerError(f"inversion jobs {unfinished} have not finished", field="jobs")
    iris = list(survey_ready_iris(jobs, include_unconverged=include_unconverged).order_by("pk"))
    if not iris:
        raise MetamerError("no converged IRIs in these jobs: run more steps, or allow unconverged IRIs", field="jobs")
    smallest = min(min(i.stimulus.width, i.stimulus.height) for i in iris)
    if smallest < LPIPS_MIN_SIZE:
        raise MetamerError(
            f"the simulated participants (LPIPS) need images of at least {LPIPS_MIN_SIZE}×{LPIPS_MIN_SIZE} px "
            f"(AlexNet's pooling), and these jobs' images are {smallest}×{smallest}: invert at a larger input size",
            field="jobs",
        )
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
    return SurveyDesign(plans=plans, n_checks=n_checks, similarity_source=source)


@transaction.atomic
def survey_assemble(
    *,
    study: Study,
    name: str,
    jobs: Sequence[InversionJob] = (),
    kind: str = Survey.Kind.TWO_AFC,
    n_trials: int | None = 100,
    n_attention_checks: int | None = None,
    seed: int = 0,
    include_unconverged: bool = False,
    workers_per_survey: int = 3,
    reward_cents: int | None = None,
    minutes_allotted: int | None = None,
    similarity: np.ndarray | None = None,
    similarity_name: str = "",
    image_set: TargetSet | None = None,
    n_repeats: int = 0,
    min_consistency: float = 0.0,
    adaptive_every: int = 0,
    adaptive_trials: int = 10,
) -> Survey:
    """Build a survey from one or many IRI sets (or, for ``kind="triplet"``, from ``image_set``:
    ``survey_assemble_triplets``), mixed and shuffled so that no worker can tell
    which model made a trial. Every random choice comes from ``seed``.

    2AFC: per IRI, the query ``xr`` with options ``xt`` and ``x0`` in random order.
    Clustering: three targets as columns, their IRIs (two each) as rows; random targets, or for
    ``cluster-hard`` an anchor and its two most similar targets under ``similarity`` (a matrix
    over the target set, e.g. ImageNet-HSJ) or, failing that, LPIPS (alex-lin) similarity.
    Attention checks go at random positions: by default 5 per 100 trials, at least one.
    ``n_trials=None`` uses every usable IRI (or target triple). Pay and time allowed take the
    model's defaults when not given.
    """
    if kind in Survey.IMAGE_SET_KINDS:  # planned once, by survey_assemble_triplets
        _check_triplet_request(jobs, image_set, kind)
        return survey_assemble_triplets(
            n_repeats=n_repeats,
            min_consistency=min_consistency,
            adaptive_every=adaptive_every,
            adaptive_trials=adaptive_trials,
            kind=kind,
            study=study,
            name=name,
            image_set=image_set,
            n_trials=n_trials,
            n_attention_checks=n_attention_checks,
            seed=seed,
            workers_per_survey=workers_per_survey,
            reward_cents=reward_cents,
            minutes_allotted=minutes_allotted,
        )
    if n_repeats or min_consistency:
        raise MetamerError("repeated trials are for triplet, odd-one-out and rating surveys", field="n_repeats")
    if adaptive_every:
        raise MetamerError("adaptive rounds ask triplets: choose a triplet survey", field="adaptive_every")
    design = survey_assemble_check(
        jobs=jobs,
        kind=kind,
        n_trials=n_trials,
        n_attention_checks=n_attention_checks,
        seed=seed,
        include_unconverged=include_unconverged,
        similarity=similarity,
        similarity_name=similarity_name,
        image_set=image_set,
    )
    pay = {"reward_cents": reward_cents, "minutes_allotted": minutes_allotted}
    survey = Survey.objects.create(
        study=study,
        name=name,
        kind=kind,
        seed=seed,
        n_trials=len(design.plans) - design.n_checks,
        n_attention_checks=design.n_checks,
        include_unconverged=include_unconverged,
        workers_per_survey=workers_per_survey,
        similarity_source=design.similarity_source,
        **{key: value for key, value in pay.items() if value is not None},
    )
    survey.jobs.set(jobs)
    for position, plan in enumerate(design.plans):
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
    # Every trial carries the simulated participants' answers from the start, so agreement is live.
    trial_lpips_choices_compute(survey=survey)
    return survey


def _check_triplet_request(jobs: Sequence[InversionJob], image_set: TargetSet | None, kind: str) -> None:
    if image_set is None or jobs:
        what = {Survey.Kind.ODD_ONE_OUT: "an odd-one-out", Survey.Kind.RATING: "a rating"}.get(kind, "a triplet")
        raise MetamerError(
            f"{what} survey asks about an image set: choose one, and no inversion jobs", field="image_set"
        )


def survey_triplets_plan(
    *,
    image_set: TargetSet,
    n_trials: int | None,
    seed: int,
    n_attention_checks: int | None = None,
    kind: str = Survey.Kind.TRIPLET,
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int, int]], str]:
    """The triplets a triplet survey asks (reference, option 0, option 1 as image-set indices)
    and its attention checks (reference, option 0, option 1, the option that is the reference
    itself), or why it cannot be built; stores nothing. Every triplet when the set is small
    and no number is given; otherwise ``n_trials`` distinct ones drawn uniformly.

    ``kind="odd-one-out"``: sets of three images instead (in a random order) and checks that
    show one image twice beside another (the last element: the position of the odd one).
    ``kind="rating"``: pairs (in a random order) and checks that show one image twice (the last
    element: the least rating that passes)."""
    if kind == Survey.Kind.ODD_ONE_OUT:
        return _triads_plan(image_set=image_set, n_trials=n_trials, seed=seed, n_attention_checks=n_attention_checks)
    if kind == Survey.Kind.RATING:
        return _pairs_plan(image_set=image_set, n_trials=n_trials, seed=seed, n_attention_checks=n_attention_checks)
    n = image_set.targets.count()
    if n < 3:
        raise MetamerError(f"{image_set.name} has {n} images; a triplet needs 3", field="image_set")
    total = n_triplets(n)
    rng = np.random.default_rng(seed)
    if n_trials is None and total > ALL_TRIPLETS_UP_TO:
        raise MetamerError(
            f"{image_set.name} has {total:,} distinct triplets; say how many to ask (n_trials)", field="n_trials"
        )
    if n_trials is not None and n_trials > total:
        raise MetamerError(f"asked for {n_trials} trials but {n} images give only {total} triplets", field="n_trials")
    if n_trials is None or n_trials == total:
        chosen, sampling = sim.all_triplets(n), f"all {total} triplets"
    else:
        pool = np.unique(sim.sample_triplets(n, 4 * n_trials + 100, seed=seed), axis=0)
        while len(pool) < n_trials:  # dense requests: top up until enough distinct ones
            more = sim.sample_triplets(n, 4 * n_trials, seed=int(rng.integers(2**31)))
            pool = np.unique(np.concatenate([pool, more]), axis=0)
        chosen, sampling = pool[rng.permutation(len(pool))[:n_trials]], f"uniform: {n_trials} of {total} (seed {seed})"
    chosen = chosen[rng.permutation(len(chosen))]
    # Which image is shown first is random per triplet (and again per worker, when shown).
    trials = [(int(i), *(int(x) for x in ((j, k) if rng.random() < 0.5 else (k, j)))) for i, j, k in chosen]
    n_checks = max(1, round(len(trials) * 0.05)) if n_attention_checks is None else n_attention_checks
    checks = []
    for pick in rng.integers(0, len(trials), n_checks):
        i, j, k = trials[pick]
        side = int(rng.integers(2))
        checks.append((i, i, k, 0) if side == 0 else (i, j, i, 1))
    return trials, checks, sampling


RATING_CHECK_PASS = 8
"""A rating check (one image shown twice) passes at this rating or above, of 10."""


def _pairs_plan(
    *, image_set: TargetSet, n_trials: int | None, seed: int, n_attention_checks: int | None
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], str]:
    n = image_set.targets.count()
    if n < 2:
        raise MetamerError(f"{image_set.name} has {n} image; a pair needs 2", field="image_set")
    total = n * (n - 1) // 2
    rng = np.random.default_rng(seed)
    if n_trials is None and total > ALL_TRIPLETS_UP_TO:
        raise MetamerError(f"{image_set.name} has {total:,} pairs; say how many to ask (n_trials)", field="n_trials")
    if n_trials is not None and n_trials > total:
        raise MetamerError(f"asked for {n_trials} trials but {n} images give only {total} pairs", field="n_trials")
    pairs = list(itertools.combinations(range(n), 2))
    if n_trials is None or n_trials == total:
        sampling = f"all {total} pairs"
    else:
        pairs, sampling = (
            [pairs[p] for p in sorted(rng.choice(total, n_trials, replace=False))],
            (f"uniform: {n_trials} of {total} pairs (seed {seed})"),
        )
    trials = [tuple(int(x) for x in rng.permutation(pairs[p])) for p in rng.permutation(len(pairs))]
    n_checks = max(1, round(len(trials) * 0.05)) if n_attention_checks is None else n_attention_checks
    checks = [(int(i), int(i), RATING_CHECK_PASS) for i in rng.integers(0, n, n_checks)]
    return trials, checks, sampling


def _triads_plan(
    *, image_set: TargetSet, n_trials: int | None, seed: int, n_attention_checks: int | None
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int, int]], str]:
    n = image_set.targets.count()
    if n < 3:
        raise MetamerError(f"{image_set.name} has {n} images; an odd-one-out trial needs 3", field="image_set")
    total = n * (n - 1) * (n - 2) // 6
    rng = np.random.default_rng(seed)
    if n_trials is None and total > ALL_TRIPLETS_UP_TO:
        raise MetamerError(
            f"{image_set.name} has {total:,} distinct sets of three; say how many to ask (n_trials)", field="n_trials"
        )
    if n_trials is not None and n_trials > total:
        raise MetamerError(
            f"asked for {n_trials} trials but {n} images give only {total} sets of three", field="n_trials"
        )
    if n_trials is None or n_trials == total:
        chosen, sampling = [tuple(t) for t in itertools.combinations(range(n), 3)], f"all {total} sets of three"
    else:
        seen: set[tuple[int, ...]] = set()
        while len(seen) < n_trials:
            seen.add(tuple(sorted(int(x) for x in rng.choice(n, 3, replace=False))))
        chosen, sampling = sorted(seen), f"uniform: {n_trials} of {total} sets of three (seed {seed})"
    trials = [tuple(int(x) for x in rng.permutation(t)) for t in (chosen[p] for p in rng.permutation(len(chosen)))]
    n_checks = max(1, round(len(trials) * 0.05)) if n_attention_checks is None else n_attention_checks
    checks = []
    for pick in rng.integers(0, len(trials), n_checks):
        same, odd = trials[pick][:2]
        items = [same, same, odd]
        order = rng.permutation(3)
        shown = [items[o] for o in order]
        checks.append((*shown, int(np.flatnonzero(order == 2)[0])))
    return trials, checks, sampling


@transaction.atomic
def survey_assemble_triplets(
    *,
    kind: str = Survey.Kind.TRIPLET,
    study: Study,
    name: str,
    image_set: TargetSet,
    n_trials: int | None = None,
    n_attention_checks: int | None = None,
    seed: int = 0,
    workers_per_survey: int = 3,
    reward_cents: int | None = None,
    minutes_allotted: int | None = None,
    n_repeats: int = 0,
    min_consistency: float = 0.0,
    adaptive_every: int = 0,
    adaptive_trials: int = 10,
) -> Survey:
    """A triplet survey over any image set: "which of these two is more like the reference?",
    one triplet per trial (see ``survey_triplets_plan``), and attention checks whose one option
    is the reference itself, at random positions. The sampling is recorded on the survey.
    ``kind="odd-one-out"``: "which of these three does not belong?", checks showing one image
    twice. ``n_repeats`` trials, drawn at random, are asked a second time (each worker's own
    order places them apart): how often a worker answers them alike is their consistency, and
    workers under ``min_consistency`` are left out of the data. ``adaptive_every``: after every
    this many submitted workers, a round adds ``adaptive_trials`` triplets
    (``survey_adaptive_round``)."""
    trials, checks, sampling = survey_triplets_plan(
        image_set=image_set, n_trials=n_trials, seed=seed, n_attention_checks=n_attention_checks, kind=kind
    )
    if not 0 <= n_repeats <= len(trials):
        raise MetamerError(f"repeats must be between 0 and the {len(trials)} trials asked", field="n_repeats")
    _check_policies(kind, n_repeats, min_consistency, adaptive_every, adaptive_trials)
    rng = random.Random(seed)
    plans: list[tuple[tuple[int, ...], int | None]] = [(t, None) for t in trials]
    for *items, side in checks:
        plans.insert(rng.randint(0, len(plans)), (tuple(items), side))
    pay = {"reward_cents": reward_cents, "minutes_allotted": minutes_allotted}
    survey = Survey.objects.create(
        study=study,
        name=name,
        kind=kind,
        image_set=image_set,
        sampling=sampling,
        seed=seed,
        n_trials=len(trials),
        n_attention_checks=len(checks),
        n_repeats=n_repeats,
        min_consistency=min_consistency,
        adaptive_every=adaptive_every,
        adaptive_trials=adaptive_trials,
        workers_per_survey=workers_per_survey,
        **{key: value for key, value in pay.items() if value is not None},
    )
    stimuli = dict(image_set.targets.values_list("index", "stimulus_id"))
    # Repeats go last in the base order; each worker's sequence is shuffled from it.
    originals = [plans.index((t, None)) for t in rng.sample(trials, n_repeats)]
    made: list[Trial] = []
    for position, (items, side) in enumerate(plans + [plans[o] for o in originals]):
        repeat_of = made[originals[position - len(plans)]] if position >= len(plans) else None
        trial = Trial.objects.create(
            survey=survey,
            position=position,
            is_attention_check=side is not None,
            correct=side,
            items=list(items),
            repeat_of=repeat_of,
        )
        made.append(trial)
        if kind in (Survey.Kind.ODD_ONE_OUT, Survey.Kind.RATING):
            slots = [(TrialSlot.Role.OPTION, index, item) for index, item in enumerate(items)]
        else:
            slots = [(TrialSlot.Role.QUERY, 0, items[0]), (TrialSlot.Role.OPTION, 0, items[1])]
            slots.append((TrialSlot.Role.OPTION, 1, items[2]))
        TrialSlot.objects.bulk_create(
            [TrialSlot(trial=trial, role=role, index=index, stimulus_id=stimuli[item]) for role, index, item in slots]
        )
    return survey


def _check_policies(
    kind: str, n_repeats: int, min_consistency: float, adaptive_every: int, adaptive_trials: int
) -> None:
    """The data and adaptive policies of an image-set survey, refused with the reason."""
    if not 0.0 <= min_consistency <= 1.0:
        raise MetamerError("the least consistency is a share: between 0 and 1", field="min_consistency")
    if min_consistency and not n_repeats:
        raise MetamerError(
            "a least consistency needs repeated trials to measure it: set repeated trials above 0",
            field="min_consistency",
        )
    if adaptive_every and kind != Survey.Kind.TRIPLET:
        raise MetamerError("adaptive rounds ask triplets: choose a triplet survey", field="adaptive_every")
    if not 0 <= adaptive_every <= 10_000:
        raise MetamerError("a round every 0 to 10,000 submitted workers", field="adaptive_every")
    if not 1 <= adaptive_trials <= ALL_TRIPLETS_UP_TO:
        raise MetamerError(f"a round adds 1 to {ALL_TRIPLETS_UP_TO:,} triplets", field="adaptive_trials")


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
    return -pairwise_lpips([t.stimulus.image.path for t in targets], cache_dir=settings.METAMER_CACHE_DIR)


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


PAIRS_PER_PASS = 16
"""Image pairs judged per LPIPS pass: bounds memory (each image's features are held once)."""


def trial_lpips_choices_compute(*, survey: Survey, variants: tuple[str, ...] = tuple(VARIANTS)) -> int:
    """Each LPIPS variant's answer on every trial of a survey, with its margin, stored beside
    the people's answers (simulated participants). Returns the number of choices stored.

    A distance already stored as an IRI's LPIPS judgement (``d(xr, xt)``, ``d(xr, x0)``) is
    reused; an image against itself (an attention check) is 0; the rest are computed with each
    image's backbone features computed once per pass."""
    layout = []  # (trial, probe stimuli, reference stimuli): each probe is judged against every reference
    for trial in survey.trials.prefetch_related("slots__stimulus").order_by("position"):
        slots = sorted(trial.slots.all(), key=lambda s: s.index)
        probes = [s.stimulus for s in slots if s.role in ("query", "row")]
        references = [s.stimulus for s in slots if s.role in ("option", "column")]
        layout.append((trial, probes, references))
    stimuli = {s.pk: s for _, probes, references in layout for s in probes + references}
    images: dict[int, torch.Tensor] = {}

    def image(pk: int) -> torch.Tensor:
        if pk not in images:
            images[pk] = stimulus_tensor(stimuli[pk])
        return images[pk]

    known = _stored_distances([t.iri_id for t, _, _ in layout if t.iri_id is not None], variants)
    judged = {(p.pk, r.pk) for _, probes, refs in layout for p in probes for r in refs if p.pk != r.pk}
    stored = 0
    for variant in variants:
        distance = dict(known.get(variant, {}))
        needed = sorted(judged - set(distance))
        model = load_lpips(variant, cache_dir=settings.METAMER_CACHE_DIR)
        for start in range(0, len(needed), PAIRS_PER_PASS):
            part = needed[start : start + PAIRS_PER_PASS]
            ids = sorted({pk for pair in part for pk in pair})
            index = {pk: n for n, pk in enumerate(ids)}
            batch = torch.stack([image(pk) for pk in ids])
            values = lpips_pairs(model, batch, [(index[a], index[b]) for a, b in part])
            distance.update(zip(part, values.tolist(), strict=True))
        choices = []
        for trial, probes, references in layout:
            d = torch.tensor(
                [[0.0 if p.pk == r.pk else distance[(p.pk, r.pk)] for r in references] for p in probes],
                dtype=torch.float64,
            )
            order = d.argsort(dim=1, stable=True)
            chosen = order[:, 0].tolist()
            margin = (d.gather(1, order[:, 1:2]) - d.gather(1, order[:, :1])).flatten().tolist()
            two_afc = trial.iri_id is not None or isinstance(trial.correct, int)
            choices.append(
                TrialLpipsChoice(
                    trial=trial,
                    variant=variant,
                    choice=chosen[0] if two_afc else chosen,
                    margin=margin[0] if two_afc else margin,
                    distances=d.tolist(),
                )
            )
        TrialLpipsChoice.objects.bulk_create(
            choices,
            update_conflicts=True,
            unique_fields=["trial", "variant"],
            update_fields=["choice", "margin", "distances"],
        )
        stored += len(choices)
    return stored


def _stored_distances(iri_ids: list[int], variants: tuple[str, ...]) -> dict[str, dict[tuple[int, int], float]]:
    """Variant → (IRI stimulus, target or seed stimulus) → the distance stored in the IRIs' judgements."""
    known: dict[str, dict[tuple[int, int], float]] = {}
    rows = LpipsJudgement.objects.filter(iri_id__in=iri_ids, variant__in=variants).values_list(
        "variant", "iri__stimulus_id", "iri__target__stimulus_id", "iri__seed_id", "d_target", "d_seed"
    )
    for variant, iri, target, seed, d_target, d_seed in rows:
        known.setdefault(variant, {}).update({(iri, target): d_target, (iri, seed): d_seed})
    return known


@transaction.atomic
def survey_adaptive_round(*, survey: Survey, n_trials: int, places: int = 0, seed: int | None = None) -> Survey:
    """Adaptive sampling for a triplet survey, in rounds: fit an ordinal embedding (t-STE) to
    the answers so far (workers who passed every check) and add the ``n_trials`` triplets it is
    least sure of that nobody was asked, for workers who start from now on (``places`` more of
    them). Workers already started keep their own sequence. The round is recorded in
    ``sampling``."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.kind != Survey.Kind.TRIPLET:
        raise MetamerError(f"adaptive rounds ask triplets; {survey.name} is a {survey.get_kind_display()} survey")
    if survey.status == Survey.Status.CLOSED:
        raise MetamerError(f"{survey.name} is closed; open a new survey instead", code="conflict")
    if not 1 <= n_trials <= ALL_TRIPLETS_UP_TO:
        raise MetamerError(f"a round adds 1 to {ALL_TRIPLETS_UP_TO:,} triplets", field="n_trials")
    if not 0 <= places <= 10_000:
        raise MetamerError("places must be between 0 and 10,000", field="places")
    answers = [r for r in survey_triplets(survey) if not r["attention_check"] and r["passed_checks"]]
    if not answers:
        raise MetamerError(f"{survey.name} has no answers yet from workers who passed its checks; wait for some")
    n = survey.image_set.targets.count()
    seed = survey.seed + survey.trials.count() if seed is None else seed
    t = np.array([[r["i"], r["j"], r["k"]] for r in answers])
    embedding = sim.fit_embedding(
        t, np.array([r["choice"] for r in answers]), n, generator=torch.Generator().manual_seed(seed)
    )
    asked = {
        (i, *pair)
        for i, j, k in survey.trials.filter(is_attention_check=False).values_list("items", flat=True)
        for pair in ((j, k), (k, j))
    }
    chosen = sim.most_uncertain_triplets(embedding, n_trials, seed=seed, exclude=asked)
    if len(chosen) == 0:
        raise MetamerError("every triplet the sampler could find was asked already", field="n_trials")
    start = survey.trials.order_by("-position").values_list("position", flat=True).first() + 1
    stimuli = dict(survey.image_set.targets.values_list("index", "stimulus_id"))
    for offset, (i, j, k) in enumerate(chosen.tolist()):
        trial = Trial.objects.create(survey=survey, position=start + offset, items=[i, j, k])
        TrialSlot.objects.bulk_create(
            [
                TrialSlot(trial=trial, role=TrialSlot.Role.QUERY, index=0, stimulus_id=stimuli[i]),
                TrialSlot(trial=trial, role=TrialSlot.Role.OPTION, index=0, stimulus_id=stimuli[j]),
                TrialSlot(trial=trial, role=TrialSlot.Role.OPTION, index=1, stimulus_id=stimuli[k]),
            ]
        )
    survey.n_trials += len(chosen)
    survey.workers_per_survey += places
    survey.sampling = f"{survey.sampling}; adaptive +{len(chosen)} from {len(answers)} answers (seed {seed})"[:500]
    survey.save(update_fields=["n_trials", "workers_per_survey", "sampling"])
    return survey


CONTENT_FIELDS = (
    "instructions_text",
    "consent_text",
    "n_practice",
    "exit_questions",
    "ask_demographics",
    "thank_you_text",
)
"""What workers read and answer besides the trials: changeable until the survey closes."""


@transaction.atomic
def survey_content_update(*, survey: Survey, changes: dict[str, Any]) -> Survey:
    """Change what workers read (``CONTENT_FIELDS``); each value is checked against its field's
    bounds, and nothing is stored unless all pass. A closed survey keeps what its workers saw."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if survey.status == Survey.Status.CLOSED:
        raise MetamerError(f"{survey.name} is closed: what its workers read stays as they read it", code="conflict")
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise MetamerError(f"not changeable here: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    for field, value in changes.items():
        setattr(survey, field, value)
    try:
        survey.full_clean(exclude=[f.name for f in Survey._meta.fields if f.name not in changes])
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise MetamerError(f"{field}: {' '.join(messages)}", field=field) from None
    survey.save(update_fields=list(changes))
    return survey
