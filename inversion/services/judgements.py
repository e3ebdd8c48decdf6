"""LPIPS as a simulated human on each IRI: the 2AFC judgement, stored with the IRI."""

from __future__ import annotations

from collections.abc import Callable

import torch
from django.conf import settings

from inversion.models import IRI, InversionJob, LpipsJudgement
from inversion.selectors import stimulus_tensor
from metamer.errors import MetamerError
from science.lpips_variants import VARIANTS
from science.perceptual import load_lpips


def lpips_judgements_compute(
    *, job: InversionJob, variants: tuple[str, ...] = tuple(VARIANTS), on_progress: Callable[[int], None] | None = None
) -> int:
    """LPIPS 2AFC for every IRI of a job and each variant: ``d(xr, xt)`` and ``d(xr, x0)``.
    Returns the number of judgements stored (a rerun updates them in place)."""
    iris = list(IRI.objects.filter(job=job).select_related("stimulus", "seed", "target__stimulus").order_by("pk"))
    if not iris:
        raise MetamerError(f"job {job.pk} has no IRIs to judge", field="job")
    xr = torch.stack([stimulus_tensor(i.stimulus) for i in iris])
    xt = torch.stack([stimulus_tensor(i.target.stimulus) for i in iris])
    x0 = torch.stack([stimulus_tensor(i.seed) for i in iris])
    stored = 0
    for variant in variants:
        model = load_lpips(variant, cache_dir=settings.METAMER_CACHE_DIR)
        with torch.no_grad():
            d_target = model(xr, xt, normalize=True).flatten().tolist()
            d_seed = model(xr, x0, normalize=True).flatten().tolist()
        LpipsJudgement.objects.bulk_create(
            [
                LpipsJudgement(iri=iri, variant=variant, d_target=dt, d_seed=ds)
                for iri, dt, ds in zip(iris, d_target, d_seed, strict=True)
            ],
            update_conflicts=True,
            unique_fields=["iri", "variant"],
            update_fields=["d_target", "d_seed"],
        )
        stored += len(iris)
        if on_progress is not None:
            on_progress(1)
    return stored
