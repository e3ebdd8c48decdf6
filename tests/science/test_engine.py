import pytest
import torch

from science import engine
from science.engine import autocast_dtype, invert, relative_distance
from science.images import fit, sample_photographs, to_tensor
from science.perceptual import lpips_distance


def identity(x):
    return x


def mean_colour(x):
    return x.mean(dim=(2, 3))


@pytest.fixture
def targets():
    g = torch.Generator().manual_seed(1)
    # Smooth images: 8×8 noise upsampled to 32×32, in [0, 1].
    return torch.nn.functional.interpolate(torch.rand(4, 3, 8, 8, generator=g), size=32, mode="bilinear")


@pytest.fixture
def seed():
    return torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)).clamp(0, 1)


def test_identity_network_iris_equal_their_targets_and_lpips_calls_them_aligned(targets, seed):
    result = invert(identity, targets, seed, steps=300, update="adam", step_size=0.01, schedule="cosine")
    assert (result.images - targets).abs().max() < 0.02
    assert (result.rep_distance < 0.02).all()
    x0 = seed.expand_as(targets)
    closer_to_target = lpips_distance(result.images, targets) <= lpips_distance(result.images, x0)
    assert closer_to_target.float().mean() == 1.0


def test_mean_colour_network_leaves_iris_near_the_seed_and_lpips_calls_them_unaligned(targets, seed):
    result = invert(mean_colour, targets, seed, steps=200, update="adam", step_size=0.01, schedule="cosine")
    assert (result.rep_distance < 0.01).all()
    x0 = seed.expand_as(targets)
    closer_to_target = lpips_distance(result.images, targets) <= lpips_distance(result.images, x0)
    assert closer_to_target.float().mean() == 0.0


@pytest.mark.parametrize("update", ["adam", "normalized", "sgd"])
def test_batching_changes_nothing(targets, seed, update):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2)).eval()
    g = torch.Generator().manual_seed(0)
    torch.nn.init.normal_(net[0].weight, generator=g)
    torch.nn.init.normal_(net[0].bias, std=0.1, generator=g)
    step = 0.5 if update == "normalized" else 0.05
    together = invert(net, targets, seed, steps=20, update=update, step_size=step)
    alone = [invert(net, targets[i : i + 1], seed, steps=20, update=update, step_size=step) for i in range(4)]
    assert torch.allclose(together.images, torch.cat([a.images for a in alone]), atol=1e-5)
    assert torch.allclose(together.rep_distance, torch.cat([a.rep_distance for a in alone]), atol=1e-5)


def test_normalized_step_has_the_given_length():
    targets = torch.full((2, 3, 8, 8), 0.9)
    seed = torch.full((1, 3, 8, 8), 0.5)
    result = invert(identity, targets, seed, steps=1, update="normalized", step_size=0.3, schedule="constant")
    moved = (result.images - seed).flatten(1).norm(dim=1)
    assert torch.allclose(moved, torch.full((2,), 0.3), atol=1e-5)


def test_keeps_each_images_best_iterate_not_the_last():
    targets = torch.full((1, 3, 4, 4), 0.6)
    seed = torch.full((1, 3, 4, 4), 0.5)
    # A constant step of 1.0 overshoots: later iterates are worse than the first ones.
    result = invert(identity, targets, seed, steps=5, update="normalized", step_size=1.0, schedule="constant")
    assert result.loss.item() == pytest.approx(result.history.min().item())
    assert result.best_step.item() < 5


def test_iterates_stay_in_the_unit_range(targets):
    seed = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 5
    result = invert(identity, targets, seed, steps=10, update="sgd", step_size=10.0)
    assert result.images.min() >= 0
    assert result.images.max() <= 1


def test_relative_distance_is_zero_for_equal_and_one_for_zero():
    a = torch.rand(3, 10)
    assert torch.allclose(relative_distance(a, a), torch.zeros(3))
    assert torch.allclose(relative_distance(a, torch.zeros_like(a)), torch.ones(3))


def test_the_authors_update_is_the_default():
    targets = torch.full((1, 3, 8, 8), 0.9)
    seed = torch.full((1, 3, 8, 8), 0.5)
    result = invert(identity, targets, seed, steps=1)
    assert torch.allclose((result.images - seed).norm(), torch.tensor(1.0), atol=1e-5)


def test_bf16_autocast_stays_within_tolerance_of_fp32():
    from science.networks import IMAGENET_MEAN, IMAGENET_STD, LayerRepresentation, build_network

    g = LayerRepresentation(build_network("builtin", "alexnet-imagenet"), "3", IMAGENET_MEAN, IMAGENET_STD)
    gen = torch.Generator().manual_seed(0)
    targets = torch.nn.functional.interpolate(torch.rand(2, 3, 16, 16, generator=gen), size=64, mode="bilinear")
    seed = torch.rand(1, 3, 64, 64, generator=gen)
    kwargs = {"steps": 40, "update": "adam", "step_size": 0.05, "schedule": "cosine"}
    fp32 = invert(g, targets, seed, **kwargs)
    bf16 = invert(g, targets, seed, autocast=torch.bfloat16, **kwargs)
    # The stated tolerance: representation distances within 0.02 of fp32's (scored in fp32).
    assert (bf16.rep_distance - fp32.rep_distance).abs().max() < 0.02


@pytest.mark.parametrize(
    ("precision", "native", "dtype"),
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, None),
        ("bf16", False, torch.bfloat16),
        ("fp32", True, None),
        ("tf32", True, None),
    ],
)
def test_auto_precision_takes_bf16_only_where_the_hardware_has_it(monkeypatch, precision, native, dtype):
    monkeypatch.setattr(engine, "native_bf16", lambda device: native)
    assert autocast_dtype(precision, torch.device("cpu")) is dtype


def test_native_bf16_is_false_off_cpu_and_cuda():
    assert engine.native_bf16(torch.device("meta")) is False


def _relu_pool_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(inplace=True), torch.nn.MaxPool2d(3, 2), torch.nn.Flatten()
    ).requires_grad_(False)


def test_surrogate_gradients_keep_forward_values_and_reach_dead_units_and_pooled_pixels():
    net = _relu_pool_net()
    x = torch.rand(2, 3, 9, 9)
    exact_x = x.clone().requires_grad_(True)
    exact = net(exact_x)
    exact.sum().backward()
    soft_x = x.clone().requires_grad_(True)
    with engine.SurrogateGradients(0.2):
        soft = net(soft_x)
    soft.sum().backward()
    assert torch.equal(soft, exact)
    # Exact gradients skip pixels that feed only switched-off units or non-maximal positions;
    # the surrogate reaches every pixel of the receptive fields.
    assert (exact_x.grad == 0).sum() > (soft_x.grad == 0).sum()
    assert not torch.equal(soft_x.grad, exact_x.grad)


class _ReluForItsEffect(torch.nn.Module):
    def forward(self, x):
        x = x * 2
        x.relu_()  # the result is discarded: only the change to ``x`` counts
        return x


def test_surrogate_gradients_leave_in_place_relus_for_their_effect_exact():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    with engine.SurrogateGradients(0.2):
        out = _ReluForItsEffect()(x)
    assert torch.equal(out, (2 * x).clamp_min(0))


def test_surrogate_gradients_take_a_late_layer_closer_in_equal_steps():
    from science.networks import IMAGENET_MEAN, IMAGENET_STD, LayerRepresentation, build_network

    g = LayerRepresentation(build_network("builtin", "alexnet-imagenet"), "10", IMAGENET_MEAN, IMAGENET_STD)
    targets = torch.stack([to_tensor(fit(img, 96)) for _, img in sample_photographs(4)])
    seed = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    kwargs = {"steps": 150, "update": "adam", "step_size": 0.1, "schedule": "cosine"}
    exact = invert(g, targets, seed, **kwargs)
    soft = invert(g, targets, seed, surrogate=0.2, **kwargs)
    # The reported distances are the real network's, recomputed here to be sure.
    assert torch.allclose(soft.rep_distance, relative_distance(g(targets), g(soft.images)), atol=1e-4)
    # Measured: every image closer, the median about 0.55-0.65 of exact gradients'.
    assert (soft.rep_distance < exact.rep_distance).all()
    assert soft.rep_distance.median() < 0.75 * exact.rep_distance.median()


def _authors_attacker(g, targets, seed, steps, step_size=1.0):
    """A transcription of the authors' attack loop (the robustness library's targeted L2 attack
    with their regularizer-free loss): the raw seed enters the first step, each step moves
    ``x + s * grad / (||grad|| + 1e-10)`` along the gradient of the negated loss, then clamps;
    the best iterate is replaced on a strictly lower loss, and the final iterate is re-scored."""
    rep_target = g(targets).detach().flatten(1)

    def losses_of(x):
        rep = g(x).flatten(1)
        return (rep - rep_target).norm(dim=1) / rep_target.norm(dim=1)

    def replace_best(loss, best_loss, x, best_x):
        if best_loss is None:
            return loss.clone().detach(), x.clone().detach()
        replace = -best_loss < -loss
        best_x[replace] = x[replace].clone().detach()
        best_loss[replace] = loss[replace]
        return best_loss, best_x

    x = seed.expand_as(targets).clone()
    best_loss = best_x = None
    for _ in range(steps):
        x = x.clone().detach().requires_grad_(True)
        losses = losses_of(x)
        (grad,) = torch.autograd.grad(-losses.mean(), [x])
        with torch.no_grad():
            best_loss, best_x = replace_best(losses, best_loss, x, best_x)
            norm = grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            x = (x + grad / (norm + 1e-10) * step_size).clamp(0, 1)
    with torch.no_grad():
        best_loss, best_x = replace_best(losses_of(x), best_loss, x, best_x)
    return best_x


def test_invert_with_its_defaults_is_the_authors_attacker_on_the_same_raw_seed():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 4, 3)
    ).eval()
    net.requires_grad_(False)
    targets = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    raw_seed = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))  # not clamped
    assert raw_seed.min() < 0 and raw_seed.max() > 1
    theirs = _authors_attacker(net, targets, raw_seed, steps=40, step_size=0.5)
    ours = invert(net, targets, raw_seed, steps=40, step_size=0.5)
    assert (ours.images - theirs).abs().max() < 1e-4
    assert ours.images.min() >= 0 and ours.images.max() <= 1


def _mean_colour(x):
    """A toy representation: each image's mean colour."""
    return x.mean((2, 3))


def _negative_mse(x, t):
    """A toy adversarial penalty: minus the mean squared difference from the target."""
    return -(x - t).pow(2).flatten(1).mean(1)


def test_the_authors_batch_adaptive_weight_is_one_mean_ratio_for_the_batch_then_fixed():
    g, penalty = _mean_colour, _negative_mse
    targets = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    seeds = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    batch = invert(g, targets, seeds, steps=5, penalty=penalty, penalty_weight="adaptive-batch", update="sgd")
    # Their scaling_factor: mean(rep) / mean(LPIPS) over the batch at the first call, then kept.
    ratio = float(relative_distance(g(targets), g(seeds)).mean() / penalty(seeds, targets).abs().mean())
    fixed = invert(g, targets, seeds, steps=5, penalty=penalty, penalty_weight=ratio, update="sgd")
    assert torch.allclose(fixed.images, batch.images, atol=1e-6)
    per_image = invert(g, targets, seeds, steps=5, penalty=penalty, penalty_weight="adaptive", update="sgd")
    assert not torch.allclose(per_image.images, batch.images, atol=1e-6)


def test_adaptive_penalty_weight_is_each_images_first_step_ratio_then_fixed():
    g, penalty = _mean_colour, _negative_mse
    targets = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    seeds = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    adaptive = invert(g, targets, seeds, steps=5, penalty=penalty, penalty_weight="adaptive", update="sgd")
    # At the first step the two terms cancel exactly: rep - (rep / |p|) * |p| = 0.
    assert torch.allclose(adaptive.history[0], torch.zeros(2), atol=1e-6)
    for i in range(2):  # each image's own ratio, fixed after the first step: a fixed weight reproduces it
        ratio = float(
            relative_distance(g(targets[i : i + 1]), g(seeds[i : i + 1]))
            / penalty(seeds[i : i + 1], targets[i : i + 1]).abs()
        )
        fixed = invert(
            g, targets[i : i + 1], seeds[i : i + 1], steps=5, penalty=penalty, penalty_weight=ratio, update="sgd"
        )
        assert torch.allclose(fixed.images[0], adaptive.images[i], atol=1e-6)
