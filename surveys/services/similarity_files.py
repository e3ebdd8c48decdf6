"""Reading people's similarity judgements from files (CSV, NumPy, MATLAB, the 92-object set),
each checked from its own header before anything is loaded, so a small file cannot claim
gigabytes; nothing here stores anything (``surveys.services.similarity`` does)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

from metamer.errors import MetamerError
from science import similarity as sim

MAX_MATRIX_FILE_BYTES = 200 * 2**20


MAX_VALUES = 50_000_000
"""Most numbers a similarity file may hold (400 MB of float64): checked from the file's own
header before anything is decompressed or allocated."""


def _loadmat(file: IO[bytes] | Path, name: str) -> dict:
    from scipy.io import loadmat, whosmat

    try:
        # Sizes first, from the variables' headers: a small compressed file can claim gigabytes.
        declared = sum(int(np.prod(shape, dtype=np.float64)) for _, shape, _ in whosmat(file))
        if declared > MAX_VALUES:
            raise MetamerError(f"{name}: declares {declared:,} values, more than {MAX_VALUES:,}", field="file")
        if hasattr(file, "seek"):
            file.seek(0)
        return loadmat(file, squeeze_me=True, struct_as_record=False)
    except MetamerError:
        raise
    except Exception as exc:  # a parser of untrusted bytes: whatever it raises means "not readable"
        raise MetamerError(f"{name}: not a MATLAB file scipy can read ({type(exc).__name__})", field="file") from None


def _npy(file: IO[bytes], name: str, size: int) -> np.ndarray:
    """An .npy array whose header is checked before its data are read: a number type, and no
    more values than ``MAX_VALUES`` or than the file holds."""
    try:
        version = np.lib.format.read_magic(file)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(file, max_header_size=10_000)
    except Exception:
        raise MetamerError(f"{name}: not a NumPy .npy file (an .npz, or damaged?)", field="file") from None
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_):
        raise MetamerError(f"{name}: holds {dtype} values, not numbers", field="file")
    values = int(np.prod(shape, dtype=np.float64))
    if values > MAX_VALUES or values * dtype.itemsize > size:
        raise MetamerError(f"{name}: its header claims {values:,} values, more than the file holds", field="file")
    file.seek(0)
    return np.load(file, allow_pickle=False)


def _mat_matrices(file: IO[bytes], name: str, variable: str) -> np.ndarray:
    """Matrices from a MATLAB file: rsatoolbox's layout (a struct array whose elements carry
    ``RDM``), or a numeric n×n or people×n×n array; ``variable`` picks one when several fit."""
    contents = {k: v for k, v in _loadmat(file, name).items() if not k.startswith("__")}
    found = {}
    for key, value in contents.items():
        items = np.atleast_1d(value)
        if items.dtype == object and all(hasattr(e, "RDM") for e in items.flat):
            found[key] = np.stack([np.asarray(e.RDM, dtype=np.float64) for e in items.flat])
        elif np.issubdtype(items.dtype, np.number) and items.ndim in (2, 3):
            found[key] = items.astype(np.float64)
    if variable:
        if variable not in found:
            raise MetamerError(
                f"{name}: no matrix variable {variable!r}; matrix variables: {', '.join(found) or 'none'}",
                field="variable",
            )
        return found[variable]
    if len(found) != 1:
        listed = ", ".join(f"{k} ({type(v).__name__})" for k, v in contents.items()) or "nothing"
        raise MetamerError(
            f"{name}: {'no' if not found else 'several'} dissimilarity matrices found (variables: {listed}); "
            "give a struct array with an RDM field (rsatoolbox's layout), an n×n or people×n×n array, "
            "and name the variable when there are several",
            field="file",
        )
    return next(iter(found.values()))


def similarity_file_read(*, file: IO[bytes], filename: str, variable: str = "") -> np.ndarray:
    """People × n × n matrices from a CSV (one n×n matrix, comma-separated), an NPY (n×n or
    people×n×n) or a MATLAB file; not yet checked (see ``similarity_data_import``)."""
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    if size > MAX_MATRIX_FILE_BYTES:
        raise MetamerError(f"{filename}: larger than {MAX_MATRIX_FILE_BYTES // 2**20} MiB", field="file")
    suffix = Path(filename).suffix.lower()
    try:
        if suffix == ".npy":
            matrices = _npy(file, filename, size)
        elif suffix == ".csv":
            matrices = np.loadtxt(io.TextIOWrapper(file, encoding="utf-8"), delimiter=",", ndmin=2)
        elif suffix == ".mat":
            matrices = _mat_matrices(file, filename, variable)
        else:
            raise MetamerError(f"{filename}: give a .csv, .npy or .mat file", field="file")
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise MetamerError(f"{filename}: not a numeric matrix ({exc})"[:300], field="file") from None
    try:
        matrices = np.asarray(matrices, dtype=np.float64)
    except (ValueError, TypeError):
        raise MetamerError(f"{filename}: not a numeric matrix", field="file") from None
    return matrices[None] if matrices.ndim == 2 else matrices


def triplet_file_read(*, file: IO[bytes], filename: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Triplets from a CSV with a header row ``i,j,k,choice`` (choice 1: i is closer to j; 0:
    closer to k) or ``i,j,k,chosen`` (the index of the image chosen, j or k), and an optional
    ``worker`` column; indices count from 0 in the image set's order."""
    if file.seek(0, io.SEEK_END) > MAX_MATRIX_FILE_BYTES:
        raise MetamerError(f"{filename}: larger than {MAX_MATRIX_FILE_BYTES // 2**20} MiB", field="file")
    file.seek(0)
    try:
        rows = list(csv.DictReader(io.StringIO(file.read().decode("utf-8"))))
    except UnicodeDecodeError:
        raise MetamerError(f"{filename}: not a text CSV file", field="file") from None
    header = set(rows[0]) if rows else set()
    column = "choice" if "choice" in header else "chosen"
    if not {"i", "j", "k", column} <= header:
        raise MetamerError(
            f"{filename}: a CSV with a header row i,j,k,choice or i,j,k,chosen (and optionally worker)", field="file"
        )
    try:
        t = np.array([[int(r["i"]), int(r["j"]), int(r["k"])] for r in rows], dtype=np.int64)
        given = np.array([int(r[column]) for r in rows], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise MetamerError(f"{filename}: i, j, k and {column} must be whole numbers", field="file") from None
    if column == "chosen":
        if not ((given == t[:, 1]) | (given == t[:, 2])).all():
            row = int(np.argmax((given != t[:, 1]) & (given != t[:, 2])))
            raise MetamerError(f"{filename}: row {row + 2}: chosen must be j or k", field="file")
        given = (given == t[:, 1]).astype(np.int64)
    return t, given, [r.get("worker") or "" for r in rows]


def kriegeskorte92_read(*, path: Path) -> tuple[list[tuple[str, Image.Image]], np.ndarray]:
    """The 92 object images (label: category) and the 16 people's dissimilarity matrices
    (16×92×92, checked), from the folder of rsatoolbox's ``demos/92imageData`` files."""
    stimuli_file, behaviour_file = path / "Kriegeskorte_Neuron2008_supplementalData.mat", path / "92_behavRDMs.mat"
    for needed in (stimuli_file, behaviour_file):
        if not needed.is_file():
            raise MetamerError(f"{needed.name} is not in {path}: give the kriegeskorte92 folder", field="path")
    stimuli = _loadmat(stimuli_file, stimuli_file.name).get("stimuli_92objs")
    if stimuli is None or len(stimuli) != 92:
        raise MetamerError(f"{stimuli_file.name}: no stimuli_92objs with 92 images", field="path")
    with behaviour_file.open("rb") as f:
        matrices = similarity_file_read(file=f, filename=behaviour_file.name, variable="rdms_behav_92")
    try:
        matrices = checked_matrices(matrices, n_items=len(stimuli), similarities=False)
    except ValueError as exc:
        raise MetamerError(f"{behaviour_file.name}: {exc}", field="path") from None
    images = [(str(s.category), Image.fromarray(np.asarray(s.image, dtype=np.uint8))) for s in stimuli]
    return images, matrices


def checked_matrices(matrices: np.ndarray, *, n_items: int, similarities: bool) -> np.ndarray:
    """People × n × n dissimilarities, each checked (``similarities``: turned from similarities first)."""
    stack = np.asarray(matrices, dtype=np.float64)
    stack = stack[None] if stack.ndim == 2 else stack
    if stack.ndim != 3 or len(stack) == 0:
        raise ValueError("give one n×n matrix or a people×n×n stack")
    return np.stack(
        [
            sim.check_dissimilarity(
                sim.similarity_to_dissimilarity(m) if similarities else m,
                n_items=n_items,
                name=f"matrix {p + 1}" if len(stack) > 1 else "the matrix",
            )
            for p, m in enumerate(stack)
        ]
    )
