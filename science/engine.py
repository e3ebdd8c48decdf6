"""Generate identically represented inputs (IRIs) by gradient descent (SCIENCE.md §1, Eq. 2).

Plain PyTorch, no Django. The optimisation loop is pure: it neither stores nor displays
anything; a caller that wants progress passes ``on_step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

from science.fourier import AuthorsFourierImage, FourierImage

Representation = Callable[[Tensor], Tensor]
"""Maps images in [0, 1] (N×C×H×W) to representations (N×...); normalisation inside."""

Penalty = Callable[[Tensor, Tensor], Tensor]
"""``lambda * R(x, targets)`` → per-image penalty (N,), for images in [0, 1]."""

Transform = Callable[[Tensor, torch.Generator | None], Tensor]
"""A random transform of images in [0, 1], drawn from the generator (transformation robustness)."""

Update = Literal["normalized", "sgd", "adam"]
Schedule = Literal["constant", "cosine"]
Precision = Literal["auto", "fp32", "tf32", "bf16"]


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 convolutions in hardware: a CUDA GPU with bf16, or a CPU
    with AMX or AVX512-BF16 (where oneDNN's bf16 kernels are several times fp32's speed;
    elsewhere bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def autocast_dtype(precision: Precision, device: torch.device) -> torch.dtype | None:
    """The dtype ``invert`` runs the network under for a precision setting.

    ``bf16``: always bf16; ``auto``: bf16 where the device computes it natively, else fp32;
    ``fp32`` and ``tf32`` (a CUDA matmul mode, not an autocast dtype): none. Whatever the
    precision, the kept iterates are scored again in fp32.
    """
    if precision == "bf16" or (precision == "auto" and native_bf16(device)):
        return torch.bfloat16
    return None


FP32_TAIL = 0.1
"""Share of the steps (the last ones) that run in fp32 when ``invert`` is given an autocast dtype."""

SURROGATE_ANNEAL = 0.7
"""Share of the steps over which the surrogate gradient fades to zero; exact gradients after."""

_RELUS = {F.relu, torch.relu, Tensor.relu}
"""ReLUs whose result is what the caller uses. ``x.relu_()`` and ``torch.relu_(x)`` are left
exact: code may call them for their effect on ``x`` alone, which a new tensor would not have.
``F.relu(x, inplace=True)`` (``nn.ReLU(inplace=True)``) returns its result and is softened."""
_MAX_POOLS = {F.max_pool2d, torch.max_pool2d}


class SurrogateGradients(TorchFunctionMode):
    """Exact forward values, softened backward through ReLUs and max-pools.

    Regularizer-free inversion of late layers stalls on units that are off in the IRI but on in
    the target: a ReLU passes them no gradient, and a max-pool passes gradient to one pixel of
    its window. Inside this mode each ReLU also passes ``weight`` times the gradient of its
    negative part and each max-pool adds ``weight`` times an average-pool's gradient, through
    terms of the form ``weight * (a - a.detach())``, which are exactly zero in the forward pass:
    losses, distances and the kept iterates are those of the real network. Networks compiled
    to TorchScript do not call Python functions and keep their exact gradients.
    """

    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _RELUS and torch.is_grad_enabled():
            x = args[0]
            negative = x.clamp_max(0)
            # Not in place even when asked: autograd needs ``x`` for the surrogate term.
            return torch.relu(x) + self.weight * (negative - negative.detach())
        out = func(*args, **kwargs)
        if func in _MAX_POOLS and torch.is_grad_enabled() and isinstance(out, Tensor):
            spread = _average_pool_like(args, kwargs)
            if spread is not None:
                out = out + self.weight * (spread - spread.detach())
        return out


def _average_pool_like(args: tuple, kwargs: dict) -> Tensor | None:
    """The average pool over a max-pool call's windows (None where none matches it)."""
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    call = dict(zip(names, args, strict=False)) | kwargs
    dilation = call.get("dilation", 1)
    if call.get("return_indices") or dilation not in (1, (1, 1), [1, 1]):
        return None
    return F.avg_pool2d(
        call["input"],
        call["kernel_size"],
        call.get("stride") or None,
        call.get("padding", 0),
        ceil_mode=call.get("ceil_mode", False),
        count_include_pad=False,
    )


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
    penalty_weight: float | Literal["adaptive", "adaptive-batch"] = 1.0,
    transform: Transform | None = None,
    fourier: bool | Literal["authors"] = False,
    surrogate: float = 0.0,
    autocast: torch.dtype | None = None,
    generator: torch.Generator | None = None,
    on_step: Callable[[int, Tensor], None] | None = None,
) -> InversionResult:
    """Minimise ``rep_weight * ||g(xt) - g(x)|| / ||g(xt)|| + s * penalty(x, xt)`` per image.

    ``targets`` (N×C×H×W) are pixels in [0, 1] (noise targets may be raw draws outside it);
    ``seeds`` (broadcastable to them) enter the first step raw, unclamped, as in the authors'
    code (a ``torch.randn`` seed): the clamp to [0, 1] follows each update. ``s`` is
    ``penalty_weight``, or with ``"adaptive"`` each image's ``rep / |penalty|`` at the first step,
    then fixed (the authors' adversarial scaling, per image so that batching changes nothing); with
    ``"adaptive-batch"`` their own form: one value for the batch, ``mean(rep) / mean(|penalty|)``
    at the first step (so an image's IRI then depends on its batch, as theirs did).
    Updates: ``normalized`` (the default) — the authors' fixed-length step
    ``x -= step * g / (||g|| + 1e-10)`` per image;
    ``sgd`` — plain gradient descent with learning rate ``step_size`` (the paper's text, 0.1);
    ``adam`` — Adam with learning rate ``step_size``. ``schedule='cosine'`` anneals the step
    size to zero over ``steps``. ``x`` is clamped to [0, 1] after every step and each image
    keeps its lowest-loss iterate. Images never influence each other: every term is per image
    and every update rule acts per image (Adam elementwise), so batching changes speed only.
    ``transform(x, generator)`` is applied before ``model`` during optimisation (transformation
    robustness); kept iterates are scored without it. ``fourier="authors"``: the authors'
    form (``AuthorsFourierImage``), whose ``seeds`` are spectra of its ``shape`` (N or 1 of them).
    ``fourier=True`` optimises a scaled
    spectrum instead of the pixels (Fourier preconditioning; images stay in [0, 1] through a
    sigmoid, so nothing is clamped). ``surrogate`` > 0 softens the network's gradients through
    ReLUs and max-pools (see ``SurrogateGradients``), fading linearly to exact gradients over the
    first ``SURROGATE_ANNEAL`` of the steps: late layers converge far further in the same steps,
    and every loss and distance is still the real network's. ``autocast`` runs the network under that dtype (bf16, say)
    for all but the last ``FP32_TAIL`` of the steps, which run in fp32; the loss and the update
    stay fp32. ``on_step(step, loss)`` sees each step's
    per-image loss (a device tensor: reading it forces a sync, so read it sparingly).
    """
    if steps < 0:
        raise ValueError("steps must be >= 0")
    device_type = targets.device.type

    # Mixed precision for speed, then the last FP32_TAIL of the steps in fp32 to polish what
    # bf16's rounding leaves (about 1-2% of the loss at small distances, measured).
    low_until = steps - math.ceil(FP32_TAIL * steps) if autocast is not None else 0

    def g(images: Tensor, step: int) -> Tensor:
        if step >= low_until:
            return model(images)
        with torch.autocast(device_type=device_type, dtype=autocast):
            return model(images).float()

    with torch.no_grad():
        rep_target = model(targets).detach()
    n = targets.shape[0]
    if fourier == "authors":
        # Their seeds are spectra (raw randn of the parameters' shape), not encoded images.
        spectrum: FourierImage | AuthorsFourierImage | None = AuthorsFourierImage(
            *targets.shape[-2:], device=targets.device
        )
        param = seeds.expand(n, *spectrum.shape).clone().requires_grad_(True)
        x0 = spectrum.decode(param.detach())
    else:
        x0 = seeds.expand_as(targets)
        spectrum = FourierImage(*targets.shape[-2:], device=targets.device) if fourier else None
        param = (spectrum.encode(x0) if spectrum else x0).clone().requires_grad_(True)

    def image_of(p: Tensor) -> Tensor:
        return spectrum.decode(p) if spectrum else p

    best = x0.clone()
    best_loss = torch.full((n,), math.inf, device=targets.device)
    best_rep = torch.full((n,), math.inf, device=targets.device)
    best_step = torch.zeros(n, dtype=torch.long, device=targets.device)
    history = []
    optimizer = torch.optim.Adam([param], lr=step_size) if update == "adam" else None

    scale: Tensor | float | None = None if penalty_weight in ("adaptive", "adaptive-batch") else penalty_weight

    def objective(images: Tensor, *, step: int, soften: float) -> tuple[Tensor, Tensor]:
        nonlocal scale
        train = step < steps
        inp = transform(images, generator) if (train and transform is not None) else images
        with SurrogateGradients(soften) if soften > 0 else nullcontext():
            rep = g(inp, step)
        rep_dist = relative_distance(rep_target, rep)
        loss = rep_weight * rep_dist
        if penalty is not None:
            term = penalty(images, targets)
            if scale is None and penalty_weight == "adaptive-batch":
                # The authors' form: one value for the batch, mean(rep) / mean(|penalty|).
                scale = (loss.mean() / term.abs().mean().clamp_min(1e-12)).detach()
            elif scale is None:
                scale = (loss / term.abs().clamp_min(1e-12)).detach()
            loss = loss + scale * term
        return loss, rep_dist

    for step in range(steps + 1):
        lr = step_size if schedule == "constant" else 0.5 * step_size * (1 + math.cos(math.pi * step / max(steps, 1)))
        x = image_of(param)
        soften = surrogate * max(0.0, 1 - step / (SURROGATE_ANNEAL * max(steps, 1)))
        loss, rep_dist = objective(x, step=step, soften=soften)
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
                norm = grad.flatten(1).norm(dim=1).view(-1, *([1] * (grad.dim() - 1)))
                param -= lr * grad / (norm + 1e-10)
            else:
                param -= lr * grad
            if spectrum is None:
                param.clamp_(0, 1)
            elif isinstance(spectrum, AuthorsFourierImage):
                spectrum.project(param)
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
