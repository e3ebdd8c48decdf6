"""The simulated participants: each LPIPS variant's answer on every trial of a survey, stored
beside the people's answers, and the LPIPS similarity hard clustering groups targets by."""

from __future__ import annotations

import numpy as np
import torch
from django.conf import settings

from inversion.models import LpipsJudgement, Target
from inversion.selectors import stimulus_tensor
from science.lpips_variants import VARIANTS
from science.perceptual import load_lpips, lpips_pairs, pairwise_lpips
from surveys.models import Survey, TrialLpipsChoice

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


def target_similarity(targets: list[Target], uploaded: np.ndarray | None) -> np.ndarray:
    """Similarity between these targets: the uploaded matrix (indexed by target index) or,
    failing that, minus their LPIPS (alex-lin) distances."""
    if uploaded is not None:
        index = [t.index for t in targets]
        return uploaded[np.ix_(index, index)]
    return -pairwise_lpips([t.stimulus.image.path for t in targets], cache_dir=settings.METAMER_CACHE_DIR)
