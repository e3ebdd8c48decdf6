"""The regularizer families of SCIENCE.md §1, as per-image penalties and transforms.

- regularizer-free: no penalty (the paper's recommendation for comparing models);
- human-leaning: total variation (+ an Lp norm), blur robustness, transformation robustness
  (optimise through random jitter, scale and rotation), Fourier-domain preconditioning;
- adversarial: ``-LPIPS(x, xt)``, pushing the IRI perceptually away from its target.

Each human-leaning part comes in two forms: Metamer's (means over pixels, so a weight means
the same at every image size) and the authors' exact one (``*_authors``: sums, their 3×3 blur
and their transformation chain), for reproducing their numbers. Every penalty is per image, so
images in a batch never influence each other.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.functional import gaussian_blur

from science.engine import Penalty, Transform
from science.perceptual import load_lpips


def total_variation(x: Tensor) -> Tensor:
    """Mean absolute difference of neighbouring pixels, per image (x in [0, 1])."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1)
    return dh + dw


def lp_norm(x: Tensor, p: float) -> Tensor:
    """``mean(|x - 0.5|^p)^(1/p)`` per image: penalises extreme pixels (x in [0, 1])."""
    return (x - 0.5).abs().pow(p).flatten(1).mean(1).pow(1 / p)


def blur_robustness(x: Tensor, sigma: float = 1.0) -> Tensor:
    """``||x - stopgrad(blur(x))||^2`` per image (mean over pixels)."""
    blurred = gaussian_blur(x.detach(), kernel_size=[5, 5], sigma=[sigma, sigma])
    return (x - blurred).pow(2).flatten(1).mean(1)


def total_variation_authors(x: Tensor) -> Tensor:
    """The authors' ``TVLoss(beta=2)``: the sum of squared neighbour differences, per image."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).pow(2).flatten(1).sum(1)
    dw = (x[..., :, 1:] - x[..., :, :-1]).pow(2).flatten(1).sum(1)
    return dh + dw


def lp_norm_authors(x: Tensor, p: float) -> Tensor:
    """The authors' ``L1Loss(constant=0.5)`` for p = 1 (``sum |x - 0.5|``) and ``LpLoss(p)``
    otherwise (``||x||_p``, not centred), per image (x in [0, 1])."""
    if p == 1:
        return (x - 0.5).abs().flatten(1).sum(1)
    return torch.linalg.vector_norm(x.flatten(1), ord=p, dim=1)


def blur_robustness_authors(x: Tensor) -> Tensor:
    """The authors' ``BlurLoss``: ``0.5 * sum (x - stopgrad(blur(x)))^2`` per image, where the
    blur is a per-channel 3×3 kernel (1 in the centre, 0.5 around it) normalised by its
    coverage, so borders are averaged over the pixels that exist."""
    kernel = torch.full((3, 3), 0.5, dtype=x.dtype, device=x.device)
    kernel[1, 1] = 1.0
    weight = kernel.expand(x.shape[1], 1, 3, 3)
    with torch.no_grad():
        blurred = F.conv2d(x, weight, padding=1, groups=x.shape[1])
        blurred = blurred / F.conv2d(torch.ones_like(x), weight, padding=1, groups=x.shape[1])
    return 0.5 * (x - blurred).pow(2).flatten(1).sum(1)


def adversarial_lpips(variant: str, device: torch.device, cache_dir: Path | None = None) -> Penalty:
    """``-LPIPS(x, xt)`` per image, for images and targets in [0, 1]."""
    model = load_lpips(variant, device=device, cache_dir=cache_dir)
    return lambda x, targets: -model(x, targets, normalize=True).flatten()


def random_transform(pad: int, jitter: int, scale: float, degrees: float) -> Transform:
    """Optimise through random jitter, scale and rotation (reflection padding, then cropped
    back). One draw per step, shared by the batch, so batching never changes the draws."""

    def transform(x: Tensor, generator: torch.Generator | None) -> Tensor:
        u = torch.rand(4, generator=generator, device="cpu") * 2 - 1
        h, w = x.shape[-2:]
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect") if pad else x
        angle = math.radians(degrees) * float(u[0])
        s = 1 + scale * float(u[1])
        shift = torch.tensor([jitter * float(u[2]), jitter * float(u[3])]) * 2 / torch.tensor(padded.shape[-2:])
        theta = torch.tensor(
            [
                [s * math.cos(angle), -s * math.sin(angle), shift[1]],
                [s * math.sin(angle), s * math.cos(angle), shift[0]],
            ],
            dtype=x.dtype,
            device=x.device,
        )
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(padded.shape), align_corners=False)
        moved = F.grid_sample(padded, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        return moved[..., pad : pad + h, pad : pad + w] if pad else moved

    return transform


def _shift(x: Tensor, dx: int, dy: int) -> Tensor:
    """Move the content ``dx`` pixels right and ``dy`` down, zeros entering (kornia's
    ``translate`` by whole pixels)."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    out[..., dy:, dx:] = x[..., : h - dy, : w - dx]
    return out


def _rotate(x: Tensor, degrees: float) -> Tensor:
    """Rotate about the image centre, bilinear, zeros outside (kornia's ``warp_affine``)."""
    angle = math.radians(degrees)
    theta = torch.tensor(
        [[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]],
        dtype=x.dtype,
        device=x.device,
    )
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


AUTHORS_SCALES = tuple(1 + (i - 5) / 50 for i in range(11))
AUTHORS_ANGLES = tuple(range(-10, 11)) + (0,) * 5


def random_transform_authors(pad: int) -> Transform:
    """The authors' transformation chain (``reg_free_loss.TRANSFORMS``): constant-0.5 padding
    of ``pad`` pixels (12 for ImageNet, 0 for CIFAR), a jitter of 0–7 pixels, a scale from
    0.90 to 1.10 in steps of 0.02, a rotation of −10° to 10° (0° six times as likely), and a
    jitter of 0–3 pixels. The output is not cropped back: the network sees the padded size, as
    in their code. Draws come from ``generator`` (theirs from NumPy's global state), one per
    step, shared by the batch."""

    def pick(options: int, generator: torch.Generator | None) -> int:
        return int(torch.randint(options, (1,), generator=generator, device="cpu"))

    def transform(x: Tensor, generator: torch.Generator | None) -> Tensor:
        if pad:
            x = F.pad(x, (pad, pad, pad, pad), mode="constant", value=0.5)
        x = _shift(x, pick(8, generator), pick(8, generator))
        scale = AUTHORS_SCALES[pick(len(AUTHORS_SCALES), generator)]
        h, w = x.shape[-2:]
        size = [math.ceil(scale * h), math.ceil(scale * w)]
        scaled = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        pad_h, pad_w = max(0, math.ceil((h - size[0]) / 2)), max(0, math.ceil((w - size[1]) / 2))
        x = F.pad(scaled, (pad_w, pad_w, pad_h, pad_h))
        x = _rotate(x, AUTHORS_ANGLES[pick(len(AUTHORS_ANGLES), generator)])
        return _shift(x, pick(4, generator), pick(4, generator))

    return transform
