import numpy as np
import pytest
import torch
from PIL import Image

from science.images import read_image
from science.lpips_variants import VARIANTS, UnknownVariant, variant_backbone
from science.perceptual import load_lpips, lpips_distance, pairwise_lpips


@pytest.mark.parametrize(
    ("variant", "d_p0", "d_p1"),
    [("alex-lin", 0.722, 0.138), ("vgg-lin", 0.569, 0.422)],
)
def test_reproduces_the_lpips_authors_example_values(shared_dir, variant, d_p0, d_p1):
    folder = shared_dir / "data" / "lpips-reference"
    ref, p0, p1 = (read_image(folder / f"ex_{n}.png") for n in ("ref", "p0", "p1"))
    assert round(lpips_distance(ref, p0, variant).item(), 3) == d_p0
    assert round(lpips_distance(ref, p1, variant).item(), 3) == d_p1


def test_uncalibrated_variants_differ_from_calibrated_ones():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 64, 64, generator=g).chunk(2)
    values = {v: lpips_distance(a, b, v).item() for v in ("alex", "alex-lin", "vgg", "vgg-lin")}
    assert len({round(v, 6) for v in values.values()}) == 4
    assert lpips_distance(a, a, "alex").item() == 0


def test_models_are_frozen_and_unknown_variants_are_named():
    model = load_lpips("alex-lin")
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    with pytest.raises(UnknownVariant, match="choose one of alex-lin, vgg-lin, alex, vgg"):
        load_lpips("squeeze")


def test_many_pairs_under_every_variant_each_image_through_each_backbone_once(monkeypatch):
    from science import perceptual

    g = torch.Generator().manual_seed(2)
    images = {key: torch.rand(3, 40, 40, generator=g) for key in "abcdefg"}
    images.update(h=torch.rand(3, 48, 48, generator=g), i=torch.rand(3, 48, 48, generator=g))  # another size
    pairs = [("a", "b"), ("a", "c"), ("d", "a"), ("e", "e"), ("f", "g"), ("h", "i"), ("g", "b"), ("c", "d")]
    batches = []
    real = perceptual._features
    monkeypatch.setattr(perceptual, "_features", lambda model, x: batches.append(len(x)) or real(model, x))
    progress = []
    found = perceptual.lpips_pair_distances(
        images.__getitem__, pairs, list(VARIANTS), images_per_pass=3, on_progress=lambda *p: progress.append(p)
    )
    # 8 images with a pair to score (e only meets itself), through 2 backbones, 3 at a time.
    assert sum(batches) == 2 * 8 and max(batches) <= 3
    assert progress[-1] == (16, 16)
    assert perceptual.lpips_pair_distances(images.__getitem__, [], list(VARIANTS)) == {v: [] for v in VARIANTS} and [
        done for done, _ in progress
    ] == sorted(done for done, _ in progress)
    for variant in VARIANTS:
        model = load_lpips(variant)
        for (a, b), value in zip(pairs, found[variant], strict=True):
            with torch.no_grad():
                expected = model(images[a][None], images[b][None], normalize=True).item()
            assert value == pytest.approx(expected, rel=1e-4, abs=1e-7), (variant, a, b)


def test_pairwise_matrix_is_symmetric_with_each_pairs_distance(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(paths[-1])
    matrix = pairwise_lpips(paths, "alex-lin")
    images = torch.cat([read_image(p) for p in paths])
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        expected = lpips_distance(images[i : i + 1], images[j : j + 1], "alex-lin").item()
        assert matrix[i, j] == matrix[j, i] == pytest.approx(expected, rel=1e-4)
    assert np.all(np.diag(matrix) == 0)


def test_notebook_random_linear_variants_are_seeded_and_never_default():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 64, 64, generator=g).chunk(2)
    first = lpips_distance(a, b, "alex-randlin-0").item()
    assert lpips_distance(a, b, "alex-randlin-0").item() == first  # reproducible from its seed
    assert lpips_distance(a, b, "alex-randlin-1").item() != first  # and moves with the seed
    assert first != lpips_distance(a, b, "alex-lin").item()
    assert not any("randlin" in v for v in VARIANTS)
    assert variant_backbone("vgg-randlin-3") == "vgg"
    with pytest.raises(UnknownVariant, match="alex-randlin-<seed>"):
        load_lpips("alex-randlin")
