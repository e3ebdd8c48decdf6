"""Generate identically represented inputs (IRIs) by gradient descent (SCIENCE.md §1, Eq. 2).

Plain PyTorch, no Django. The optimisation loop is pure: it neither stores nor displays
anything; a caller that wants progress passes ``on_step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from inversion.fourier import FourierImage

Representation = Callable[[Tensor], Tensor]
"""Maps images in [0, 1] (N×C×H×W) to representations (N×...); normalisation inside."""

Penalty = Callable[[Tensor, Tensor], Tensor]
"""``lambda * R(x, targets)`` → per-image penalty (N,), for images in [0, 1]."""

Transform = Callable[[Tensor, torch.Generator | None], Tensor]
"""A random transform of images in [0, 1], drawn from the generator (transformation robustness)."""

Update = Literal["normalized", "sgd", "adam"]
Schedule = Literal["constant", "cosine"]


@dataclass(frozen=True)
class InversionResult:
    images: Tensor
    """Best iterate per image (lowest loss seen), in [0, 1], N×C×H×W, on the input device."""
    rep_distance: Tensor
    """Per image ``||g(xt) - g(xr)|| / ||g(xt)||`` at the kept iterate (N,)."""
    loss: Tensor
    """Per image total loss at the kept iterate (N,)."""
    history: Tensor
    """Loss per step and image (steps+1 × N), on the CPU."""
    best_step: Tensor
    """Step at which each kept iterate was reached (N,)."""


def relative_distance(rep_target: Tensor, rep: Tensor) -> Tensor:
    """``||a - b||_2 / ||a||_2`` per image over flattened representations."""
    a = rep_target.flatten(1)
    b = rep.flatten(1)
    return (a - b).norm(dim=1) / a.norm(dim=1).clamp_min(1e-12)


def invert(
    model: Representation,
    targets: Tensor,
    seeds: Tensor,
    *,
    steps: int,
    update: Update = "normalized",
    step_size: float = 1.0,
    schedule: Schedule = "constant",
    penalty: Penalty | None = None,
    rep_weight: float = 1.0,
    transform: Transform | None = None,
    fourier: bool = False,
    autocast: torch.dtype | None = None,
    generator: torch.Generator | None = None,
    on_step: Callable[[int, Tensor], None] | None = None,
) -> InversionResult:
    """Minimise ``rep_weight * ||g(xt) - g(x)|| / ||g(xt)|| + penalty(x, xt)`` per image.

    ``targets`` (N×C×H×W) and ``seeds`` (broadcastable to it) are pixels in [0, 1]. Updates:
    ``normalized`` (the default) — the authors' fixed-length step ``x -= step * g / ||g||`` per image;
    ``sgd`` — plain gradient descent with learning rate ``step_size`` (the paper's text, 0.1);
    ``adam`` — Adam with learning rate ``step_size``. ``schedule='cosine'`` anneals the step
    size to zero over ``steps``. ``x`` is clamped to [0, 1] after every step and each image
    keeps its lowest-loss iterate. Images never influence each other: every term is per image
    and every update rule acts per image (Adam elementwise), so batching changes speed only.
    ``transform(x, generator)`` is applied before ``model`` during optimisation (transformation
    robustness); kept iterates are scored without it. ``fourier=True`` optimises a scaled
    spectrum instead of the pixels (Fourier preconditioning; images stay in [0, 1] through a
    sigmoid, so nothing is clamped). ``autocast`` runs the network under that dtype (bf16 on
    CUDA, say); the loss and the update stay fp32. ``on_step(step, loss)`` sees each step's
    per-image loss (a device tensor: reading it forces a sync, so read it sparingly).
    """
    if steps < 0:
        raise ValueError("steps must be >= 0")
    device_type = targets.device.type

    def g(images: Tensor) -> Tensor:
        if autocast is None:
            return model(images)
        with torch.autocast(device_type=device_type, dtype=autocast):
            return model(images).float()

    with torch.no_grad():
        rep_target = g(targets).detach()
    x0 = seeds.expand_as(targets).clamp(0, 1)
    spectrum = FourierImage(*targets.shape[-2:], device=targets.device) if fourier else None
    param = (spectrum.encode(x0) if spectrum else x0).clone().requires_grad_(True)

    def image_of(p: Tensor) -> Tensor:
        return spectrum.decode(p) if spectrum else p

    n = targets.shape[0]
    best = x0.clone()
    best_loss = torch.full((n,), math.inf, device=targets.device)
    best_rep = torch.full((n,), math.inf, device=targets.device)
    best_step = torch.zeros(n, dtype=torch.long, device=targets.device)
    history = []
    optimizer = torch.optim.Adam([param], lr=step_size) if update == "adam" else None

    def objective(images: Tensor, *, train: bool) -> tuple[Tensor, Tensor]:
        inp = transform(images, generator) if (train and transform is not None) else images
        rep_dist = relative_distance(rep_target, g(inp))
        loss = rep_weight * rep_dist
        if penalty is not None:
            loss = loss + penalty(images, targets)
        return loss, rep_dist

    for step in range(steps + 1):
        lr = step_size if schedule == "constant" else 0.5 * step_size * (1 + math.cos(math.pi * step / max(steps, 1)))
        x = image_of(param)
        loss, rep_dist = objective(x, train=step < steps)
        with torch.no_grad():
            # Keep the best iterate seen (the one this loss was measured on).
            improved = loss.detach() < best_loss
            best_loss = torch.where(improved, loss.detach(), best_loss)
            best_rep = torch.where(improved, rep_dist.detach(), best_rep)
            best_step = torch.where(improved, step, best_step)
            best = torch.where(improved.view(-1, 1, 1, 1), x.detach(), best)
            history.append(loss.detach())
        if on_step is not None:
            on_step(step, loss.detach())
        if step == steps:
            break
        (grad,) = torch.autograd.grad(loss.sum(), param)
        with torch.no_grad():
            if optimizer is not None:
                for group in optimizer.param_groups:
                    group["lr"] = lr
                param.grad = grad
                optimizer.step()
            elif update == "normalized":
                norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (grad.dim() - 1)))
                param -= lr * grad / norm
            else:
                param -= lr * grad
            if spectrum is None:
                param.clamp_(0, 1)
    if transform is not None or penalty is not None or autocast is not None:
        # The representation distance of the kept iterate, in fp32 and without random transforms.
        with torch.no_grad():
            best_rep = relative_distance(model(targets), model(best))
    return InversionResult(
        images=best,
        rep_distance=best_rep,
        loss=best_loss,
        history=torch.stack(history).cpu(),
        best_step=best_step,
    )
