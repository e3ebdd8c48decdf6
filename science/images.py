"""Pixels in and out: PIL images and files ↔ tensors in [0, 1], the 8-bit grid, lossless PNG."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from science.formats import FORMATS


def to_tensor(img: Image.Image) -> Tensor:
    """An image as a 3×H×W float tensor in [0, 1] (converted to RGB)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def read_image(path: str | Path) -> Tensor:
    """An image file as a 1×3×H×W tensor in [0, 1] (RGB)."""
    with Image.open(path, formats=FORMATS) as img:
        return to_tensor(img).unsqueeze(0)


def quantize(x: Tensor) -> Tensor:
    """Round images in [0, 1] to the 8-bit grid a PNG stores, staying in [0, 1]."""
    return (x.clamp(0, 1) * 255).round() / 255


def png_bytes(x: Tensor) -> bytes:
    """Lossless PNG of one image in [0, 1] (3×H×W)."""
    arr = (quantize(x.detach().cpu()) * 255).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG")
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fit(img: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize to ``size``×``size`` (bilinear; policy recorded as
    ``center-crop+bilinear``)."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    if img.width != img.height:
        img = img.crop((left, top, left + side, top + side))
    return img if img.size == (size, size) else img.resize((size, size), Image.Resampling.BILINEAR)


def sample_photographs(n: int) -> list[tuple[str, Image.Image]]:
    """Up to 12 square crops (name, RGB image) of the photographs matplotlib ships: real image
    statistics with no data set at hand (the demo without ``../shared``, tests, benchmarks)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "sample_data"
    crops = []
    for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png"):
        with Image.open(folder / name) as img:
            img = img.convert("RGB")
        side = min(img.size) // 2
        for i in range(2):
            for j in range(3):
                left = (img.width - side) * j // 2
                top = (img.height - side) * i
                crops.append((f"{Path(name).stem}-{i}{j}", img.crop((left, top, left + side, top + side))))
    return crops[:n]
