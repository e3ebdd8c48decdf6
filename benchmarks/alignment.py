"""Exhaustive triplet alignment: Metamer's vectorised version vs a plain Python loop.

    python benchmarks/alignment.py           # 200 items, about 3.9 million triplets
    python benchmarks/alignment.py --quick   # the loop on 60 items, scaled to 200 by triplet count
    python benchmarks/alignment.py --embedding [--workers 8]   # the embedding pass, per built-in

The last line is the headline: ``vectorised vs loop: N.Nx``, or with ``--embedding`` the dense
networks' (AlexNet, VGG16) geometric-mean share of the fp32 convolution peak measured in the
same run (the line before: the projected hours for the paper's 491 models × 6 image sets).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from science.alignment import n_triplets, triplet_alignment


def loop(d_a: np.ndarray, d_b: np.ndarray) -> float:
    """The definition transcribed: every triplet, one at a time."""
    n = len(d_a)
    agree = total = 0
    for i in range(n):
        for j in range(n):
            for k in range(j + 1, n):
                if i in (j, k):
                    continue
                total += 1
                agree += (d_a[i, j] < d_a[i, k]) == (d_b[i, j] < d_b[i, k])
    return agree / total


PAPER_MODELS, PAPER_SETS, PAPER_IMAGES_PER_SET = 491, 6, 120
"""The second source paper's benchmark: 491 models, Peterson et al.'s six sets of 120 images."""


DENSE = ("alexnet-imagenet", "vgg16-imagenet")
"""The dense networks (no depthwise convolutions) whose share of the convolution peak is the
headline: EfficientNet's depthwise layers cannot approach a dense convolution's rate."""


def embedding_pass(images: int, workers: int) -> None:
    """Per built-in at 224 px on this machine's device: images/s of Metamer's embedding pass
    (``science.zoo.embed``) beside a plain torchvision-style loop (batch 32, no layout change),
    the FLOPs per image, the achieved GFLOP/s and its share of the fp32 convolution peak
    measured in the same run; then the projected time of the paper's benchmark on ``workers``
    such workers."""
    import torch
    from peak import forward_flops, measured_fp32_peak, sync

    from science.networks import BUILTINS, LayerRepresentation, build_network, default_layer
    from science.zoo import embed

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    peak = measured_fp32_peak(device)
    print(
        f"device {device}, {torch.get_num_threads()} threads; measured fp32 convolution peak {peak / 1e9:.0f} GFLOP/s"
    )
    pixels = torch.rand(images, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    rates, flops_of = {}, {}
    for name, builtin in BUILTINS.items():
        net = build_network("builtin", name)
        g = LayerRepresentation(net, default_layer(net), builtin.mean, builtin.std).eval()
        flops = forward_flops(g, pixels[:1])
        plain = g.to(device)
        with torch.inference_mode():
            plain(pixels[:8].to(device))  # warm-up
            sync(device)
            start = time.perf_counter()
            for first in range(0, images, 32):
                plain(pixels[first : first + 32].to(device))
            sync(device)
        plain_rate = images / (time.perf_counter() - start)
        embed(g, pixels[:8], input_size=224, device=device)  # warm-up
        sync(device)
        start = time.perf_counter()
        embed(g, pixels, input_size=224, device=device)
        sync(device)
        rates[name], flops_of[name] = images / (time.perf_counter() - start), flops
        print(
            f"{name}: {rates[name]:.1f} images/s (plain loop {plain_rate:.1f}), {flops / 1e9:.2f} GFLOP an image, "
            f"{rates[name] * flops / 1e9:.0f} GFLOP/s"
        )
    # The peak measured again at the end, the higher kept: a CPU's clock moves during a run.
    peak = max(peak, measured_fp32_peak(device))
    shares = {name: rates[name] * flops_of[name] / peak for name in rates}
    print(
        f"peak (the higher of the start's and the end's) {peak / 1e9:.0f} GFLOP/s; share of it: "
        + ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    )
    per_model = PAPER_SETS * PAPER_IMAGES_PER_SET / np.median(list(rates.values()))
    hours = PAPER_MODELS * per_model / workers / 3600
    print(
        f"embedding pass for {PAPER_MODELS} models x {PAPER_SETS} sets of {PAPER_IMAGES_PER_SET} images "
        f"on {workers} {device} workers (median built-in rate): {hours:.2f} h"
    )
    dense = float(np.exp(np.mean([np.log(shares[name]) for name in DENSE])))
    print(f"dense networks (AlexNet, VGG16): {dense:.0%} of the measured fp32 convolution peak (geometric mean)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--embedding", action="store_true", help="time the embedding pass instead")
    parser.add_argument("--images", type=int, default=64, help="images per model for --embedding")
    parser.add_argument("--workers", type=int, default=8, help="workers the --embedding projection assumes")
    args = parser.parse_args()
    if args.embedding:
        embedding_pass(args.images, args.workers)
        return
    rng = np.random.default_rng(0)
    points = rng.normal(size=(args.items, 8))
    d_a = np.linalg.norm(points[:, None] - points[None], axis=-1)
    d_b = d_a + rng.normal(scale=0.5, size=d_a.shape)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        value = triplet_alignment(d_a, d_b).value
        runs.append(time.perf_counter() - start)
    fast = min(runs)
    print(
        f"vectorised: {args.items} items, {n_triplets(args.items):,} triplets in {fast:.3f} s (alignment {value:.4f})"
    )
    loop_items = 60 if args.quick else args.items
    start = time.perf_counter()
    slow_value = loop(d_a[:loop_items, :loop_items], d_b[:loop_items, :loop_items])
    slow = (time.perf_counter() - start) * n_triplets(args.items) / n_triplets(loop_items)
    if loop_items == args.items:
        assert abs(slow_value - value) < 1e-12, "the loop and the vectorised version disagree"
    scaled = "" if loop_items == args.items else f" (measured on {loop_items} items, scaled by triplet count)"
    print(f"plain loop: {slow:.2f} s{scaled}")
    print(f"vectorised vs loop: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
