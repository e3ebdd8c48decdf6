"""Checking a network before it is registered, in a child process with time and memory limits.

An uploaded checkpoint or TorchScript file is code and data from outside: building it and
running it once on a dummy image happens in ``python -m science.network_check`` under
``RLIMIT_DATA`` and a wall-clock timeout, so a file that loops, allocates without end or
crashes the interpreter costs the caller a clear refusal, never its own process. The request
and the answer are JSON on the child's stdin and stdout.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_REPRESENTATION = 50_000_000


@dataclass(frozen=True)
class NetworkCheck:
    """What to build and run: a model spec's settings (``None`` means the network's default)."""

    source: str
    architecture: str
    layer: str = ""
    checkpoint: str | None = None
    input_size: int | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    cifar_stem: bool = False
    fake_relu: bool = False
    fake_relu_rule: str = "last"
    cache_dir: str | None = None


@dataclass(frozen=True)
class NetworkChecked:
    """The check's answer: the settings resolved, or ``problem`` (with the ``field`` to fix)."""

    layer: str = ""
    input_size: int = 0
    mean: list[float] | None = None
    std: list[float] | None = None
    problem: str = ""
    field: str = ""


def network_check(request: NetworkCheck, *, timeout_s: float, memory_mb: int) -> NetworkChecked:
    """Run ``check`` on ``request`` in a child process that may use ``memory_mb`` of heap for
    ``timeout_s`` seconds; whatever goes wrong there comes back as a ``problem``."""
    field = "checkpoint" if request.checkpoint else "architecture"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "science.network_check", str(memory_mb)],
            input=json.dumps(asdict(request)),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired:
        return NetworkChecked(
            problem=f"the network did not build and run on one image within {timeout_s:g} s; it was stopped",
            field=field,
        )
    if done.returncode != 0 or not done.stdout.strip():
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
        last = (done.stderr.strip().splitlines() or [""])[-1][:300]
        return NetworkChecked(problem=f"checking the network crashed its process ({how}) {last}".strip(), field=field)
    return NetworkChecked(**json.loads(done.stdout.strip().splitlines()[-1]))


def check(request: NetworkCheck) -> NetworkChecked:
    """Build the network, resolve its layer and defaults, and run it once on a grey image."""
    import torch

    from science.networks import (
        BUILTINS,
        IMAGENET_MEAN,
        IMAGENET_STD,
        LayerRepresentation,
        NetworkError,
        build_network,
        default_layer,
        layer_names,
    )

    checkpoint = Path(request.checkpoint) if request.checkpoint else None
    cache_dir = Path(request.cache_dir) if request.cache_dir else None
    try:
        net = build_network(
            request.source, request.architecture, checkpoint, cifar_stem=request.cifar_stem, cache_dir=cache_dir
        )
    except NetworkError as exc:
        return NetworkChecked(problem=str(exc), field="checkpoint" if checkpoint else "architecture")
    layer = request.layer or default_layer(net)
    names = layer_names(net)
    if layer not in names:
        return NetworkChecked(problem=f"no layer named {layer!r}; choose one of: {', '.join(names[1:])}", field="layer")
    if request.fake_relu:
        try:
            LayerRepresentation(
                net,
                layer,
                IMAGENET_MEAN,
                IMAGENET_STD,
                optimize=False,
                fake_relu=True,
                fake_relu_rule=request.fake_relu_rule,
            )
        except NetworkError as exc:
            return NetworkChecked(problem=str(exc), field="fake_relu")
    builtin = BUILTINS.get(request.architecture) if request.source == "builtin" else None
    size = request.input_size or (32 if request.cifar_stem else 224)
    mean = list(request.mean or (builtin.mean if builtin else IMAGENET_MEAN))
    std = list(request.std or (builtin.std if builtin else IMAGENET_STD))
    # Run with the normalisation the spec will store, so what is checked is what jobs will use.
    try:
        representation = LayerRepresentation(net, layer, mean, std, optimize=False)
        with torch.no_grad():
            out = representation(torch.full((1, 3, size, size), 0.5))
    except Exception as exc:
        if isinstance(exc, MemoryError) or "allocate memory" in str(exc):
            raise
        return NetworkChecked(
            problem=f"the network fails on a {size}×{size} image at layer {layer!r}: {type(exc).__name__}: {exc}"[:500],
            field="layer",
        )
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        return NetworkChecked(
            problem=f"layer {layer!r} gives {type(out).__name__}, not a tensor of numbers: choose a layer that outputs one",
            field="layer",
        )
    if out.numel() > MAX_REPRESENTATION or not torch.isfinite(out).all():
        return NetworkChecked(
            problem=f"layer {layer!r} gives {out.numel():,} values or non-finite ones: choose another", field="layer"
        )
    return NetworkChecked(layer=layer, input_size=size, mean=mean, std=std)


def _main(memory_mb: int) -> None:
    # RLIMIT_DATA bounds the heap (brk and private mappings) but not the shared libraries
    # torch maps, so the limit means what it says.
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    request = NetworkCheck(**json.loads(sys.stdin.read()))
    try:
        answer = check(request)
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "allocate" not in str(exc):
            raise
        answer = NetworkChecked(
            problem=f"the network needs more than {memory_mb} MB to build and run", field="checkpoint"
        )
    sys.stdout.write("\n" + json.dumps(asdict(answer)) + "\n")


if __name__ == "__main__":
    _main(int(sys.argv[1]))
