import math

import pytest
import torch
import torch.nn.functional as F

from inversion.config import InversionConfig, invert_options
from science import regularizers
from science.engine import invert
from science.perceptual import lpips_distance

STEPS = 150


def block_means(x):
    """A network with big invariances: it keeps only 4×4 block means."""
    return F.avg_pool2d(x, 4)


@pytest.fixture
def targets():
    return torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def seed():
    return torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)).clamp(0, 1)


def _run(targets, seed, **config):
    cfg = InversionConfig(steps=STEPS, **config)
    options = invert_options(
        cfg, device=torch.device("cpu"), image_size=32, autocast=None, generator=torch.Generator().manual_seed(0)
    )
    return invert(block_means, targets, seed, **options)


def test_total_variation_lowers_total_variation(targets, seed):
    free = _run(targets, seed)
    tv = _run(targets, seed, tv_weight=0.5)
    assert (regularizers.total_variation(tv.images) < 0.5 * regularizers.total_variation(free.images)).all()
    assert (tv.rep_distance < 0.1).all()


def test_lp_norm_pulls_extreme_pixels_in(targets, seed):
    free = _run(targets, seed)
    lp = _run(targets, seed, lp_weight=1.0, lp_p=6)
    assert (regularizers.lp_norm(lp.images, 6) < regularizers.lp_norm(free.images, 6)).all()


def test_blur_robustness_makes_iris_closer_to_their_blur(targets, seed):
    free = _run(targets, seed)
    blur = _run(targets, seed, blur_weight=5.0)
    assert (regularizers.blur_robustness(blur.images) < 0.5 * regularizers.blur_robustness(free.images)).all()


def test_transformation_robustness_makes_iris_survive_transforms(targets, seed):
    def g(x):
        return F.avg_pool2d(x, 2)  # sensitive to shifts, unlike block means at stride 4

    transform = regularizers.random_transform(pad=0, jitter=1, scale=0.05, degrees=5.0)
    free = invert(g, targets, seed, steps=STEPS)
    robust = invert(g, targets, seed, steps=STEPS, transform=transform, generator=torch.Generator().manual_seed(0))

    def transformed_distance(images):
        gen = torch.Generator().manual_seed(123)
        rt = g(targets)
        return torch.stack([(g(transform(images, gen)) - rt).flatten(1).norm(dim=1) for _ in range(20)]).mean(0)

    assert transformed_distance(robust.images).mean() < transformed_distance(free.images).mean()


def test_fourier_parameterisation_yields_valid_images_that_converge(targets, seed):
    result = _run(targets, seed, fourier=True, step_size=0.2)
    assert result.images.min() >= 0
    assert result.images.max() <= 1
    assert (result.rep_distance < 0.1).all()


def test_adversarial_lpips_moves_away_from_the_target_while_keeping_the_representation(targets, seed):
    free = _run(targets, seed, rep_weight=10)
    adversarial = _run(targets, seed, rep_weight=10, lpips_weight=1.0, lpips_variant="alex-lin")
    assert (lpips_distance(adversarial.images, targets) > lpips_distance(free.images, targets)).all()
    assert (adversarial.rep_distance < 0.05).all()


def test_config_names_the_family():
    assert InversionConfig().regularizer == "none"
    assert InversionConfig(tv_weight=1, transform=True).regularizer == "human-leaning(tv+transform)"
    assert InversionConfig(lpips_weight=1).regularizer.startswith("adversarial")


def test_authors_total_variation_is_their_sum_of_squared_differences():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])
    # Down the rows: (0.5-0)^2 + (0.25-1)^2; across: (1-0)^2 + (0.25-0.5)^2.
    expected = 0.25 + 0.5625 + 1.0 + 0.0625
    assert regularizers.total_variation_authors(x).item() == pytest.approx(expected)
    assert regularizers.total_variation_authors(torch.full((2, 3, 8, 8), 0.3)).tolist() == [0.0, 0.0]


def test_authors_lp_forms_are_their_l1_about_a_half_and_uncentred_lp_norm():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.75]]]])
    assert regularizers.lp_norm_authors(x, 1).item() == pytest.approx(0.5 + 0.5 + 0 + 0.25)
    assert regularizers.lp_norm_authors(x, 6).item() == pytest.approx((1 + 0.5**6 + 0.75**6) ** (1 / 6))


def test_authors_blur_is_their_normalised_three_by_three_kernel():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 0] = 1.0
    kernel = torch.full((3, 3), 0.5)
    kernel[1, 1] = 1.0
    # The corner pixel's blur: its own weight (1) over the four weights inside the image (1 + 3·0.5);
    # the centre's: one corner neighbour (0.5) over all nine weights (1 + 8·0.5).
    blurred = torch.zeros(3, 3)
    padded = F.pad(x[0, 0], (1, 1, 1, 1))
    coverage = F.pad(torch.ones(3, 3), (1, 1, 1, 1))
    for i in range(3):
        for j in range(3):
            window = (slice(i, i + 3), slice(j, j + 3))
            blurred[i, j] = (padded[window] * kernel).sum() / (coverage[window] * kernel).sum()
    assert blurred[0, 0] == pytest.approx(1 / 2.5) and blurred[1, 1] == pytest.approx(0.5 / 5)
    expected = 0.5 * ((x[0, 0] - blurred) ** 2).sum()
    assert regularizers.blur_robustness_authors(x).item() == pytest.approx(expected.item())


def test_authors_transform_chain_pads_with_grey_and_follows_its_generator():
    transform = regularizers.random_transform_authors(pad=12)
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    a = transform(x, torch.Generator().manual_seed(5))
    b = transform(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert a.shape[:2] == (2, 3) and a.shape[-1] >= 248 * 0.9  # padded by 12 a side, then scaled by 0.9–1.1
    # The padding is constant grey (0.5), not reflected content: a black image comes out with grey in it.
    black = transform(torch.zeros(1, 3, 224, 224), torch.Generator().manual_seed(5))
    assert ((black - 0.5).abs() < 1e-3).any()
    sizes = {transform(x, torch.Generator().manual_seed(s)).shape[-1] for s in range(40)}
    # Scaled up, the image grows; scaled down, it is padded back by whole pixels a side (as theirs).
    expected = {
        math.ceil(f * 248) + 2 * max(0, math.ceil((248 - math.ceil(f * 248)) / 2)) for f in regularizers.AUTHORS_SCALES
    }
    assert sizes <= expected
    assert len(sizes) > 1


def test_paper_preset_uses_the_authors_forms():
    config = InversionConfig.from_dict({"preset": "paper", "tv_weight": 0.0005, "transform": True})
    assert config.penalty_form == "authors"
    assert config.regularizer == "human-leaning(tv+transform, authors' forms)"
    options = invert_options(
        config, device=torch.device("cpu"), image_size=224, autocast=None, generator=torch.Generator().manual_seed(0)
    )
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    assert options["penalty"](x, x).item() == pytest.approx(0.0005 * regularizers.total_variation_authors(x).item())
    assert options["transform"](x, torch.Generator().manual_seed(0)).shape[-1] != 224
    with pytest.raises(ValueError, match="penalty_form must be one of metamer, authors"):
        InversionConfig(penalty_form="lucid")
