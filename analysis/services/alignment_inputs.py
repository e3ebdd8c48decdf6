"""What an alignment run reads: image sets (files or stored), people's judgements (files or
stored similarity data) and models' downstream scores."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from analysis.services.zoo_models import DEFAULT_INPUT_SIZE
from inversion.archives import ImageError, image_members, load_members
from inversion.models import TargetSet
from metamer.errors import MetamerError
from science.alignment import HumanJudgements
from science.images import FORMATS, fit, sha256, to_tensor
from science.similarity import check_dissimilarity, check_triplets, embedding_dissimilarity, fit_embedding
from surveys.models import SimilarityData
from surveys.selectors import similarity_arrays
from surveys.services import kriegeskorte92_read, similarity_file_read, triplet_file_read

KRIEGESKORTE92_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"


@dataclass(frozen=True)
class Images:
    """An image set as the benchmark reads it: pixels N×3×S×S in [0, 1], labels, and ``key``,
    the hash of the images' own hashes in order (the embedding cache's name for them)."""

    pixels: torch.Tensor
    labels: list[str]
    hashes: list[str]
    """Each image's SHA-256 (of its pixels as stored here)."""
    key: str

    @property
    def canonical_order(self) -> np.ndarray:
        """The images sorted by hash: the order random draws follow, whatever order they came in."""
        return np.argsort(np.asarray(self.hashes), kind="stable")


def _images(pairs: Sequence[tuple[str, object]]) -> Images:
    sizes = {img.size for _, img in pairs}
    # One size for all, so the images stack; each model resizes to its own input size.
    side = next(iter(sizes))[0] if len(sizes) == 1 and len({*next(iter(sizes))}) == 1 else DEFAULT_INPUT_SIZE
    tensors = [to_tensor(fit(img, side)) for _, img in pairs]
    hashes = [sha256((t * 255).round().to(torch.uint8).numpy().tobytes()) for t in tensors]
    key = hashlib.sha256("".join(hashes).encode()).hexdigest()
    return Images(torch.stack(tensors), [label for label, _ in pairs], hashes, key)


def images_read(*, path: Path, per_class: int | None = None, seed: int = 0) -> Images:
    """Images from a folder, .zip or .tar (sorted by name; a class folder gives the label), or
    the kriegeskorte92 folder (its 92 images in the published order); ``per_class`` draws that
    many of each class with ``seed`` (for probes on a large labelled set)."""
    path = Path(path)
    if (path / KRIEGESKORTE92_FILE).is_file():
        return _images(kriegeskorte92_read(path=path)[0])
    if not path.exists():
        raise MetamerError(f"{path} does not exist: give a folder or archive of images", field="images")
    try:
        names = image_members(path)
        if per_class is not None:
            by_class: dict[str, list[str]] = {}
            for name in names:
                by_class.setdefault(Path(name).parent.name, []).append(name)
            rng = random.Random(seed)
            names = sorted(
                n for members in by_class.values() for n in rng.sample(members, min(per_class, len(members)))
            )
        if not names:
            raise MetamerError(f"{path} holds no images", field="images")
        return _images(list(load_members(path, names)))
    except ImageError as exc:
        raise MetamerError(f"{path}: {exc}", field="images") from None


def images_of_set(target_set: TargetSet) -> Images:
    targets = target_set.targets.select_related("stimulus").order_by("index")
    return _images([(t.label, _stored_image(t.stimulus)) for t in targets])


def _stored_image(stimulus) -> Image.Image:
    with stimulus.image.open("rb") as f, Image.open(f, formats=FORMATS) as img:
        return img.convert("RGB")


def human_read(*, path: Path, n_items: int, variable: str = "", similarities: bool = False) -> HumanJudgements:
    """People's judgements from a file in any format the similarity-data import takes:
    matrices (.csv, .npy, .mat; one per person or averaged; dissimilarities, or similarities
    with ``similarities``) or a triplet CSV (``i,j,k,choice`` or ``i,j,k,chosen``, optional
    ``worker``), or the kriegeskorte92 folder; checked against ``n_items`` images."""
    path = Path(path)
    if (path / KRIEGESKORTE92_FILE).is_file():
        people = kriegeskorte92_read(path=path)[1]
        return _checked_human(people, n_items, path.name)
    if not path.is_file():
        raise MetamerError(f"{path} is not a file: give a matrix (.csv, .npy, .mat) or a triplet CSV", field="human")
    with path.open("rb") as f:
        head = f.read(200).split(b"\n", 1)[0].decode("utf-8", "replace").replace(" ", "").lower().split(",")
        f.seek(0)
        if path.suffix.lower() == ".csv" and {"i", "j", "k"} <= set(head):
            triplets, answers, workers = triplet_file_read(file=f, filename=path.name)
            try:
                check_triplets(triplets, answers, n_items=n_items)
            except ValueError as exc:
                raise MetamerError(f"{path.name}: {exc}", field="human") from None
            generator = torch.Generator().manual_seed(0)
            group = embedding_dissimilarity(fit_embedding(triplets, answers, n_items, generator=generator))
            return HumanJudgements(group, triplets=triplets, answers=answers, workers=np.asarray(workers, str))
        matrices = similarity_file_read(file=f, filename=path.name, variable=variable)
    if similarities:
        matrices = np.stack([m.max() - m for m in matrices])
    return _checked_human(matrices, n_items, path.name)


def _checked_human(matrices: np.ndarray, n_items: int, name: str) -> HumanJudgements:
    try:
        stack = np.stack(
            [check_dissimilarity(m, n_items=n_items, name=f"{name}, matrix {p + 1}") for p, m in enumerate(matrices)]
        )
    except ValueError as exc:
        raise MetamerError(str(exc), field="human") from None
    return HumanJudgements(stack.mean(0), people=stack if len(stack) > 1 else None)


def human_of_data(data: SimilarityData) -> HumanJudgements:
    arrays = similarity_arrays(data)
    if data.kind == SimilarityData.Kind.TRIPLETS:
        return HumanJudgements(
            arrays["group"], triplets=arrays["triplets"], answers=arrays["choices"], workers=arrays["workers"]
        )
    people = arrays["matrices"]
    return HumanJudgements(arrays["group"], people=people if len(people) > 1 else None)


def scores_read(*, path: Path) -> pd.DataFrame:
    """Per-model scores from a CSV: a ``model`` column, optionally ``top1`` (ImageNet top-1, the
    covariate), and any other numeric columns (e.g. ImageNet-A accuracy)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MetamerError(f"{path}: not a readable CSV ({exc})", field="scores") from None
    if "model" not in frame.columns or len(frame.columns) < 2:
        raise MetamerError(f"{path}: needs a model column and at least one score column", field="scores")
    numeric = frame.drop(columns="model").apply(pd.to_numeric, errors="coerce")
    bad = [c for c in numeric.columns if numeric[c].isna().all()]
    if bad:
        raise MetamerError(f"{path}: column {bad[0]!r} holds no numbers", field="scores")
    return pd.concat([frame[["model"]].astype(str), numeric], axis=1)
