"""The adaptive triplet sampler: choosing the next triplet to ask for a 200-image set.

    python benchmarks/triplets.py            # 200 images, 5-d embedding, 200 choices
    python benchmarks/triplets.py --quick    # 50 choices

Each choice draws 20,000 candidate triplets, scores them under the current t-STE embedding and
skips those already asked (here 5,000). It runs while a worker's next page loads, so the goal is
under 50 ms. The last line is the headline: ``next adaptive triplet for 200 images: median N ms``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from science.similarity import most_uncertain_triplets, sample_triplets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--asked", type=int, default=5000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    embedding = np.random.default_rng(0).normal(size=(args.items, args.dim))
    asked = {tuple(int(v) for v in row) for row in sample_triplets(args.items, args.asked, seed=1)}
    times = []
    for choice in range(50 if args.quick else 200):
        started = time.perf_counter()
        most_uncertain_triplets(embedding, 1, seed=choice, exclude=asked)
        times.append((time.perf_counter() - started) * 1000)
    print(f"p90 {statistics.quantiles(times, n=10)[-1]:.1f} ms, max {max(times):.1f} ms over {len(times)} choices")
    print(f"next adaptive triplet for {args.items} images: median {statistics.median(times):.1f} ms")


if __name__ == "__main__":
    main()
