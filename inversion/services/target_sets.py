"""What a request does with a target set, importing no torch: check it, choose its image size,
and store it for a worker to fill (``in_background``), or fill it here (scripts, tests)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from inversion import archives
from inversion.models import NOISE_LAWS, ModelSpec, TargetSet
from inversion.services.imports import INLINE_MAX, send_import, target_set_import_start
from metamer.errors import MetamerError


def _check_unique_target_set(name: str) -> None:
    if TargetSet.objects.filter(name=name).exists():
        raise MetamerError(f"a target set named {name!r} exists already; pick another name", field="name")


def _members(path: Path, sample: int | None, seed: int, shown: str) -> list[str]:
    """The image members to import: all, or a random sample of ``sample`` drawn with ``seed``."""
    try:
        members = archives.image_members(path)
    except archives.ImageError as exc:
        raise MetamerError(f"{shown}: {exc}", field="path") from None
    if not members:
        raise MetamerError(f"{shown}: no image files found", field="path")
    if sample is not None:
        if sample > len(members):
            raise MetamerError(f"asked for {sample} images but {shown} holds {len(members)}", field="sample")
        members = archives.sample_members(members, sample, seed)
    return members


def target_set_images_count(*, path: Path, shown: str) -> int:
    """How many images a folder or archive would give, after checking its headers (nothing is
    read whole, nothing stored): for checks that must pass before an import stores anything."""
    return len(_members(path, None, 0, shown))


@contextmanager
def upload_on_disk(archive: UploadedFile) -> Iterator[Path]:
    """An upload as a path to import: a single image goes into a folder of its own."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(archive.name).name
        archive.seek(0)
        with open(path, "wb") as fh:
            for chunk in archive.chunks():
                fh.write(chunk)
        if path.suffix.lower() in archives.IMAGE_SUFFIXES:
            folder = Path(tmp) / "images"
            folder.mkdir()
            path.rename(folder / path.name)
            path = folder
        yield path


def target_size_choose(*, image_size: int | None, model_spec: ModelSpec | None) -> int:
    """The side a target set's images are made at: ``image_size`` if given (it must then equal
    the network's input size, which a job will need), else the network's input size."""
    if model_spec is None:
        if image_size is None:
            raise MetamerError(
                "give an image size, or choose the network these targets are for to take its input size",
                field="image_size",
            )
        return image_size
    if image_size is not None and image_size != model_spec.input_size:
        raise MetamerError(
            f"{model_spec.name} takes {model_spec.input_size}×{model_spec.input_size} images, so a job on it "
            f"needs targets of that size: leave the image size empty or give {model_spec.input_size}",
            field="image_size",
        )
    return model_spec.input_size


def target_set_check(
    *,
    name: str,
    image_size: int,
    archive: UploadedFile | None = None,
    sample: int | None = None,
    seed: int = 0,
    noise_law: str | None = None,
    n: int | None = None,
    raw: bool = False,
) -> None:
    """Say what is wrong with a target set before anything is stored: the name, the noise
    settings, or the upload (its size, that it holds images, and enough for the sample)."""
    _check_request(name=name, archive=archive, noise_law=noise_law, n=n, raw=raw)
    if not noise_law:
        with upload_on_disk(archive) as path:
            _check_decodes(path, _members(path, sample, seed, archive.name), archive.name)


def _check_decodes(path: Path, members: list[str], shown: str) -> None:
    """Decode each member of an upload small enough to import inline (Pillow only, one image
    at a time), so a broken file is refused in the request that sent it; larger uploads are
    checked as they import, and a failed import says which file."""
    if len(members) > INLINE_MAX:
        return
    try:
        for _ in archives.load_members(path, members):
            pass
    except archives.ImageError as exc:
        message = str(exc) if str(exc).startswith(f"{Path(shown).name}:") else f"{shown}: {exc}"
        raise MetamerError(message, field="archive") from None


def _check_request(
    *, name: str, archive: UploadedFile | None, noise_law: str | None, n: int | None, raw: bool = False
) -> None:
    """What can be checked without reading the upload's contents."""
    _check_unique_target_set(name)
    if raw and not noise_law:
        raise MetamerError("raw targets are noise draws: choose a noise law, or untick raw", field="raw")
    if noise_law:
        _check_noise(noise_law, n)
        return
    if archive is None:
        raise MetamerError("upload an image or an archive, or choose a noise law", field="archive")
    if archive.size > settings.METAMER_MAX_UPLOAD_BYTES:
        raise MetamerError(
            f"{archive.name} is larger than {settings.METAMER_MAX_UPLOAD_BYTES // 2**20} MiB; sample it first",
            field="archive",
        )


def _check_noise(law: str, n: int | None) -> None:
    if law not in NOISE_LAWS:
        raise MetamerError(f"unknown noise law {law!r}; choose one of {', '.join(NOISE_LAWS)}", field="law")
    if not n or n < 1:
        raise MetamerError("how many noise targets: n must be at least 1", field="n")


def target_set_create(
    *,
    name: str,
    image_size: int,
    archive: UploadedFile | None = None,
    sample: int | None = None,
    seed: int = 0,
    noise_law: str | None = None,
    n: int | None = None,
    raw: bool = False,
    in_background: bool = False,
) -> TargetSet:
    """A target set from an uploaded image or archive, or noise targets, after the checks of
    ``target_set_check``: the upload goes to disk once, and its members and sample are checked
    there before anything is stored. ``in_background`` (the admin and the API), or more than
    ``INLINE_MAX`` images: the set is stored IMPORTING and a worker fills it, with progress."""
    _check_request(name=name, archive=archive, noise_law=noise_law, n=n, raw=raw)
    if noise_law:
        if in_background:
            target_set = noise_target_set_store(
                name=name, n=n or 0, law=noise_law, image_size=image_size, seed=seed, raw=raw
            )
            send_import(target_set)
            return target_set
        from inversion.services.targets import target_set_create_noise

        return target_set_create_noise(name=name, n=n or 0, law=noise_law, image_size=image_size, seed=seed, raw=raw)
    with upload_on_disk(archive) as path:
        members = _members(path, sample, seed, archive.name)
        if in_background:
            _check_decodes(path, members, archive.name)
        if in_background or len(members) > INLINE_MAX:
            return target_set_import_start(
                name=name,
                path=path,
                image_size=image_size,
                members=members,
                sample_seed=seed if sample else None,
                shown=archive.name,
            )
        from inversion.services.targets import target_set_import

        return target_set_import(
            name=name, path=path, image_size=image_size, sample=sample, seed=seed, shown=archive.name
        )


def noise_law_of(target_set: TargetSet) -> tuple[str, bool]:
    """A noise set's law and whether it aims at the raw draw, from its recorded source."""
    law, _, flag = target_set.source.partition(", ")
    return law, flag == "raw"


def noise_target_set_store(*, name: str, n: int, law: str, image_size: int, seed: int, raw: bool) -> TargetSet:
    """A noise set's record, IMPORTING until its ``n`` targets are drawn."""
    _check_noise(law, n)
    _check_unique_target_set(name)
    return TargetSet.objects.create(
        name=name,
        kind=TargetSet.Kind.NOISE,
        source=f"{law}, raw" if raw else law,
        image_size=image_size,
        resize_policy="none",
        sample_seed=seed,
        status=TargetSet.Status.IMPORTING,
        total=n,
    )
