"""Human similarity data: imports of published matrices and triplet lists over an image set,
checked before anything is stored, with their reliability across people."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from inversion.models import TargetSet
from inversion.services import (
    target_set_create_from_images,
    target_set_images_count,
    target_set_import,
    upload_on_disk,
)
from metamer.errors import MetamerError
from metamer.finite import finite
from science import similarity as sim
from surveys.kinds import KINDS
from surveys.models import SimilarityData, Survey
from surveys.selectors import survey_ratings, survey_triplets
from surveys.services.similarity_files import (
    checked_matrices,
    kriegeskorte92_read,
    similarity_file_read,
    triplet_file_read,
)

KRIEGESKORTE92_SOURCE = (
    "Kriegeskorte et al. 2008, Neuron (images); Mur et al. 2013, Front. Psychol. (16 people's similarity "
    "judgements); from rsatoolbox demos/92imageData"
)


MAX_IMAGES_WITH_DATA = 256
"""Images imported together with their similarity data, inside one request and one transaction
(the 92-object set fits); more go through a target set's background import."""


def _summary(matrices: np.ndarray) -> dict:
    if len(matrices) < 2:
        return {}
    from science.comparison import group_ceiling, person_ceiling

    reliability = sim.split_half_reliability(matrices)
    return finite(
        {
            **reliability,
            # Per comparison, each metric's (low, high) ceiling (``science.comparison``).
            "ceiling": {
                "group": {m: list(band) for m, band in group_ceiling(matrices).items()},
                "person": {m: list(band) for m, band in person_ceiling(matrices).items()},
            },
            "item_reliability": [round(float(v), 4) for v in sim.item_reliability(matrices, splits=20)],
        }
    )


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def similarity_data_import(
    *,
    name: str,
    image_set: TargetSet | None = None,
    images: Path | None = None,
    images_name: str = "",
    image_size: int = 224,
    matrices: np.ndarray | None = None,
    triplets: np.ndarray | None = None,
    choices: np.ndarray | None = None,
    workers: list[str] | None = None,
    similarities: bool = False,
    source: str = "",
    filename: str = "",
) -> SimilarityData:
    """Store people's judgements over ``image_set``: ``matrices`` (people × n × n, or n × n;
    dissimilarities, or similarities with ``similarities=True``), or ``triplets`` (m × 3) with
    ``choices`` (1: i is closer to j) and optional ``workers``. Every matrix and triplet is
    checked first; a failure names the file (``filename``) and what to fix, and stores nothing.

    The images are ``image_set``, or ``images``: a folder, .zip or .tar on disk (named
    ``images_name`` in messages), imported in the same step as an image set of the same name,
    rows, columns and indices following their file names, sorted. Its archive is checked, and
    that it holds as many images as the data need, before anything is stored."""
    prefix = f"{filename}: " if filename else ""
    _check_unique_name(name)
    if (matrices is None) == (triplets is None):
        raise MetamerError("give either matrices or triplets", field="file")
    if (image_set is None) == (images is None):
        raise MetamerError(
            "choose the image set the data are about, or give its images with them (a folder, .zip or .tar; "
            "rows and columns follow the images' file names, sorted)",
            field="image_set",
        )
    if images is not None:
        images_name = images_name or str(images)
        n_items = target_set_images_count(path=images, shown=images_name)
        if n_items > MAX_IMAGES_WITH_DATA:
            raise MetamerError(
                f"{images_name} holds {n_items:,} images; with the data, at most {MAX_IMAGES_WITH_DATA} are imported at "
                "once: import the images as a target set first (large ones import in the background), then give it "
                "as the image set",
                field="images",
            )
        _check_count(n_items, images_name, f"{prefix}the data", matrices, triplets)
    else:
        n_items = image_set.targets.count()
    try:
        if matrices is not None:
            stack = checked_matrices(matrices, n_items=n_items, similarities=similarities)
            kind, arrays = SimilarityData.Kind.MATRICES, {"matrices": stack, "group": stack.mean(0)}
            n_people, n_judgements, summary = len(stack), len(stack) * len(sim.upper(stack[0])), _summary(stack)
        else:
            t, c = np.asarray(triplets, dtype=np.int64), np.asarray(choices, dtype=np.int64)
            sim.check_triplets(t, c, n_items=n_items)
            who = np.asarray(workers if workers is not None else [""] * len(t), dtype=str)
            # The group matrix is fitted once here, not on every page or API call that shows it.
            generator = torch.Generator().manual_seed(0)
            group = sim.embedding_dissimilarity(sim.fit_embedding(t, c, n_items, generator=generator))
            kind, arrays = SimilarityData.Kind.TRIPLETS, {"triplets": t, "choices": c, "workers": who, "group": group}
            n_people, n_judgements = max(len(set(who.tolist()) - {""}), 1), len(t)
            summary = finite(sim.triplet_reliability(t, c, who)) if n_people > 1 else {}
    except ValueError as exc:
        raise MetamerError(f"{prefix}{exc}", field="file") from None
    with transaction.atomic():
        if images is not None:  # every check above passed: only now is an image stored
            image_set = target_set_import(name=name, path=images, image_size=image_size, shown=images_name)
        data = SimilarityData(
            name=name,
            image_set=image_set,
            kind=kind,
            source=source,
            n_items=n_items,
            n_people=n_people,
            n_judgements=n_judgements,
            reliability=summary,
        )
        data.data.save(f"{name}.npz", ContentFile(_npz(**arrays)), save=False)
        data.save()
    return data


def similarity_data_upload(
    *,
    name: str,
    kind: str,
    file: IO[bytes],
    filename: str,
    image_set: TargetSet | None = None,
    images: Path | None = None,
    images_name: str = "",
    image_size: int = 224,
    variable: str = "",
    similarities: bool = False,
    source: str = "",
) -> SimilarityData:
    """Import one file of ``kind`` (matrices or triplets) with ``similarity_data_import``."""
    common = {
        "name": name,
        "source": source,
        "filename": filename,
        "image_set": image_set,
        "images": images,
        "images_name": images_name,
        "image_size": image_size,
    }
    if kind == SimilarityData.Kind.TRIPLETS:
        triplets, choices, workers = triplet_file_read(file=file, filename=filename)
        return similarity_data_import(**common, triplets=triplets, choices=choices, workers=workers)
    if kind != SimilarityData.Kind.MATRICES:
        raise MetamerError(f"unknown kind {kind!r}; choose matrices or triplets", field="kind")
    matrices = similarity_file_read(file=file, filename=filename, variable=variable)
    return similarity_data_import(**common, matrices=matrices, similarities=similarities)


def similarity_data_create(
    *,
    name: str,
    kind: str,
    file: UploadedFile,
    image_set: TargetSet | None = None,
    images: UploadedFile | None = None,
    image_size: int = 224,
    variable: str = "",
    similarities: bool = False,
    source: str = "",
) -> SimilarityData:
    """``similarity_data_upload`` from uploads (admin and API): the images' archive, when given,
    goes to disk once and is named by its own file name in every message."""
    common = {
        "name": name,
        "kind": kind,
        "file": file,
        "filename": file.name,
        "image_set": image_set,
        "image_size": image_size,
        "variable": variable,
        "similarities": similarities,
        "source": source,
    }
    if images is None:
        return similarity_data_upload(**common)
    if images.size > settings.METAMER_MAX_UPLOAD_BYTES:
        limit = settings.METAMER_MAX_UPLOAD_BYTES // 2**20
        raise MetamerError(f"{images.name} is larger than {limit} MiB; sample it first", field="images")
    with upload_on_disk(images) as path:
        return similarity_data_upload(**common, images=path, images_name=images.name)


def _check_count(
    n_images: int, images_name: str, what: str, matrices: np.ndarray | None, triplets: np.ndarray | None
) -> None:
    """That the images are as many as the matrices' side, and that every triplet index names one."""
    if matrices is not None and np.shape(matrices)[-1] != n_images:
        side = np.shape(matrices)[-1]
        raise MetamerError(
            f"{what} are {side}×{side} matrices but {images_name} holds {n_images} images; "
            "give the images the data are about",
            field="images",
        )
    if triplets is not None and len(triplets) and int(np.max(triplets)) >= n_images:
        raise MetamerError(
            f"{what} name image {int(np.max(triplets))} but {images_name} holds {n_images} images (counted from 0); "
            "give the images the data are about",
            field="images",
        )


def _check_unique_name(name: str) -> None:
    if SimilarityData.objects.filter(name=name).exists():
        raise MetamerError(f"human similarity data named {name!r} exist already; choose another name", field="name")


def similarity_data_from_survey(*, survey: Survey, name: str) -> SimilarityData:
    """A triplet, odd-one-out or rating survey's answers as similarity data over its image set
    (the currency the alignment analyses read): every answered trial but the attention checks,
    from workers who passed all their checks, with worker ids. Ratings become dissimilarity
    matrices, ``(10 − rating) / 10``: one per worker who rated every pair (so reliability across
    people is known), else the mean over workers, which needs every pair rated by someone."""
    spec = survey.spec
    if not spec.image_set:
        asks = ", ".join(s.noun for s in KINDS.values() if s.image_set)
        raise MetamerError(f"{survey.name} is {spec.noun}, not an image-set survey ({asks})", field="survey")
    source = f"{survey.kind} survey {survey.name!r} ({survey.sampling}); workers who passed every attention check"
    if spec.to_triplets is None:  # ratings: one dissimilarity matrix per worker
        rows = [r for r in survey_ratings(survey) if not r["attention_check"] and r["passed_checks"]]
        if not rows:
            raise MetamerError(f"{survey.name} has no answers yet from workers who passed its checks", field="survey")
        return similarity_data_import(
            name=name, image_set=survey.image_set, matrices=_rating_matrices(survey, rows), source=source
        )
    rows = [r for r in survey_triplets(survey) if not r["attention_check"] and r["passed_checks"]]
    if not rows:
        raise MetamerError(f"{survey.name} has no answers yet from workers who passed its checks", field="survey")
    return similarity_data_import(
        name=name,
        image_set=survey.image_set,
        triplets=np.array([[r["i"], r["j"], r["k"]] for r in rows]),
        choices=np.array([r["choice"] for r in rows]),
        workers=[r["worker"] for r in rows],
        source=source,
    )


def _rating_matrices(survey: Survey, rows: list[dict]) -> np.ndarray:
    n = survey.image_set.targets.count()
    per_worker: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # dissimilarity sums, counts
    for r in rows:
        sums, counts = per_worker.setdefault(r["worker"], (np.zeros((n, n)), np.zeros((n, n))))
        for a, b in ((r["i"], r["j"]), (r["j"], r["i"])):
            sums[a, b] += (10 - r["rating"]) / 10
            counts[a, b] += 1
    off = ~np.eye(n, dtype=bool)
    complete = [s / np.where(c > 0, c, 1) for s, c in per_worker.values() if (c[off] > 0).all()]
    if complete:
        return np.stack(complete)
    sums, counts = sum(s for s, _ in per_worker.values()), sum(c for _, c in per_worker.values())
    if not (counts[off] > 0).all():
        missing = int((counts[off] == 0).sum() // 2)
        raise MetamerError(
            f"{missing} pairs were rated by nobody who passed the checks; wait for more answers or ask every pair",
            field="survey",
        )
    return (sums / np.where(counts > 0, counts, 1))[None]


def kriegeskorte92_import(*, path: Path, name: str = "kriegeskorte92") -> SimilarityData:
    """The 92 object images (Kriegeskorte et al. 2008) as an image set, labelled by category,
    and 16 people's similarity-judgement matrices (Mur et al. 2013) over them, from the folder
    of rsatoolbox's ``demos/92imageData`` files."""
    images, matrices = kriegeskorte92_read(path=path)  # checked before any image is stored
    with transaction.atomic():
        image_set = target_set_create_from_images(
            name=name, images=images, image_size=images[0][1].width, source=KRIEGESKORTE92_SOURCE
        )
        return similarity_data_import(
            name=name,
            image_set=image_set,
            matrices=matrices,
            source=KRIEGESKORTE92_SOURCE,
            filename="92_behavRDMs.mat",
        )
