"""Assembling surveys: check a design once (``survey_assemble_check``, which plans every trial
with the kind's own planner and stores nothing), then store exactly that design
(``survey_assemble``). Kinds differ only through their spec (``surveys.kinds``)."""

from __future__ import annotations

import functools
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction

from inversion.models import InversionJob, TargetSet
from inversion.selectors import survey_ready_iris
from metamer.errors import MetamerError
from surveys.kinds import DEFAULT_IMAGE_SET_KIND, DEFAULT_KIND, KINDS, KindSpec, kind_spec
from surveys.kinds.image_sets import ALL_TRIPLETS_UP_TO
from surveys.kinds.iris import attention_check
from surveys.kinds.spec import Plan
from surveys.models import Study, Survey, Trial, TrialSlot
from surveys.services.choices import Progress, target_similarity

LPIPS_MIN_SIZE = 32
"""Smallest image AlexNet-LPIPS can judge (smaller ones pool to nothing)."""


@dataclass(frozen=True)
class SurveyDesign:
    """A checked survey design: every trial planned, in the base order, nothing stored yet.
    ``survey_assemble`` stores it as it is, so nothing is planned twice."""

    spec: KindSpec
    seed: int
    plans: list[Plan]
    n_trials: int
    n_checks: int
    jobs: list[InversionJob] = field(default_factory=list)
    image_set: TargetSet | None = None
    sampling: str = ""
    similarity_source: str = ""
    include_unconverged: bool = False
    only_beating_null: bool = False
    left_out_by_null: int = 0
    n_repeats: int = 0
    min_consistency: float = 0.0
    adaptive_every: int = 0
    adaptive_trials: int = 10
    similarity_later: bool = False
    """The plans only stand in (the same number of trials, random targets) until the LPIPS
    similarity between the targets is computed in the build (``survey_build``)."""


def survey_assemble_check(
    *,
    jobs: Sequence[InversionJob] = (),
    kind: str = DEFAULT_KIND,
    n_trials: int | None = 100,
    n_attention_checks: int | None = None,
    seed: int = 0,
    include_unconverged: bool = False,
    only_beating_null: bool = False,
    similarity: np.ndarray | None = None,
    similarity_name: str = "",
    image_set: TargetSet | None = None,
    n_repeats: int = 0,
    min_consistency: float = 0.0,
    adaptive_every: int = 0,
    adaptive_trials: int = 10,
    similarity_later: bool = False,
    on_progress: Progress | None = None,
) -> SurveyDesign:
    """Plan a survey's trials or say why it cannot be built, storing nothing (see
    ``survey_assemble``). With ``similarity_later``, a hard clustering design that needs the
    LPIPS similarity between targets is checked with random targets (the same number of
    trials), leaving that computation to the build; ``on_progress`` follows it otherwise."""
    if kind not in KINDS:
        raise MetamerError(f"unknown survey kind {kind!r}; choose one of {', '.join(KINDS)}", field="kind")
    spec = kind_spec(kind)
    _check_counts(n_trials=n_trials, n_attention_checks=n_attention_checks, seed=seed, n_repeats=n_repeats)
    policies = {
        "n_repeats": n_repeats,
        "min_consistency": min_consistency,
        "adaptive_every": adaptive_every,
        "adaptive_trials": adaptive_trials,
    }
    _check_policies(spec, **policies)
    if spec.image_set:
        if image_set is None or jobs:
            raise MetamerError(
                f"{spec.noun} asks about an image set: choose one, and no inversion jobs", field="image_set"
            )
        return _image_set_design(spec, image_set, n_trials, n_attention_checks, seed, **policies)
    if image_set is not None:
        asks = ", ".join(s.noun for s in KINDS.values() if s.image_set)
        raise MetamerError(
            f"only image-set surveys ({asks}) ask about an image set; IRI surveys take inversion jobs",
            field="image_set",
        )
    if not jobs:
        raise MetamerError("choose at least one inversion job (IRI set)", field="jobs")
    unfinished = [j.pk for j in jobs if j.status != InversionJob.Status.DONE]
    if unfinished:
        raise MetamerError(f"inversion jobs {unfinished} have not finished", field="jobs")
    ready = survey_ready_iris(jobs, include_unconverged=include_unconverged)
    iris = list((ready.filter(beats_null=True) if only_beating_null else ready).order_by("pk"))
    left_out = ready.count() - len(iris)
    if not iris:
        if left_out:
            raise MetamerError(
                f"none of the {left_out} usable IRIs beat the null distribution: run more steps, or allow IRIs "
                "that do not beat it",
                field="only_beating_null",
            )
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
    grouping = None
    later = spec.similarity and similarity is None and similarity_later
    if spec.similarity:
        source = similarity_name or "LPIPS alex-lin distances between the targets"
        if not later:
            grouping = functools.partial(target_similarity, uploaded=similarity, on_progress=on_progress)
    plans = spec.plan(iris, rng, grouping)
    if n_trials is not None:
        if n_trials > len(plans):
            raise MetamerError(
                f"asked for {n_trials} trials but only {len(plans)} can be built from these IRIs", field="n_trials"
            )
        plans = plans[:n_trials]
    n_under_test = len(plans)
    n_checks = max(1, round(len(plans) * 0.05)) if n_attention_checks is None else n_attention_checks
    for plan in [attention_check(p, rng) for p in rng.choices(plans, k=n_checks)]:
        plans.insert(rng.randint(0, len(plans)), plan)
    return SurveyDesign(
        spec=spec,
        seed=seed,
        plans=plans,
        n_trials=n_under_test,
        n_checks=n_checks,
        jobs=list(jobs),
        similarity_source=source,
        include_unconverged=include_unconverged,
        only_beating_null=only_beating_null,
        left_out_by_null=left_out,
        similarity_later=later,
    )


def _image_set_design(
    spec: KindSpec,
    image_set: TargetSet,
    n_trials: int | None,
    n_attention_checks: int | None,
    seed: int,
    **policies,
) -> SurveyDesign:
    """The kind's planner's trials and checks (checks at random positions), then the repeats
    last in the base order: each worker's sequence is shuffled from it."""
    stimuli = {t.index: t.stimulus for t in image_set.targets.select_related("stimulus")}
    trials, checks, sampling = spec.plan(len(stimuli), image_set.name, n_trials, seed, n_attention_checks)
    n_repeats = policies["n_repeats"]
    if not 0 <= n_repeats <= len(trials):
        raise MetamerError(f"repeats must be between 0 and the {len(trials)} trials asked", field="n_repeats")
    rng = random.Random(seed)
    base: list[tuple[tuple[int, ...], int | None]] = [(t, None) for t in trials]
    for *items, answer in checks:
        base.insert(rng.randint(0, len(base)), (tuple(items), answer))
    originals = [base.index((t, None)) for t in rng.sample(trials, n_repeats)]
    plans = []
    for position, (items, answer) in enumerate(base + [base[o] for o in originals]):
        slots = [(role, stimuli[item]) for role, _, item in spec.slots(items)]
        repeat_of = originals[position - len(base)] if position >= len(base) else None
        plans.append(Plan(slots, answer, is_check=answer is not None, items=list(items), repeat_of=repeat_of))
    return SurveyDesign(
        spec=spec,
        seed=seed,
        plans=plans,
        n_trials=len(trials),
        n_checks=len(checks),
        image_set=image_set,
        sampling=sampling,
        **policies,
    )


COUNT_LIMITS = {
    "n_trials": (1, 100_000),
    "n_attention_checks": (0, 1_000),
    "seed": (-(2**63), 2**63 - 1),
    "n_repeats": (0, 10_000),
    "workers_per_survey": (1, 10_000),
    "reward_cents": (0, 100_000),
    "minutes_allotted": (1, 24 * 60),
}
"""Whole-number settings of a survey and their ranges: checked before anything is planned."""


def _check_counts(**counts: int | None) -> None:
    for name, value in counts.items():
        if value is None:
            continue
        low, high = COUNT_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise MetamerError(f"{name.replace('_', ' ')}: a whole number from {low:,} to {high:,}", field=name)


def _check_policies(
    spec: KindSpec, *, n_repeats: int, min_consistency: float, adaptive_every: int, adaptive_trials: int
) -> None:
    """The data and adaptive policies of a design, refused with the reason."""
    # Repeated trials measure consistency where an answer is a judgement (image sets), not a score.
    if (n_repeats or min_consistency) and not spec.image_set:
        repeating = ", ".join(s.noun for s in KINDS.values() if s.image_set)
        raise MetamerError(f"repeated trials are for image-set surveys: {repeating}", field="n_repeats")
    if not 0.0 <= min_consistency <= 1.0:
        raise MetamerError("the least consistency is a share: between 0 and 1", field="min_consistency")
    if min_consistency and not n_repeats:
        raise MetamerError(
            "a least consistency needs repeated trials to measure it: set repeated trials above 0",
            field="min_consistency",
        )
    if adaptive_every and not spec.adaptive:
        adaptive = ", ".join(s.noun for s in KINDS.values() if s.adaptive)
        raise MetamerError(f"adaptive rounds ask triplets: choose {adaptive}", field="adaptive_every")
    if not 0 <= adaptive_every <= 10_000:
        raise MetamerError("a round every 0 to 10,000 submitted workers", field="adaptive_every")
    if not 1 <= adaptive_trials <= ALL_TRIPLETS_UP_TO:
        raise MetamerError(f"a round adds 1 to {ALL_TRIPLETS_UP_TO:,} triplets", field="adaptive_trials")


@transaction.atomic
def survey_assemble(
    *,
    study: Study,
    name: str,
    design: SurveyDesign | None = None,
    workers_per_survey: int = 3,
    reward_cents: int | None = None,
    minutes_allotted: int | None = None,
    in_background: bool = False,
    **plan,
) -> Survey:
    """Store a survey: ``design`` as checked (``survey_assemble_check``), or one checked now from
    ``plan`` (its keywords). IRI sets are mixed and shuffled so that no worker can tell which
    model made a trial; every random choice comes from the design's seed.

    2AFC: per IRI, the query ``xr`` with options ``xt`` and ``x0`` in random order.
    Clustering: three targets as columns, their IRIs (two each) as rows; random targets, or for
    ``cluster-hard`` an anchor and its two most similar targets under ``similarity`` (a matrix
    over the target set, e.g. ImageNet-HSJ) or, failing that, LPIPS (alex-lin) similarity.
    Image-set kinds (triplet, odd one out, rating): the kind's planner's trials over
    ``image_set``, with the sampling recorded; ``n_repeats`` trials are asked twice, and
    workers under ``min_consistency`` on them are left out of the data; ``adaptive_every``:
    after every this many submitted workers a round adds ``adaptive_trials`` trials.
    Attention checks go at random positions: by default 5 per 100 trials, at least one.
    ``n_trials=None`` uses every usable IRI (or every trial of a small image set). Pay and time
    allowed take the model's defaults when not given.

    IRI surveys are built before they can open: the simulated participants answer every trial
    (so agreement is live from the first worker), and hard clustering's LPIPS similarity is
    computed. ``in_background``: the survey is stored as ``building`` and a task builds it
    (``survey_build``, with progress on the survey); else it is built before this returns.
    """
    _check_counts(workers_per_survey=workers_per_survey, reward_cents=reward_cents, minutes_allotted=minutes_allotted)
    if design is None:
        design = survey_assemble_check(similarity_later=in_background, **plan)
    elif plan:
        raise MetamerError(f"give a design or its settings, not both ({', '.join(sorted(plan))})")
    if design.similarity_later and not in_background:
        raise MetamerError("a design that leaves the similarity for later is built in the background")
    pay = {"reward_cents": reward_cents, "minutes_allotted": minutes_allotted}
    survey = Survey.objects.create(
        study=study,
        name=name,
        kind=design.spec.value,
        image_set=design.image_set,
        sampling=design.sampling,
        seed=design.seed,
        n_trials=design.n_trials,
        n_attention_checks=design.n_checks,
        include_unconverged=design.include_unconverged,
        only_beating_null=design.only_beating_null,
        left_out_by_null=design.left_out_by_null,
        similarity_source=design.similarity_source,
        n_repeats=design.n_repeats,
        min_consistency=design.min_consistency,
        adaptive_every=design.adaptive_every,
        adaptive_trials=design.adaptive_trials,
        workers_per_survey=workers_per_survey,
        status=Survey.Status.DRAFT if design.spec.image_set else Survey.Status.BUILDING,
        **{key: value for key, value in pay.items() if value is not None},
    )
    survey.jobs.set(design.jobs)
    if not design.similarity_later:
        trials_store(survey=survey, plans=design.plans)
    if design.spec.image_set:
        return survey
    # Imported here: the build module plans through this one.
    from surveys.services.building import survey_build, survey_build_send

    if in_background:
        survey_build_send(survey=survey)
        return survey
    return survey_build(survey=survey)


def trials_store(*, survey: Survey, plans: Sequence[Plan]) -> None:
    """A design's trials and their slots, in the design's order."""
    made: list[Trial] = []
    for position, plan_ in enumerate(plans):
        trial = Trial.objects.create(
            survey=survey,
            position=position,
            job=plan_.job,
            iri=plan_.iri,
            is_attention_check=plan_.is_check,
            correct=plan_.correct,
            check_row=plan_.check_row,
            items=plan_.items,
            repeat_of=None if plan_.repeat_of is None else made[plan_.repeat_of],
        )
        made.append(trial)
        counts: dict[str, int] = {}
        slots = []
        for role, stimulus in plan_.slots:
            slots.append(TrialSlot(trial=trial, role=role, index=counts.get(role, 0), stimulus=stimulus))
            counts[role] = counts.get(role, 0) + 1
        TrialSlot.objects.bulk_create(slots)


def survey_assemble_triplets(*, kind: str = DEFAULT_IMAGE_SET_KIND, n_trials: int | None = None, **settings) -> Survey:
    """``survey_assemble`` for an image-set kind, asking every trial of a small set by default."""
    return survey_assemble(kind=kind, n_trials=n_trials, **settings)


def survey_triplets_plan(
    *,
    image_set: TargetSet,
    n_trials: int | None,
    seed: int,
    n_attention_checks: int | None = None,
    kind: str = DEFAULT_IMAGE_SET_KIND,
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], str]:
    """What an image-set survey of ``kind`` would ask (the kind's planner): its trials as
    image-set indices, its attention checks (indices and the right answer) and the sampling;
    stores nothing."""
    if image_set.status != TargetSet.Status.READY:
        raise MetamerError(
            f"{image_set.name} is not ready ({image_set.get_status_display().lower()}, "
            f"{image_set.imported}/{image_set.total} images): choose it when its import has finished",
            field="image_set",
        )
    return kind_spec(kind).plan(image_set.targets.count(), image_set.name, n_trials, seed, n_attention_checks)


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
    if survey.status == Survey.Status.BUILDING:
        raise MetamerError(
            f"{survey.name} is still being built ({survey.build_step or 'queued'}): it opens once the simulated "
            "participants have answered every trial",
            code="conflict",
        )
    if survey.status == Survey.Status.FAILED:
        raise MetamerError(f"{survey.name} could not be built ({survey.build_step}): build it again", code="conflict")
    if survey.status != Survey.Status.DRAFT:
        raise MetamerError(f"the survey is {survey.status}; only a draft can be opened", code="conflict")
    survey.status = Survey.Status.OPEN
    survey.save(update_fields=["status"])
    return survey
