"""The one seeding helper: torch, NumPy and ``random`` from one stored seed."""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def seed_everything(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """Seed the global generators and return a dedicated torch generator on ``device``."""
    import torch  # here, not at the top: the answer path derives seeds without torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator(device=device).manual_seed(seed)


def derive_seed(seed: int, purpose: str) -> int:
    """A seed for one purpose, so that streams drawn from the same stored seed never coincide
    (noise targets and seed images from seed 0 would otherwise be the very same noise)."""
    digest = hashlib.sha256(f"{purpose}:{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
