"""Stimuli and target sets: uploaded images or archives, data-set samples, noise targets."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image

from inversion import archives
from inversion.models import NOISE_LAWS, ModelSpec, Stimulus, Target, TargetSet
from inversion.services.imports import INLINE_MAX, target_set_import_start
from metamer.errors import MetamerError
from science import images as imageio
from science.seeding import derive_seed, seed_everything


def stimulus_create(*, role: str, image: torch.Tensor) -> Stimulus:
    """Store one image in [0, 1] (3×H×W) as a lossless PNG."""
    data = imageio.png_bytes(image)
    digest = imageio.sha256(data)
    stimulus = Stimulus(role=role, sha256=digest, width=image.shape[-1], height=image.shape[-2])
    stimulus.image.save(f"{role}-{digest[:16]}.png", ContentFile(data), save=False)
    stimulus.save()
    return stimulus


def _check_unique_target_set(name: str) -> None:
    if TargetSet.objects.filter(name=name).exists():
        raise MetamerError(f"a target set named {name!r} exists already; pick another name", field="name")


@transaction.atomic
def target_set_create_from_images(
    *,
    name: str,
    images: Sequence[tuple[str, Image.Image]],
    image_size: int,
    source: str = "",
    sample_seed: int | None = None,
) -> TargetSet:
    """A target set from (label, image) pairs, centre-cropped and resized to ``image_size``."""
    if not images:
        raise MetamerError("no images given: a target set needs at least one", field="images")
    _check_unique_target_set(name)
    target_set = TargetSet.objects.create(
        name=name, kind=TargetSet.Kind.IMAGES, source=source, image_size=image_size, sample_seed=sample_seed
    )
    for index, (label, img) in enumerate(images):
        stimulus = stimulus_create(role=Stimulus.Role.TARGET, image=imageio.to_tensor(imageio.fit(img, image_size)))
        Target.objects.create(target_set=target_set, index=index, label=label, stimulus=stimulus)
    return target_set


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


@transaction.atomic
def target_set_import(
    *, name: str, path: Path, image_size: int, sample: int | None = None, seed: int = 0, shown: str | None = None
) -> TargetSet:
    """Import a folder or a .zip/.tar archive (class folders give labels); optionally a random
    sample of ``sample`` images drawn with ``seed`` (recorded). ``shown`` names the source in
    messages and the record (an upload's own file name rather than a temporary path)."""
    shown = shown or str(path)
    _check_unique_target_set(name)
    members = _members(path, sample, seed, shown)
    try:
        # Each image is cut to size as it is decoded: one full-size image in memory at a time.
        loaded = [(label, imageio.fit(image, image_size)) for label, image in archives.load_members(path, members)]
    except archives.ImageError as exc:
        message = str(exc) if str(exc).startswith(f"{Path(shown).name}:") else f"{shown}: {exc}"
        raise MetamerError(message, field="path") from None
    return target_set_create_from_images(
        name=name, images=loaded, image_size=image_size, source=shown, sample_seed=seed if sample else None
    )


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
            _members(path, sample, seed, archive.name)


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
) -> TargetSet:
    """A target set from an uploaded image or archive, or noise targets (admin and API), after
    the checks of ``target_set_check``: the upload goes to disk once, and the import checks its
    members and sample there before anything is stored. More than ``INLINE_MAX`` images are
    imported in the background (the set is IMPORTING until then)."""
    _check_request(name=name, archive=archive, noise_law=noise_law, n=n, raw=raw)
    if noise_law:
        return target_set_create_noise(name=name, n=n or 0, law=noise_law, image_size=image_size, seed=seed, raw=raw)
    with upload_on_disk(archive) as path:
        members = _members(path, sample, seed, archive.name)
        if len(members) > INLINE_MAX:
            return target_set_import_start(
                name=name,
                path=path,
                image_size=image_size,
                members=members,
                sample_seed=seed if sample else None,
                shown=archive.name,
            )
        return target_set_import(
            name=name, path=path, image_size=image_size, sample=sample, seed=seed, shown=archive.name
        )


@transaction.atomic
def target_set_create_noise(*, name: str, n: int, law: str, image_size: int, seed: int, raw: bool = False) -> TargetSet:
    """Noise targets drawn from ``N(0, 1)`` (``normal-0-1``) or ``N(0.5, 2)`` (``normal-0.5-2``).
    ``raw``: the optimisation aims at the unclamped draw (the paper's setting; stored beside the
    clamped image people see); otherwise at the clamped image."""
    _check_noise(law, n)
    _check_unique_target_set(name)
    mean, std = NOISE_LAWS[law]
    generator = seed_everything(derive_seed(seed, "noise-targets"))
    target_set = TargetSet.objects.create(
        name=name,
        kind=TargetSet.Kind.NOISE,
        source=f"{law}, raw" if raw else law,
        image_size=image_size,
        resize_policy="none",
        sample_seed=seed,
    )
    for index in range(n):
        x = mean + std * torch.randn(3, image_size, image_size, generator=generator)
        stimulus = stimulus_create(role=Stimulus.Role.TARGET, image=x.clamp(0, 1))
        target = Target(target_set=target_set, index=index, label=law, stimulus=stimulus)
        if raw:
            buffer = io.BytesIO()
            np.save(buffer, x.numpy().astype(np.float32), allow_pickle=False)
            target.raw.save(f"{stimulus.sha256[:16]}.npy", ContentFile(buffer.getvalue()), save=False)
        target.save()
    return target_set
