"""Where uploaded files are stored: under names Metamer makes, never the uploader's."""

from __future__ import annotations

import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db.models.fields.files import FieldFile
from django.utils.deconstruct import deconstructible


@deconstructible
class GeneratedName:
    """An ``upload_to`` that stores each file as ``folder/<random hex><extension>``: the
    extension is kept only when it is one of ``extensions``, else ``default``. So an upload
    named ``x.html`` can never be served back as a page, and no name leaks from the uploader."""

    def __init__(self, folder: str, extensions: tuple[str, ...], default: str) -> None:
        self.folder = folder
        self.extensions = extensions
        self.default = default

    def __call__(self, instance: object, filename: str) -> str:
        extension = posixpath.splitext(filename)[1].lower()
        if extension not in self.extensions:
            extension = self.default
        return f"{self.folder}/{uuid.uuid4().hex}{extension}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GeneratedName) and self.deconstruct() == other.deconstruct()


INSTRUCTION_IMAGE = GeneratedName("stimuli/instructions", (".png", ".jpg", ".jpeg", ".webp", ".gif"), ".png")
CHECKPOINT = GeneratedName("checkpoints", (".pt", ".pth", ".bin", ".safetensors"), ".pt")
IMPORT_ARCHIVE = GeneratedName(
    "imports", (".zip", ".tar", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"), ".zip"
)


@contextmanager
def local_path(stored: FieldFile) -> Iterator[Path | None]:
    """A stored file as a path on this machine while the block runs: its own path on local
    storage, else a temporary copy under its stored name (object storage has no path); None for
    an empty field."""
    if not stored:
        yield None
        return
    try:
        yield Path(stored.path)
        return
    except NotImplementedError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / Path(stored.name).name
        with stored.open("rb") as source, open(copy, "wb") as target:
            shutil.copyfileobj(source, target)
        yield copy
