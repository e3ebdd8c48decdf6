"""LPIPS distances between stored images: computed once per pair of contents, then read back."""

import pytest
import torch

from inversion import services
from inversion.models import LpipsDistance, Stimulus
from science import perceptual
from science.lpips_variants import VARIANTS

pytestmark = pytest.mark.django_db


def _stimulus(seed: int) -> Stimulus:
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(seed))
    return services.stimulus_create(role=Stimulus.Role.TARGET, image=image)


def test_a_distance_is_computed_once_per_pair_of_contents_whatever_the_order_or_copy(monkeypatch):
    a, b, c = _stimulus(1), _stimulus(2), _stimulus(3)
    a_copy = _stimulus(1)  # the same content stored twice
    first = services.lpips_distances_compute(pairs=[(a, b), (a, c), (b, b)])
    assert LpipsDistance.objects.count() == 2 * len(VARIANTS)
    assert all(first[v][(b.pk, b.pk)] == 0 for v in VARIANTS)
    model = perceptual.load_lpips("vgg")
    with torch.no_grad():
        expected = model(_tensor(a), _tensor(b), normalize=True).item()
    assert first["vgg"][(a.pk, b.pk)] == pytest.approx(expected, rel=1e-4)

    from inversion.services import judgements

    monkeypatch.setattr(judgements, "lpips_pair_distances", lambda *a, **k: pytest.fail("computed again"))
    again = services.lpips_distances_compute(pairs=[(b, a_copy), (c, a), (a, a_copy)])
    for variant in VARIANTS:
        assert again[variant][(b.pk, a_copy.pk)] == first[variant][(a.pk, b.pk)]
        assert again[variant][(c.pk, a.pk)] == first[variant][(a.pk, c.pk)]
        assert again[variant][(a.pk, a_copy.pk)] == 0


def test_only_missing_variants_and_pairs_are_computed(monkeypatch):
    from inversion.services import judgements

    a, b, c = _stimulus(4), _stimulus(5), _stimulus(6)
    services.lpips_distances_compute(pairs=[(a, b)], variants=("alex-lin",))
    asked = []
    real = judgements.lpips_pair_distances
    monkeypatch.setattr(
        judgements,
        "lpips_pair_distances",
        lambda load, pairs, variants, **k: asked.append(list(pairs)) or real(load, pairs, variants, **k),
    )
    found = services.lpips_distances_compute(pairs=[(a, b), (b, c)], variants=("alex-lin",))
    assert asked == [[(b.pk, c.pk)]] and set(found["alex-lin"]) == {(a.pk, b.pk), (b.pk, c.pk)}


def _tensor(stimulus: Stimulus) -> torch.Tensor:
    from inversion.selectors import stimulus_tensor

    return stimulus_tensor(stimulus)[None]
