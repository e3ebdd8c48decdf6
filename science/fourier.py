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
