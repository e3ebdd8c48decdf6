"""Stimuli and target sets made: images decoded and resized, noise drawn (torch: workers, scripts)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from inversion import archives
from inversion.models import NOISE_LAWS, Stimulus, Target, TargetSet
from inversion.services.target_sets import (
    _check_unique_target_set,
    _members,
    noise_law_of,
    noise_target_set_store,
)
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


@transaction.atomic
def target_set_create_noise(*, name: str, n: int, law: str, image_size: int, seed: int, raw: bool = False) -> TargetSet:
    """Noise targets drawn from ``N(0, 1)`` (``normal-0-1``) or ``N(0.5, 2)`` (``normal-0.5-2``).
    ``raw``: the optimisation aims at the unclamped draw (the paper's setting; stored beside the
    clamped image people see); otherwise at the clamped image."""
    target_set = noise_target_set_store(name=name, n=n, law=law, image_size=image_size, seed=seed, raw=raw)
    target_set_noise_draw(target_set=target_set, n=n)
    target_set.refresh_from_db()
    return target_set


@transaction.atomic
def target_set_noise_draw(*, target_set: TargetSet, n: int) -> None:
    """Draw a noise set's ``n`` targets as its record says (law, seed, raw), in one transaction;
    the set becomes ready."""
    law, raw = noise_law_of(target_set)
    mean, std = NOISE_LAWS[law]
    generator = seed_everything(derive_seed(target_set.sample_seed, "noise-targets"))
    size = target_set.image_size
    for index in range(n):
        x = mean + std * torch.randn(3, size, size, generator=generator)
        stimulus = stimulus_create(role=Stimulus.Role.TARGET, image=x.clamp(0, 1))
        target = Target(target_set=target_set, index=index, label=law, stimulus=stimulus)
        if raw:
            buffer = io.BytesIO()
            np.save(buffer, x.numpy().astype(np.float32), allow_pickle=False)
            target.raw.save(f"{stimulus.sha256[:16]}.npy", ContentFile(buffer.getvalue()), save=False)
        target.save()
    TargetSet.objects.filter(pk=target_set.pk).update(status=TargetSet.Status.READY, imported=n, message="")
