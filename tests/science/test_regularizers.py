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
