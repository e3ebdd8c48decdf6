"""Do other networks recognise a job's IRIs? Every classifier Metamer can build reads each IRI,
its target and its seed (``science.recognition``); one row per classifier (``Recognition``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from django.conf import settings
from django.db import transaction

from inversion.models import InversionJob, ModelSpec, Recognition
from inversion.selectors import model_spec_network, stimulus_tensor
from metamer.errors import MetamerError
from science.networks import BUILTINS, LayerRepresentation, build_network, has_classifier_head, layer_names
from science.recognition import recognise


@dataclass(frozen=True)
class Classifier:
    name: str
    description: str
    input_size: int | None
    """The side images are resized to; None: read at the IRIs' own size (a built-in's global
    pooling takes any size, and the IRI the job made is read unresampled)."""
    build: Callable[[], torch.nn.Module]
    """Pixels in [0, 1] → logits (normalising inside)."""


def _logits(net: torch.nn.Module, mean, std) -> torch.nn.Module:
    return LayerRepresentation(net, layer_names(net)[-1], mean, std, optimize=False)


def recognition_classifiers() -> list[Classifier]:
    """The built-in ImageNet classifiers (trained, full networks), then each ready model spec
    whose network ends in a classifier head (once per network: source, architecture, weights)."""
    found = [
        Classifier(
            name=name,
            description=builtin.description,
            input_size=None,
            build=lambda name=name, builtin=builtin: _logits(
                build_network("builtin", name, cache_dir=settings.METAMER_CACHE_DIR), builtin.mean, builtin.std
            ),
        )
        for name, builtin in BUILTINS.items()
        if builtin.twin_of is None and "full classifier" in builtin.description
    ]
    seen = set()
    for spec in ModelSpec.objects.filter(status=ModelSpec.Status.READY).exclude(source="builtin").order_by("pk"):
        key = (spec.source, spec.architecture, spec.checkpoint.name, spec.cifar_stem)
        if key in seen:
            continue
        seen.add(key)
        net = model_spec_network(spec)
        if has_classifier_head(net):
            found.append(
                Classifier(
                    name=spec.name,
                    description=f"{spec.architecture} ({spec.source}), its classifier's output",
                    input_size=spec.input_size,
                    build=lambda net=net, spec=spec: _logits(net, spec.mean, spec.std),
                )
            )
    return found


def job_recognition_compute(*, job_id: int) -> list[Recognition]:
    """Read the job's IRIs with every classifier; store one row each (replacing earlier ones)."""
    job = InversionJob.objects.select_related("target_set").get(pk=job_id)
    iris = list(job.iris.select_related("target__stimulus", "seed", "stimulus").order_by("pk"))
    if not iris:
        raise MetamerError(f"job {job.pk} has no IRIs to classify", field="job")
    targets = torch.stack([stimulus_tensor(i.target.stimulus) for i in iris])
    images = torch.stack([stimulus_tensor(i.stimulus) for i in iris])
    seeds = torch.stack([stimulus_tensor(i.seed) for i in iris])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    readings = []
    for classifier in recognition_classifiers():
        counts = recognise(
            classifier.build(),
            targets=targets,
            iris=images,
            seeds=seeds,
            input_size=classifier.input_size or job.target_set.image_size,
            device=device,
        )
        readings.append((classifier, counts))
    with transaction.atomic():
        job.recognitions.all().delete()
        return [
            Recognition.objects.create(
                job=job,
                classifier=classifier.name,
                description=classifier.description,
                n=counts.n,
                recognised=counts.recognised,
                seeds_recognised=counts.seeds_recognised,
                device=str(device),
            )
            for classifier, counts in readings
        ]
