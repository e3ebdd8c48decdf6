"""Fourier-domain preconditioning for the IRI engine. Plain PyTorch."""

from __future__ import annotations

import torch
from torch import Tensor


class FourierImage:
    """Fourier-domain preconditioning: optimise a scaled spectrum, not the pixels.

    ``image(z) = sigmoid(irfft2(z * scale))``: always a valid image in [0, 1]; ``scale``
    damps high frequencies (1 / frequency), so gradient steps favour smooth changes.
    """

    def __init__(self, height: int, width: int, device: torch.device) -> None:
        fy = torch.fft.fftfreq(height, device=device).view(-1, 1)
        fx = torch.fft.rfftfreq(width, device=device).view(1, -1)
        self.scale = 1 / torch.sqrt(fx**2 + fy**2).clamp_min(1 / max(height, width))
        self.size = (height, width)

    def encode(self, x: Tensor) -> Tensor:
        """Spectrum parameters (real view) of images in [0, 1]."""
        logits = torch.logit(x.clamp(1e-3, 1 - 1e-3))
        return torch.view_as_real(torch.fft.rfft2(logits, norm="ortho") / self.scale)

    def decode(self, z: Tensor) -> Tensor:
        """Images in [0, 1] from spectrum parameters."""
        spectrum = torch.view_as_complex(z.contiguous()) * self.scale
        return torch.sigmoid(torch.fft.irfft2(spectrum, s=self.size, norm="ortho"))


COLOUR_SVD_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
"""The square root of ImageNet's colour correlation (Lucid's, as the authors' code uses it)."""
DECAY_DAMPING = 4.0
"""The authors' (Lucid's) constant dividing the decoded image before the sigmoid."""


class AuthorsFourierImage:
    """The authors' Fourier parameterisation (``penalty_form=authors`` with ``fourier``): the
    parameters are a spectrum drawn as raw ``randn`` (their seed, not an encoded image), decoded
    as ``sigmoid(decorrelate(irfft2(spectrum / frequency) / 4))``, and clamped to [0, 1] after
    every step (their attack step's projection acts on the parameters).

    ``shape``: one image's parameters, 3 × H × (W // 2 + 1, one more for an odd W) × 2 (real,
    imaginary)."""

    def __init__(self, height: int, width: int, device: torch.device | str) -> None:
        fy = torch.fft.fftfreq(height, device=device).view(-1, 1)
        kept = width // 2 + (2 if width % 2 else 1)
        fx = torch.fft.fftfreq(width, device=device)[:kept].view(1, -1)
        self.scale = 1 / torch.sqrt(fx**2 + fy**2).clamp_min(1 / max(height, width))
        self.size = (height, width)
        norms = COLOUR_SVD_SQRT.norm(dim=0).max()
        self.colour = (COLOUR_SVD_SQRT / norms).T.to(device)
        self.shape = (3, height, kept, 2)

    def decode(self, z: Tensor) -> Tensor:
        """Images in (0, 1), N×3×H×W, from N×``shape`` parameters."""
        spectrum = torch.view_as_complex((self.scale[None, None, ..., None] * z).contiguous())
        h, w = self.size
        image = torch.fft.irfftn(spectrum, s=(h, w), norm="ortho")[..., :h, :w] / DECAY_DAMPING
        decorrelated = (image.permute(0, 2, 3, 1) @ self.colour).permute(0, 3, 1, 2)
        return torch.sigmoid(decorrelated)

    @staticmethod
    def project(z: Tensor) -> None:
        """Their projection after each step, on the parameters (in place)."""
        z.clamp_(0, 1)
