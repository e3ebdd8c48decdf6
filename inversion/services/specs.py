"""Registering a network and one of its layers."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from inversion.models import ModelSpec
from inversion.selectors import architecture_choices
from metamer.errors import MetamerError
from metamer.queue import send_stamped
from metamer.uploads import local_path
from science.network_check import NetworkCheck, network_check

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 8, 1024
"""The sides a network's input may have: as a target set's images (a job needs the two equal)."""


@dataclass(frozen=True)
class CheckedSpec:
    """What registration will store: the layer resolved (the penultimate when none was named)."""

    layer: str
    input_size: int
    mean: list[float]
    std: list[float]


def _is_number(value: object) -> bool:
    """A finite int or float; a boolean is not a number here."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def model_spec_check_settings(
    *,
    name: str,
    source: str = ModelSpec.Source.BUILTIN,
    architecture: str = "",
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    imagenet_top1: float | None = None,
    **_network: object,
) -> None:
    """What can be said of a registration without building its network (in a request): the name
    is free, the source knows the architecture, mean and std are three numbers, top-1 is a
    percentage."""
    if imagenet_top1 is not None and (not _is_number(imagenet_top1) or not 0 <= imagenet_top1 <= 100):
        raise MetamerError("ImageNet top-1 is a percentage, 0 to 100", field="imagenet_top1")
    if ModelSpec.objects.filter(name=name).exists():
        raise MetamerError(f"a model spec named {name!r} exists already; pick another name", field="name")
    if input_size is not None and not MIN_INPUT_SIZE <= input_size <= MAX_INPUT_SIZE:
        raise MetamerError(
            f"input size: {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE} pixels a side (the network's square input)",
            field="input_size",
        )
    for label, values in (("mean", mean), ("std", std)):
        if values is None or (isinstance(values, list | tuple) and not values):
            continue
        if not isinstance(values, list | tuple) or len(values) != 3 or not all(map(_is_number, values)):
            raise MetamerError(f"{label}: a list of three numbers, one per colour channel (R, G, B)", field=label)
        if label == "std" and min(values) <= 0:
            raise MetamerError("std: each channel's spread must be above 0 (it divides the image)", field="std")
    known = architecture_choices().get(source)
    if known is not None and architecture not in known:
        shown = f"one of {', '.join(known)}" if len(known) <= 20 else "one from the form's list"
        raise MetamerError(f"{source} has no architecture named {architecture!r}; choose {shown}", field="architecture")


def _network_check(
    *,
    source: str,
    architecture: str,
    layer: str,
    checkpoint: Path | None,
    input_size: int | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    cifar_stem: bool,
    fake_relu: bool,
    fake_relu_rule: str,
) -> CheckedSpec:
    """Build the network (with its checkpoint) and run the layer on one image, in a child process
    with the time and memory that ``METAMER_CHECK_SECONDS`` and ``METAMER_CHECK_MEMORY_MB`` allow."""
    request = NetworkCheck(
        source=source,
        architecture=architecture,
        layer=layer,
        checkpoint=str(checkpoint) if checkpoint else None,
        input_size=input_size,
        mean=list(mean) if mean else None,
        std=list(std) if std else None,
        cifar_stem=cifar_stem,
        fake_relu=fake_relu,
        fake_relu_rule=fake_relu_rule,
        cache_dir=str(settings.METAMER_CACHE_DIR),
    )
    answer = network_check(
        request, timeout_s=settings.METAMER_CHECK_SECONDS, memory_mb=settings.METAMER_CHECK_MEMORY_MB
    )
    if answer.problem:
        raise MetamerError(answer.problem, field=answer.field)
    return CheckedSpec(layer=answer.layer, input_size=answer.input_size, mean=answer.mean, std=answer.std)


def model_spec_check(
    *,
    name: str,
    source: str = ModelSpec.Source.BUILTIN,
    architecture: str,
    layer: str = "",
    checkpoint: Path | None = None,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    cifar_stem: bool = False,
    fake_relu: bool = False,
    fake_relu_rule: str = "last",
    imagenet_top1: float | None = None,
    network: bool = True,
) -> CheckedSpec:
    """Say what is wrong with a registration, storing nothing: its settings
    (``model_spec_check_settings``), then, with ``network``, that the network builds and the
    layer exists and gives a sane tensor on one image (seconds: for scripts and tests; the admin
    and API check networks in the background). Without ``network``, the settings as given."""
    model_spec_check_settings(
        name=name,
        source=source,
        architecture=architecture,
        input_size=input_size,
        mean=mean,
        std=std,
        imagenet_top1=imagenet_top1,
    )
    if not network:
        return CheckedSpec(layer=layer, input_size=input_size or 224, mean=list(mean or []), std=list(std or []))
    return _network_check(
        source=source,
        architecture=architecture,
        layer=layer,
        checkpoint=checkpoint,
        input_size=input_size,
        mean=mean,
        std=std,
        cifar_stem=cifar_stem,
        fake_relu=fake_relu,
        fake_relu_rule=fake_relu_rule,
    )


def model_spec_register(
    *,
    name: str,
    source: str = ModelSpec.Source.BUILTIN,
    architecture: str,
    layer: str = "",
    checkpoint: Path | None = None,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    cifar_stem: bool = False,
    fake_relu: bool = False,
    fake_relu_rule: str = "last",
    imagenet_top1: float | None = None,
    in_background: bool = False,
) -> ModelSpec:
    """Register a network + layer: checked now, never at job time. ``in_background`` (the admin
    and the API): only the settings are checked here; the spec is stored *being checked* and a
    task builds and runs the network (``model_spec_check_run``); no job may use it until it is
    ready."""
    checked = model_spec_check(
        name=name,
        source=source,
        architecture=architecture,
        layer=layer,
        checkpoint=checkpoint,
        input_size=input_size,
        mean=mean,
        std=std,
        cifar_stem=cifar_stem,
        fake_relu=fake_relu,
        fake_relu_rule=fake_relu_rule,
        imagenet_top1=imagenet_top1,
        network=not in_background,
    )
    spec = ModelSpec(
        name=name,
        source=source,
        architecture=architecture,
        layer=checked.layer,
        cifar_stem=cifar_stem,
        fake_relu=fake_relu,
        fake_relu_rule=fake_relu_rule,
        input_size=checked.input_size,
        mean=checked.mean,
        std=checked.std,
        imagenet_top1=imagenet_top1,
        status=ModelSpec.Status.CHECKING if in_background else ModelSpec.Status.READY,
    )
    if checkpoint is not None:
        spec.checkpoint.save(Path(checkpoint).name, ContentFile(Path(checkpoint).read_bytes()), save=False)
    spec.full_clean()
    with transaction.atomic():
        spec.save()
        if in_background:
            _send_check(spec)
    return spec


def _send_check(spec: ModelSpec) -> None:
    from inversion.tasks import check_model_spec

    send_stamped(check_model_spec, spec)


def model_spec_check_run(*, model_spec_id: int) -> ModelSpec:
    """The background half of registering: build and run the network as stored; the spec
    becomes ready (with the layer, size and normalisation the check resolved) or failed, with
    the reason. A spec no longer being checked is left as it is (a redelivered task)."""
    spec = ModelSpec.objects.get(pk=model_spec_id)
    if spec.status != ModelSpec.Status.CHECKING:
        return spec
    try:
        with local_path(spec.checkpoint) as checkpoint:
            checked = _network_check(
                source=spec.source,
                architecture=spec.architecture,
                layer=spec.layer,
                checkpoint=checkpoint,
                input_size=spec.input_size,
                mean=spec.mean or None,
                std=spec.std or None,
                cifar_stem=spec.cifar_stem,
                fake_relu=spec.fake_relu,
                fake_relu_rule=spec.fake_relu_rule,
            )
    except MetamerError as exc:
        where = f"{exc.field}: " if exc.field else ""
        ModelSpec.objects.filter(pk=spec.pk).update(status=ModelSpec.Status.FAILED, message=where + exc.message)
    else:
        ModelSpec.objects.filter(pk=spec.pk).update(
            status=ModelSpec.Status.READY,
            layer=checked.layer,
            input_size=checked.input_size,
            mean=checked.mean,
            std=checked.std,
            message="",
        )
    spec.refresh_from_db()
    return spec


def model_specs_send_unsent(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Checks the task queue never took (the broker was down), sent again; how many."""
    stale = ModelSpec.objects.filter(
        status=ModelSpec.Status.CHECKING, enqueued_at__isnull=True, created_at__lt=timezone.now() - older_than
    )
    specs = list(stale)
    for spec in specs:
        _send_check(spec)
    return len(specs)


def model_specs_top1_import(*, file: IO[bytes], filename: str) -> dict[str, list[str]]:
    """ImageNet top-1 for registered specs from a CSV with ``model`` and ``top1`` columns, such
    as timm's published ``results-imagenet.csv``: a row names a spec by its name, its
    architecture, or its architecture with a weight tag (``resnet50.a1_in1k``). The file is
    read whole and checked before any spec changes; returns the specs ``updated`` and the
    ``unmatched`` specs."""
    try:
        rows = list(csv.DictReader(io.StringIO(file.read(MAX_TOP1_FILE_BYTES + 1).decode("utf-8"))))
    except UnicodeDecodeError:
        raise MetamerError(f"{filename}: not a text CSV file", field="file") from None
    if not rows or not {"model", "top1"} <= set(rows[0]):
        raise MetamerError(f"{filename}: a CSV with a header row naming model and top1 columns", field="file")
    table: dict[str, float] = {}
    for number, row in enumerate(rows, start=2):
        try:
            value = float(row["top1"])
        except (TypeError, ValueError):
            raise MetamerError(f"{filename}: row {number}: top1 must be a number", field="file") from None
        if not 0 <= value <= 100:
            raise MetamerError(f"{filename}: row {number}: top1 is a percentage, 0 to 100", field="file")
        name = (row["model"] or "").strip()
        table.setdefault(name, value)
        table.setdefault(name.split(".")[0], value)  # timm's "arch.tag" rows also name the bare architecture
    updated, unmatched = [], []
    with transaction.atomic():
        for spec in ModelSpec.objects.order_by("name"):
            value = table.get(spec.name, table.get(spec.architecture))
            if value is None:
                unmatched.append(spec.name)
                continue
            spec.imagenet_top1 = value
            spec.save(update_fields=["imagenet_top1"])
            updated.append(spec.name)
    return {"updated": updated, "unmatched": unmatched}


MAX_TOP1_FILE_BYTES = 20 * 2**20
