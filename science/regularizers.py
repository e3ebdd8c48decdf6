"""The regularizer families of SCIENCE.md §1, as per-image penalties and transforms.

- regularizer-free: no penalty (the paper's recommendation for comparing models);
- human-leaning: total variation (+ an Lp norm), blur robustness, transformation robustness
  (optimise through random jitter, scale and rotation), Fourier-domain preconditioning;
- adversarial: ``-LPIPS(x, xt)``, pushing the IRI perceptually away from its target.

Every penalty is per image, so images in a batch never influence each other.
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
