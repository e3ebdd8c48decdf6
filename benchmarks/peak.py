"""What this device's convolutions can reach, measured: the yardstick the benchmarks' shares
of the peak are taken against (imported by ``inversion.py`` and ``alignment.py``)."""

from __future__ import annotations

import time

import torch
from torch import nn


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measured_fp32_peak(device: torch.device) -> float:
    """FLOP/s of one large, compute-bound fp32 convolution: what this device's convolutions can reach."""
    conv = nn.Conv2d(256, 256, 3, padding=1).to(device, memory_format=torch.channels_last)
    x = torch.randn(32, 256, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    flops = 2 * 32 * 256 * 256 * 9 * 28 * 28
    with torch.no_grad():
        for _ in range(3):  # warm-up: oneDNN picks and caches its kernel on the first calls
            conv(x)
        times = []
        for _ in range(20):
            sync(device)
            start = time.perf_counter()
            conv(x)
            sync(device)
            times.append(time.perf_counter() - start)
    return flops / min(times)


def forward_flops(model: nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one forward pass of ``model`` on ``x`` (PyTorch's own counter: 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return float(counter.get_total_flops())
