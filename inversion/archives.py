"""Reading images from a folder or a .zip/.tar archive (class folders give labels), refusing
what is not an image or is too large."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000


class ImageError(ValueError):
    pass


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
