"""LPIPS as a simulated human: distances between stored images, each computed once (by image
content) and kept, and the 2AFC judgement of each IRI, stored with it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from django.conf import settings

from inversion.models import IRI, InversionJob, LpipsDistance, LpipsJudgement, Stimulus
from inversion.selectors import stimulus_tensor
from metamer.errors import MetamerError
from science.lpips_variants import VARIANTS
from science.perceptual import lpips_pair_distances

LOOKUP_CHUNK = 500
"""Image digests per cache query (SQLite limits a query's parameters)."""


def lpips_distances_compute(
    *,
    pairs: Iterable[tuple[Stimulus, Stimulus]],
    variants: tuple[str, ...] = tuple(VARIANTS),
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[tuple[int, int], float]]:
    """Each variant's LPIPS distance for each pair of stimuli, as variant → (pk, pk) → distance.
    Distances already known for the two images' contents are read back; the rest are computed
    (``science.perceptual.lpips_pair_distances``: each image through each backbone once) and
    stored. Give the pairs trial by trial: that bounds memory. ``on_progress(done, total)``
    counts images through backbones."""
    pairs = list(dict.fromkeys((a, b) for a, b in pairs))
    stimuli = {s.pk: s for pair in pairs for s in pair}
    known = _cached({s.sha256 for s in stimuli.values()}, variants)
    result: dict[str, dict[tuple[int, int], float]] = {v: {} for v in variants}
    missing: dict[tuple[str, str], tuple[Stimulus, Stimulus]] = {}
    for a, b in pairs:
        key = _key(a, b)
        for variant in variants:
            value = 0.0 if key[0] == key[1] else known.get((variant, *key))
            if value is None:
                missing.setdefault(key, (a, b))
            else:
                result[variant][(a.pk, b.pk)] = value
    if missing:
        work = list(missing.values())
        computed = lpips_pair_distances(
            lambda pk: stimulus_tensor(stimuli[pk]),
            [(a.pk, b.pk) for a, b in work],
            variants,
            cache_dir=settings.METAMER_CACHE_DIR,
            device="cuda" if torch.cuda.is_available() else "cpu",
            on_progress=on_progress,
        )
        LpipsDistance.objects.bulk_create(
            [
                LpipsDistance(variant=variant, first=key[0], second=key[1], distance=value)
                for variant, values in computed.items()
                for key, value in zip(missing, values, strict=True)
            ],
            ignore_conflicts=True,  # a concurrent build may have stored the same distance
        )
        for variant, values in computed.items():
            by_key = dict(zip(missing, values, strict=True))
            for a, b in pairs:
                if (key := _key(a, b)) in by_key:
                    result[variant].setdefault((a.pk, b.pk), by_key[key])
    return result


def _key(a: Stimulus, b: Stimulus) -> tuple[str, str]:
    return (a.sha256, b.sha256) if a.sha256 <= b.sha256 else (b.sha256, a.sha256)


def _cached(digests: set[str], variants: tuple[str, ...]) -> dict[tuple[str, str, str], float]:
    ordered = sorted(digests)
    known = {}
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        rows = LpipsDistance.objects.filter(variant__in=variants, first__in=ordered[start : start + LOOKUP_CHUNK])
        known.update({(r.variant, r.first, r.second): r.distance for r in rows if r.second in digests})
    return known


def lpips_judgements_compute(
    *,
    job: InversionJob,
    variants: tuple[str, ...] = tuple(VARIANTS),
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """LPIPS 2AFC for every IRI of a job and each variant: ``d(xr, xt)`` and ``d(xr, x0)``.
    Returns the number of judgements stored (a rerun updates them in place)."""
    iris = list(IRI.objects.filter(job=job).select_related("stimulus", "seed", "target__stimulus").order_by("pk"))
    if not iris:
        raise MetamerError(f"job {job.pk} has no IRIs to judge", field="job")
    pairs = [pair for i in iris for pair in ((i.stimulus, i.target.stimulus), (i.stimulus, i.seed))]
    distances = lpips_distances_compute(pairs=pairs, variants=variants, on_progress=on_progress)
    stored = 0
    for variant in variants:
        d = distances[variant]
        LpipsJudgement.objects.bulk_create(
            [
                LpipsJudgement(
                    iri=i,
                    variant=variant,
                    d_target=d[(i.stimulus_id, i.target.stimulus_id)],
                    d_seed=d[(i.stimulus_id, i.seed_id)],
                )
                for i in iris
            ],
            update_conflicts=True,
            unique_fields=["iri", "variant"],
            update_fields=["d_target", "d_seed"],
        )
        stored += len(iris)
    return stored
