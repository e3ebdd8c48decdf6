"""Exhaustive triplet alignment: Metamer's vectorised version vs a plain Python loop.

    python benchmarks/alignment.py           # 200 items, about 3.9 million triplets
    python benchmarks/alignment.py --quick   # the loop on 60 items, scaled to 200 by triplet count

The last line is the headline: ``vectorised vs loop: N.Nx``.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
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
