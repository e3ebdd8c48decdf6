"""The simulated participants: each LPIPS variant's answer on every trial of a survey, stored
beside the people's answers, and the LPIPS similarity hard clustering groups targets by.
Distances come from ``inversion.services.lpips_distances_compute``: each image through each
LPIPS backbone once, and a distance between two images' contents never computed twice."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from inversion import services as inversion_services
from inversion.models import LpipsJudgement, Target
from science.lpips_variants import VARIANTS
from surveys.models import Survey, TrialLpipsChoice

Progress = Callable[[int, int], None]


def trial_lpips_choices_compute(
    *, survey: Survey, variants: tuple[str, ...] = tuple(VARIANTS), on_progress: Progress | None = None
) -> int:
    """Each LPIPS variant's answer on every trial of a survey, with its margin, stored beside
    the people's answers (simulated participants). Returns the number of choices stored.

    A distance already stored as an IRI's LPIPS judgement (``d(xr, xt)``, ``d(xr, x0)``) is
    reused; an image against itself (an attention check) is 0. ``on_progress(done, total)``
    counts images through LPIPS backbones."""
    layout = []  # (trial, probe stimuli, reference stimuli): each probe is judged against every reference
    for trial in survey.trials.prefetch_related("slots__stimulus").order_by("position"):
        slots = sorted(trial.slots.all(), key=lambda s: s.index)
        probes = [s.stimulus for s in slots if s.role in ("query", "row")]
        references = [s.stimulus for s in slots if s.role in ("option", "column")]
        layout.append((trial, probes, references))
    known = _stored_distances([t.iri_id for t, _, _ in layout if t.iri_id is not None], variants)
    # Trial by trial, so that each image's features are dropped soon after its trial.
    needed = [
        (p, r)
        for _, probes, references in layout
        for p in probes
        for r in references
        if p.pk != r.pk and any((p.pk, r.pk) not in known.get(v, {}) for v in variants)
    ]
    computed = inversion_services.lpips_distances_compute(pairs=needed, variants=variants, on_progress=on_progress)
    stored = 0
    for variant in variants:
        distance = {**computed[variant], **known.get(variant, {})}
        choices = []
        for trial, probes, references in layout:
            d = np.array([[0.0 if p.pk == r.pk else distance[(p.pk, r.pk)] for r in references] for p in probes])
            order = np.argsort(d, axis=1, kind="stable")
            chosen = order[:, 0].tolist()
            ranked = np.take_along_axis(d, order, axis=1)
            margin = (ranked[:, 1] - ranked[:, 0]).tolist()
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


SIMILARITY_VARIANT = "alex-lin"


def target_similarity(
    targets: list[Target], uploaded: np.ndarray | None, on_progress: Progress | None = None
) -> np.ndarray:
    """Similarity between these targets: the uploaded matrix (indexed by target index) or,
    failing that, minus their LPIPS (alex-lin) distances."""
    if uploaded is not None:
        index = [t.index for t in targets]
        return uploaded[np.ix_(index, index)]
    rows, cols = np.triu_indices(len(targets), k=1)
    pairs = [(targets[i].stimulus, targets[j].stimulus) for i, j in zip(rows.tolist(), cols.tolist(), strict=True)]
    found = inversion_services.lpips_distances_compute(
        pairs=pairs, variants=(SIMILARITY_VARIANT,), on_progress=on_progress
    )[SIMILARITY_VARIANT]
    distances = np.zeros((len(targets), len(targets)))
    distances[rows, cols] = distances[cols, rows] = [found[(a.pk, b.pk)] for a, b in pairs]
    return -distances
