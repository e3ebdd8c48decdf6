"""Writes for the inversion app: registering networks, building target sets, running jobs."""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from inversion import images as imageio
from inversion.config import SEED_KINDS, InversionConfig
from inversion.engine import autocast_dtype, invert, relative_distance
from inversion.models import IRI, InversionJob, ModelSpec, Stimulus, Target, TargetSet
from inversion.networks import IMAGENET_MEAN, IMAGENET_STD, NetworkError, build_network, default_layer, layer_names
from inversion.regularizers import build_penalty, build_transform
from inversion.selectors import model_spec_representation, pending_work
from metamer.errors import MetamerError
from metamer.seeding import derive_seed, seed_everything

NOISE_LAWS = {"normal-0-1": (0.0, 1.0), "normal-0.5-2": (0.5, 2.0)}
"""Noise targets: ``N(mean, std)`` per pixel, clamped to [0, 1]."""


def stimulus_create(*, role: str, image: torch.Tensor) -> Stimulus:
    """Store one image in [0, 1] (3×H×W) as a lossless PNG."""
    data = imageio.png_bytes(image)
    digest = imageio.sha256(data)
    stimulus = Stimulus(role=role, sha256=digest, width=image.shape[-1], height=image.shape[-2])
    stimulus.image.save(f"{role}-{digest[:16]}.png", ContentFile(data), save=False)
    stimulus.save()
    return stimulus


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
) -> ModelSpec:
    """Register a network + layer, checking now that it builds and the layer exists."""
    if ModelSpec.objects.filter(name=name).exists():
        raise MetamerError(f"a model spec named {name!r} exists already; pick another name", field="name")
    try:
        net = build_network(source, architecture, checkpoint, cifar_stem=cifar_stem)
    except NetworkError as exc:
        raise MetamerError(str(exc), field="checkpoint" if checkpoint else "architecture") from None
    layer = layer or default_layer(net)
    if layer not in layer_names(net):
        raise MetamerError(f"no layer named {layer!r}; choose one of: {', '.join(layer_names(net)[1:])}", field="layer")
    spec = ModelSpec(
        name=name,
        source=source,
        architecture=architecture,
        layer=layer,
        cifar_stem=cifar_stem,
        input_size=input_size or (32 if cifar_stem else 224),
        mean=list(mean or IMAGENET_MEAN),
        std=list(std or IMAGENET_STD),
    )
    if checkpoint is not None:
        spec.checkpoint.save(Path(checkpoint).name, ContentFile(Path(checkpoint).read_bytes()), save=False)
    spec.full_clean()
    spec.save()
    return spec


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
def target_set_import(*, name: str, path: Path, image_size: int, sample: int | None = None, seed: int = 0) -> TargetSet:
    """Import a folder or a .zip/.tar archive (class folders give labels); optionally a random
    sample of ``sample`` images drawn with ``seed`` (recorded)."""
    try:
        members = imageio.image_members(path)
    except imageio.ImageError as exc:
        raise MetamerError(str(exc), field="path") from None
    if not members:
        raise MetamerError(f"{path}: no image files found", field="path")
    if sample is not None:
        if sample > len(members):
            raise MetamerError(f"asked for {sample} images but {path} holds {len(members)}", field="sample")
        members = sorted(random.Random(seed).sample(members, sample))
    try:
        loaded = list(imageio.load_members(path, members))
    except imageio.ImageError as exc:
        raise MetamerError(str(exc), field="path") from None
    return target_set_create_from_images(
        name=name, images=loaded, image_size=image_size, source=str(path), sample_seed=seed if sample else None
    )


def target_set_create(
    *,
    name: str,
    image_size: int,
    archive: UploadedFile | None = None,
    sample: int | None = None,
    seed: int = 0,
    noise_law: str | None = None,
    n: int | None = None,
) -> TargetSet:
    """A target set from an uploaded image or archive, or noise targets (admin and API)."""
    if noise_law:
        return target_set_create_noise(name=name, n=n or 0, law=noise_law, image_size=image_size, seed=seed)
    if archive is None:
        raise MetamerError("upload an image or an archive, or choose a noise law", field="archive")
    if archive.size > settings.METAMER_MAX_UPLOAD_BYTES:
        raise MetamerError(
            f"the upload is larger than {settings.METAMER_MAX_UPLOAD_BYTES // 2**20} MiB; sample it first",
            field="archive",
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(archive.name).name
        with open(path, "wb") as fh:
            for chunk in archive.chunks():
                fh.write(chunk)
        if path.suffix.lower() in imageio.IMAGE_SUFFIXES:
            # A single image: import the folder holding it.
            folder = Path(tmp) / "images"
            folder.mkdir()
            path.rename(folder / path.name)
            path = folder
        return target_set_import(name=name, path=path, image_size=image_size, sample=sample, seed=seed)


@transaction.atomic
def target_set_create_noise(*, name: str, n: int, law: str, image_size: int, seed: int) -> TargetSet:
    """Noise targets drawn from ``N(0, 1)`` (``normal-0-1``) or ``N(0.5, 2)`` (``normal-0.5-2``)."""
    if law not in NOISE_LAWS:
        raise MetamerError(f"unknown noise law {law!r}; choose one of {', '.join(NOISE_LAWS)}", field="law")
    if n < 1:
        raise MetamerError("n must be at least 1", field="n")
    _check_unique_target_set(name)
    mean, std = NOISE_LAWS[law]
    generator = seed_everything(derive_seed(seed, "noise-targets"))
    target_set = TargetSet.objects.create(
        name=name, kind=TargetSet.Kind.NOISE, source=law, image_size=image_size, resize_policy="none", sample_seed=seed
    )
    for index in range(n):
        x = (mean + std * torch.randn(3, image_size, image_size, generator=generator)).clamp(0, 1)
        stimulus = stimulus_create(role=Stimulus.Role.TARGET, image=x)
        Target.objects.create(target_set=target_set, index=index, label=law, stimulus=stimulus)
    return target_set


def _check_unique_target_set(name: str) -> None:
    if TargetSet.objects.filter(name=name).exists():
        raise MetamerError(f"a target set named {name!r} exists already; pick another name", field="name")


def inversion_job_create(
    *, model_spec: ModelSpec, target_set: TargetSet, config: InversionConfig, enqueue: bool = True
) -> InversionJob:
    """Create a job and queue it on the ``gpu`` queue once the surrounding transaction commits
    (``enqueue=False``: the caller runs it, e.g. the demo with its progress bar)."""
    if target_set.image_size != model_spec.input_size:
        raise MetamerError(
            f"the targets are {target_set.image_size}×{target_set.image_size} but {model_spec.name} takes "
            f"{model_spec.input_size}×{model_spec.input_size}; import them at the model's input size",
            field="target_set",
        )
    n_targets = target_set.targets.count()
    if n_targets == 0:
        raise MetamerError("the target set is empty", field="target_set")
    job = InversionJob.objects.create(
        model_spec=model_spec, target_set=target_set, config=config.to_dict(), total=n_targets * config.seeds_per_target
    )
    if enqueue:
        from inversion.tasks import run_inversion_job

        transaction.on_commit(lambda: run_inversion_job.delay(job.pk))
    return job


_ALLOWED_MOVES = {
    InversionJob.Status.QUEUED: {InversionJob.Status.RUNNING, InversionJob.Status.CANCELLED},
    # RUNNING → RUNNING: a worker killed midway left it running; the next one resumes it.
    InversionJob.Status.RUNNING: {
        InversionJob.Status.RUNNING,
        InversionJob.Status.DONE,
        InversionJob.Status.FAILED,
        InversionJob.Status.CANCELLED,
    },
    InversionJob.Status.FAILED: {InversionJob.Status.RUNNING},
    InversionJob.Status.DONE: set(),
    InversionJob.Status.CANCELLED: set(),
}


def _move(job: InversionJob, status: str, **fields) -> None:
    if status not in _ALLOWED_MOVES[job.status]:
        raise MetamerError(f"job {job.pk} is {job.status}; it cannot become {status}", code="conflict")
    job.status = status
    for key, value in fields.items():
        setattr(job, key, value)
    job.save(update_fields=["status", *fields])


def inversion_job_cancel(*, job: InversionJob) -> InversionJob:
    _move(job, InversionJob.Status.CANCELLED, finished_at=timezone.now())
    return job


def _device() -> torch.device:
    if settings.METAMER_DEVICE:
        return torch.device(settings.METAMER_DEVICE)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def inversion_job_run(*, job_id: int, on_progress: Callable[[int, int], None] | None = None) -> InversionJob:
    """Run (or resume) a job in chunks of ``batch_size`` IRIs, each stored in one transaction,
    so a worker killed midway leaves a job the next run finishes without duplicates.
    ``on_progress(done, total)`` counts optimisation steps times images."""
    job = InversionJob.objects.select_related("model_spec", "target_set").get(pk=job_id)
    if job.status in (InversionJob.Status.DONE, InversionJob.Status.CANCELLED):
        return job
    config = InversionConfig.from_dict(job.config)
    device = _device()
    _move(job, InversionJob.Status.RUNNING, started_at=job.started_at or timezone.now(), device=str(device))
    try:
        g = model_spec_representation(job.model_spec).to(device)
        seeds = _seed_images(job, config, device)
        work = pending_work(job)
        units = (config.steps + 1) * len(work)
        for start in range(0, len(work), config.batch_size):
            job.refresh_from_db(fields=["status"])
            if job.status == InversionJob.Status.CANCELLED:
                return job
            chunk = work[start : start + config.batch_size]

            def on_step(
                step: int, _loss: torch.Tensor, base: int = start * (config.steps + 1), n: int = len(chunk)
            ) -> None:
                if on_progress is not None:
                    on_progress(base + (step + 1) * n, units)

            _run_chunk(job, config, g, seeds, chunk, device, on_step)
    except Exception as exc:
        _move(job, InversionJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now())
        raise
    _move(job, InversionJob.Status.DONE, finished_at=timezone.now())
    return job


def _seed_images(
    job: InversionJob, config: InversionConfig, device: torch.device
) -> dict[tuple[int, int], torch.Tensor]:
    """x0 per (target index, seed index), in [0, 1] on the 8-bit grid, regenerated identically
    on resume from the job's stored seed."""
    size = job.model_spec.input_size
    generator = seed_everything(derive_seed(config.seed, "seed-images"))
    scale = SEED_KINDS[config.seed_kind]
    n_targets = job.total // config.seeds_per_target
    per_target = n_targets if config.seed_per_target else 1
    noise = scale * torch.randn(per_target, config.seeds_per_target, 3, size, size, generator=generator)
    seeds = imageio.quantize(noise).to(device)
    return {
        (t, k): seeds[t if config.seed_per_target else 0, k]
        for t in range(n_targets)
        for k in range(config.seeds_per_target)
    }


def _precision(config: InversionConfig, device: torch.device) -> tuple[torch.dtype | None, str]:
    """The autocast dtype for this device, and the label stored with each IRI (``cpu bf16``,
    ``cuda:0 tf32``...). Sets CUDA's TF32 switches as the config asks."""
    tf32 = device.type == "cuda" and config.precision == "tf32"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    dtype = autocast_dtype(config.precision, device)
    return dtype, f"{device} {'bf16' if dtype == torch.bfloat16 else 'tf32' if tf32 else 'fp32'}"


def _run_chunk(job, config, g, seeds, chunk, device, on_step) -> None:
    targets = torch.stack([imageio.to_tensor(Image.open(t.stimulus.image)) for t, _ in chunk]).to(device)
    x0 = torch.stack([seeds[(t.index, k)] for t, k in chunk])
    dtype, precision_label = _precision(config, device)
    started = time.perf_counter()
    result = invert(
        g,
        targets,
        x0,
        steps=config.steps,
        update=config.update,
        step_size=config.step_size,
        schedule=config.schedule,
        rep_weight=config.rep_weight,
        penalty=build_penalty(config, device),
        transform=build_transform(config, job.model_spec.input_size),
        fourier=config.fourier,
        surrogate=config.surrogate,
        autocast=dtype,
        # Transform draws depend on the job's seed and the chunk, never on other chunks' progress.
        generator=torch.Generator().manual_seed(config.seed * 1_000_003 + chunk[0][0].index),
        on_step=on_step,
    )
    stored = imageio.quantize(result.images)
    with torch.no_grad():
        # The distance of what is stored (8-bit PNG), which is what people will see.
        rep_distance = relative_distance(g(targets), g(stored)).cpu()
    per_image = (time.perf_counter() - started) / len(chunk)
    seed_stimuli: dict[tuple[int, int], Stimulus] = {}
    with transaction.atomic():
        for i, (target, k) in enumerate(chunk):
            seed_key = (target.index if config.seed_per_target else 0, k)
            if seed_key not in seed_stimuli:
                existing = IRI.objects.filter(job=job, seed_index=k).select_related("seed").first()
                shared = existing.seed if existing and not config.seed_per_target else None
                seed_stimuli[seed_key] = shared or stimulus_create(role=Stimulus.Role.SEED, image=x0[i])
            distance = float(rep_distance[i])
            IRI.objects.create(
                job=job,
                target=target,
                seed_index=k,
                seed=seed_stimuli[seed_key],
                stimulus=stimulus_create(role=Stimulus.Role.IRI, image=stored[i]),
                rep_distance=distance,
                converged=distance <= config.convergence_threshold,
                steps=config.steps,
                best_step=int(result.best_step[i]),
                wall_time=per_image,
                device=precision_label,
            )
        job.done = IRI.objects.filter(job=job).count()
        job.save(update_fields=["done"])
