"""The names a registration form lists: each source's architectures and an architecture's layers.

Listing them means importing torch, torchvision and timm (and building the network, for its
layers), which a web process never does: ``python -m science.catalogue`` lists them in a child
process, and the answer is kept on disk under the libraries' versions, so each list is made once
per installation. This module itself imports only the standard library.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SOURCES = ("builtin", "torchvision", "timm")
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
TIMEOUT_S = 300


def _versions() -> str:
    parts = []
    for package in ("torch", "torchvision", "timm"):
        try:
            parts.append(version(package))
        except PackageNotFoundError:
            parts.append("none")
    return "-".join(parts)


def _kept(path: Path, argv: list[str]) -> object:
    """The JSON ``python -m science.catalogue argv`` prints, kept at ``path``."""
    if path.exists():
        return json.loads(path.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "science.catalogue", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    answer = json.loads(done.stdout)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(answer))
    partial.replace(path)  # whole or absent, should two processes list at once
    return answer


def architectures(cache_dir: Path) -> dict[str, list[str]]:
    """Each source's architecture names."""
    return _kept(Path(cache_dir) / "catalogue" / f"architectures-{_versions()}.json", ["architectures"])


def layers(cache_dir: Path, source: str, architecture: str) -> tuple[list[str], str]:
    """An architecture's layer names (without ``input``) and its default layer; ([], "") when it
    does not build or names nothing that could be one."""
    if source not in SOURCES or not SAFE_NAME.fullmatch(architecture):
        return [], ""
    path = Path(cache_dir) / "catalogue" / f"layers-{source}-{architecture}-{_versions()}.json"
    names, default = _kept(path, ["layers", source, architecture, "--cache-dir", str(cache_dir)])
    return names, default


def _list_architectures() -> dict[str, list[str]]:
    from science.networks import architecture_names

    return {source: architecture_names(source) for source in SOURCES}


def _list_layers(source: str, architecture: str, cache_dir: str | None) -> tuple[list[str], str]:
    from science.networks import NetworkError, build_network, default_layer, layer_names

    try:
        net = build_network(source, architecture, None, cache_dir=Path(cache_dir) if cache_dir else None)
    except (NetworkError, RuntimeError, ValueError):
        return [], ""
    return layer_names(net)[1:], default_layer(net)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m science.catalogue", description=__doc__)
    parser.add_argument("what", choices=["architectures", "layers"])
    parser.add_argument("source", nargs="?")
    parser.add_argument("architecture", nargs="?")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    if args.what == "architectures":
        answer: object = _list_architectures()
    else:
        answer = _list_layers(args.source, args.architecture, args.cache_dir)
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
