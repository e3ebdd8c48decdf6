"""Image I/O for stimuli: PIL ↔ tensors in [0, 1], lossless PNG, fitting to a model's input.

Plain Python/PyTorch, no Django.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    pass


def to_tensor(img: Image.Image) -> Tensor:
    """An RGB image as a 3×H×W float tensor in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


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
    img = img.convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    return img if img.size == (size, size) else img.resize((size, size), Image.Resampling.BILINEAR)


def open_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode and verify an image, refusing what is not one or is too large."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{name}: larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()
        img = Image.open(io.BytesIO(data))
        if img.width * img.height > MAX_PIXELS:
            raise ImageError(f"{name}: more than {MAX_PIXELS:,} pixels")
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageError(f"{name}: not a readable image ({exc})") from None
    return img.convert("RGB")


def image_members(path: Path) -> list[str]:
    """The image files in a folder, .zip or .tar archive, sorted by name."""
    path = Path(path)
    if path.is_dir():
        names = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()]
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            names = [m.name for m in tf.getmembers() if m.isfile()]
    else:
        raise ImageError(f"{path}: not a folder, .zip or .tar archive of images")
    return sorted(n for n in names if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES)


def load_members(path: Path, names: list[str]) -> Iterator[tuple[str, Image.Image]]:
    """(label, image) for the named members; the label is the parent folder (the class, for
    class-folder archives such as CIFAR-10's ``test/<class>/NNNN.jpg``)."""
    path = Path(path)
    if path.is_dir():
        for name in names:
            yield PurePosixPath(name).parent.name, open_image((path / name).read_bytes(), name)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for name in names:
                yield PurePosixPath(name).parent.name, open_image(zf.read(name), name)
    else:
        with tarfile.open(path) as tf:
            for name in names:
                yield PurePosixPath(name).parent.name, open_image(tf.extractfile(name).read(), name)


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
