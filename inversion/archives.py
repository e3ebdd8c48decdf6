"""Reading images from a folder or a .zip/.tar archive (class folders give labels), refusing
what is not an image or is too large."""

from __future__ import annotations

import io
import random
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from science.formats import FORMATS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_MEMBERS = 200_000
MAX_ARCHIVE_BYTES = 8 * 1024**3
MAX_ARCHIVE_PIXELS = 10_000_000_000
"""Limits read from an archive's headers before any member is read (a 1 MiB zip can claim a
1 GiB member), and enforced again while reading."""


class ImageError(ValueError):
    pass


def open_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode and verify an image, refusing what is not one or is too large."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{name}: larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as probe:
            probe.verify()
        img = Image.open(io.BytesIO(data), formats=FORMATS)
        if img.width * img.height > MAX_PIXELS:
            raise ImageError(f"{name}: more than {MAX_PIXELS:,} pixels")
        img.load()
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: more than {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        formats = ", ".join(sorted(s.lstrip(".").upper() for s in IMAGE_SUFFIXES))
        raise ImageError(f"{name}: not a readable image; upload one of {formats}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: a damaged or truncated image ({type(exc).__name__})") from None
    return img if img.mode == "RGB" else img.convert("RGB")


def image_members(path: Path) -> list[str]:
    """The image files in a folder, .zip or .tar archive, sorted by name, after checking the
    archive's headers: member count, each image's and the total uncompressed size, no
    encrypted members, and regular files only (no links or devices)."""
    path = Path(path)
    if path.is_dir():
        names = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()]
    elif zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ImageError(f"not a readable .zip archive ({exc})") from None
        images = [i for i in infos if _is_image(i.filename)]
        _check_sizes(len(infos), [i.file_size for i in images])
        if any(i.flag_bits & 0x1 for i in images):
            raise ImageError("holds encrypted members; upload an archive without a password")
        names = [i.filename for i in images]
    elif tarfile.is_tarfile(path):
        try:
            with tarfile.open(path) as tf:
                members = tf.getmembers()
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ImageError(f"not a complete .tar archive ({exc})") from None
        odd = [m.name for m in members if not (m.isfile() or m.isdir())]
        if odd:
            raise ImageError(f"holds links or special files ({odd[0]}); upload regular image files only")
        images = [m for m in members if m.isfile() and _is_image(m.name)]
        _check_sizes(len(members), [m.size for m in images])
        names = [m.name for m in images]
    else:
        raise ImageError("not a folder, .zip or .tar archive of images")
    return sorted(n for n in names if _is_image(n))


def sample_members(names: list[str], n: int, seed: int) -> list[str]:
    """A reproducible random sample of ``n`` member names, drawn with ``seed``, in name order."""
    return sorted(random.Random(seed).sample(names, n))


def _is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _check_sizes(members: int, sizes: list[int]) -> None:
    if members > MAX_MEMBERS:
        raise ImageError(f"more than {MAX_MEMBERS:,} members; split it or sample it first")
    too_big = next((size for size in sizes if size > MAX_IMAGE_BYTES), None)
    if too_big is not None:
        raise ImageError(f"holds an image larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    if sum(sizes) > MAX_ARCHIVE_BYTES:
        raise ImageError(f"its images add up to more than {MAX_ARCHIVE_BYTES // 2**30} GiB uncompressed")


def _read_bounded(handle, name: str) -> bytes:
    """At most one byte past the limit is ever read, whatever the headers claimed."""
    data = handle.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"{name}: larger than {MAX_IMAGE_BYTES // 2**20} MiB")
    return data


def load_members(path: Path, names: list[str]) -> Iterator[tuple[str, Image.Image]]:
    """(label, image) for the named members, decoded one at a time and at most
    ``MAX_ARCHIVE_PIXELS`` in all; the label is the parent folder (the class, for class-folder
    archives such as CIFAR-10's ``test/<class>/NNNN.jpg``)."""
    decoded = 0
    for label, image in _decode_members(Path(path), names):
        decoded += image.width * image.height
        if decoded > MAX_ARCHIVE_PIXELS:
            raise ImageError(f"its images add up to more than {MAX_ARCHIVE_PIXELS:,} pixels; resize or sample them")
        yield label, image


def _decode_members(path: Path, names: list[str]) -> Iterator[tuple[str, Image.Image]]:
    if path.is_dir():
        for name in names:
            yield PurePosixPath(name).parent.name, open_image((path / name).read_bytes(), name)
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for name in names:
                try:
                    with zf.open(name) as handle:
                        data = _read_bounded(handle, name)
                except (zipfile.BadZipFile, RuntimeError, OSError, EOFError) as exc:
                    raise ImageError(f"{name}: cannot be read from the archive ({exc})") from None
                yield PurePosixPath(name).parent.name, open_image(data, name)
    else:
        with tarfile.open(path) as tf:
            for name in names:
                try:
                    handle = tf.extractfile(name)
                    if handle is None:
                        raise ImageError(f"{name}: not a regular file")
                    data = _read_bounded(handle, name)
                except (tarfile.TarError, OSError, EOFError, KeyError) as exc:
                    raise ImageError(f"{name}: cannot be read from the archive ({exc})") from None
                yield PurePosixPath(name).parent.name, open_image(data, name)
