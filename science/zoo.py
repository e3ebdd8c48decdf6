"""Networks as embedders of an image set (SCIENCE.md §3; the second source paper): their
features, their dissimilarity matrices, and how alike two models' matrices are. The statistics
that set a model beside people live in ``science.alignment``; what alignment predicts (few-shot
probes, the paper's downstream analyses) in ``science.downstream``.

Plain PyTorch/NumPy, no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from science.alignment import correlate
from science.names import METRICS
from science.similarity import upper


def embed(
    g: nn.Module,
    images: Tensor,
    *,
    input_size: int,
    device: torch.device | str,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``g``'s features of ``images`` (N×3×H×W, pixels in [0, 1]; ``g`` normalises inside, as
    ``science.networks.LayerRepresentation`` does), each image resized to ``input_size`` square
    (bilinear, antialiased), flattened: an N×D float32 array in the images' order.
    ``on_progress(done, total)`` after each batch."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be N×3×H×W, got {tuple(images.shape)}")
    # The default layout: channels_last measured no faster here at batch 32 (AlexNet 164 against
    # 200 images/s on 2 CPU cores), unlike LPIPS's small batches.
    g = g.to(device)
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device, torch.float32)
            if x.shape[-2:] != (input_size, input_size):
                x = F.interpolate(
                    x, size=(input_size, input_size), mode="bilinear", antialias=True, align_corners=False
                )
            out.append(g(x.clamp(0, 1)).flatten(1).float().cpu())
            if on_progress is not None:
                on_progress(min(start + batch_size, len(images)), len(images))
    return torch.cat(out).numpy()


def dissimilarity(features: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """The model's dissimilarity matrix over the images (rows of ``features``): cosine distance
    ``1 − cos`` or correlation distance ``1 − r`` (each row centred first). Symmetric, zero
    diagonal, float64."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    if metric == "correlation":
        x = x - x.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # A constant image (all-zero features) is as far from everything as an orthogonal one.
    x = x / np.where(norms > 0, norms, 1.0)
    d = 1.0 - x @ x.T
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, 2.0)


def model_by_model(matrices: Sequence[np.ndarray], method: str = "spearman") -> np.ndarray:
    """Models × models correlation of their matrices' upper triangles."""
    uppers = [upper(np.asarray(d, np.float64)) for d in matrices]
    out = np.eye(len(uppers))
    for a in range(len(uppers)):
        for b in range(a + 1, len(uppers)):
            out[a, b] = out[b, a] = correlate(uppers[a], uppers[b], method)
    return out
