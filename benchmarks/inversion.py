"""Metamer's IRI engine vs a reference-style loop like the authors' code, side by side.

Both run the authors' update (fixed-length normalised-gradient steps, clamped to [0, 1], best
iterate kept per image) on the same targets and seeds, batch 32, fp32. The reference style:
``loss.item()`` every step, per-image Python bookkeeping of the best iterate, the network as
registered. Metamer: a pure loop with on-device bookkeeping and the optimised representation
(batch norms folded, channels-last). Runs alternate (A B A B) and the median is kept, since
these machines are noisy.

    python benchmarks/inversion.py --quick     # under 3 minutes on a 2-core CPU
    python benchmarks/inversion.py --gpu       # adds ResNet50 at 224×224, FLOP/s vs bf16 peak

The last line is the headline: ``speedup vs reference-style: N.NNx``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inversion.engine import invert, relative_distance
from inversion.networks import IMAGENET_MEAN, IMAGENET_STD, LayerRepresentation, build_network

BF16_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}
"""Dense bf16 tensor-core peaks (vendor figures) by GPU name."""


def reference_style(g, targets, seeds, steps, step_size):
    """The authors' loop shape: per-step .item() and per-image Python bookkeeping."""
    x = seeds.expand_as(targets).clone().clamp(0, 1).requires_grad_(True)
    with torch.no_grad():
        rep_t = g(targets)
    best_loss = [float("inf")] * len(targets)
    best = x.detach().clone()
    losses = []
    for _ in range(steps + 1):
        loss = relative_distance(rep_t, g(x))
        total = loss.sum()
        losses.append(total.item())
        values = loss.detach().cpu().tolist()
        for i, value in enumerate(values):
            if value < best_loss[i]:
                best_loss[i] = value
                best[i] = x.detach()[i].clone()
        if len(losses) == steps + 1:
            break
        total.backward()
        with torch.no_grad():
            grad = x.grad
            norm = grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            x -= step_size * grad / norm
            x.clamp_(0, 1)
        x.grad = None
    return sum(best_loss) / len(best_loss)


def metamer(g, targets, seeds, steps, step_size):
    result = invert(g, targets, seeds, steps=steps, update="normalized", step_size=step_size, schedule="constant")
    return result.loss.mean().item()


def cifar_resnet18():
    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    g = torch.Generator().manual_seed(0)
    for m in net.modules():  # no CIFAR checkpoint ships offline: plausible BN statistics instead
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1, generator=g)
            m.running_var.uniform_(0.5, 2, generator=g)
    return net.eval(), "flatten", 32


def alexnet_features():
    return build_network("builtin", "alexnet-imagenet"), "10", 224


def resnet50():
    return torchvision.models.resnet50().eval(), "flatten", 224


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_memory(device, fn):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        fn()
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def bench(name, build, *, batch, steps, repeats, device, step_size=1.0):
    net, layer, size = build()
    g_ref = LayerRepresentation(copy.deepcopy(net), layer, IMAGENET_MEAN, IMAGENET_STD, optimize=False).to(device)
    g_fast = LayerRepresentation(net, layer, IMAGENET_MEAN, IMAGENET_STD).to(device)
    gen = torch.Generator().manual_seed(0)
    targets = torch.rand(batch, 3, size, size, generator=gen).to(device)
    seeds = torch.randn(1, 3, size, size, generator=gen).to(device)
    runs = {"reference-style": (reference_style, g_ref), "metamer": (metamer, g_fast)}
    for fn, g in runs.values():  # warm-up (allocator, oneDNN/cuDNN kernel choice)
        fn(g, targets, seeds, 2, step_size)
    times = {k: [] for k in runs}
    losses = {}
    for _ in range(repeats):
        for label, (fn, g) in runs.items():
            _sync(device)
            start = time.perf_counter()
            losses[label] = fn(g, targets, seeds, steps, step_size)
            _sync(device)
            times[label].append(time.perf_counter() - start)
    memory = {
        label: _peak_memory(device, lambda fn=fn, g=g: fn(g, targets, seeds, 2, step_size))
        for label, (fn, g) in runs.items()
    }
    x = targets.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        relative_distance(g_fast(targets), g_fast(x)).sum().backward()
    flops_per_step = counter.get_total_flops() * 2 / 3  # the target pass is computed once, not per step
    out = {}
    for label in runs:
        seconds = statistics.median(times[label])
        steps_per_s = (steps + 1) / seconds
        out[label] = steps_per_s
        mem = f", peak {memory[label]:.0f} MiB" if memory[label] is not None else ""
        print(
            f"{name:>20} {label:>16}: {steps_per_s:7.2f} steps/s, {batch * steps_per_s / 1000:7.3f} IRIs/s at 1,000 steps, "
            f"final loss {losses[label]:.4f}, {flops_per_step * steps_per_s / 1e12:.2f} TFLOP/s{mem}",
            flush=True,
        )
    gap = abs(losses["metamer"] - losses["reference-style"]) / losses["reference-style"]
    print(
        f"{name:>20} final losses differ by {gap:.2%} (must be < 1%); speedup {out['metamer'] / out['reference-style']:.2f}x"
    )
    return out["metamer"] / out["reference-style"], gap, flops_per_step * out["metamer"]


def steps_to_threshold(layer: str, steps: int, device, threshold: float = 0.05) -> None:
    """How many steps each update rule needs to bring AlexNet IRIs under the threshold."""
    g = LayerRepresentation(build_network("builtin", "alexnet-imagenet"), layer, IMAGENET_MEAN, IMAGENET_STD).to(device)
    gen = torch.Generator().manual_seed(1)
    targets = torch.nn.functional.interpolate(torch.rand(8, 3, 16, 16, generator=gen), size=112, mode="bilinear").to(
        device
    )
    seeds = torch.randn(1, 3, 112, 112, generator=gen).to(device)
    rules = {
        "authors' (normalised step 1)": {"update": "normalized", "step_size": 1.0, "schedule": "constant"},
        "Adam 0.1, cosine": {"update": "adam", "step_size": 0.1, "schedule": "cosine"},
    }
    for label, rule in rules.items():
        result = invert(g, targets, seeds, steps=steps, **rule)
        under = result.history < threshold  # the loss is the representation distance here
        reached = under.any(dim=0)
        first = under.float().argmax(dim=0)[reached]
        median = f"median {first.median().item():.0f} steps" if reached.any() else "none"
        print(
            f"  AlexNet features.{layer} 112px, {label:>28}: {int(reached.sum())}/8 under {threshold} within {steps} steps "
            f"({median}); best distances {result.rep_distance.min().item():.3f}-{result.rep_distance.max().item():.3f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer steps and repeats (under 3 minutes on a 2-core CPU)"
    )
    parser.add_argument(
        "--gpu", action="store_true", help="also ResNet50 at 224×224 on CUDA, with FLOP/s vs the bf16 peak"
    )
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    steps, repeats = (10, 2) if args.quick else (50, 3)
    print(
        f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
        f"batch {args.batch}, {steps} timed steps, {repeats} alternating repeats"
    )
    speedups, gaps = [], []
    for name, build in (("CIFAR ResNet18 32px", cifar_resnet18), ("AlexNet feats 224px", alexnet_features)):
        speedup, gap, _ = bench(name, build, batch=args.batch, steps=steps, repeats=repeats, device=device)
        speedups.append(speedup)
        gaps.append(gap)
    if args.gpu and device.type == "cuda":
        peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in torch.cuda.get_device_name()), None)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            _, _, achieved = bench(
                "ResNet50 224px bf16", resnet50, batch=args.batch, steps=steps, repeats=repeats, device=device
            )
        if peak:
            print(
                f"ResNet50 achieved {achieved / 1e12:.1f} TFLOP/s = {achieved / 1e12 / peak:.1%} of the {peak:.0f} TFLOP/s bf16 peak"
            )
    print("steps to the convergence threshold (representation distance 0.05):")
    for layer in ("3", "10"):
        steps_to_threshold(layer, 300 if args.quick else 1000, device)
    if max(gaps) >= 0.01:
        print(f"WARNING: final losses differ by up to {max(gaps):.2%}")
    print(f"speedup vs reference-style: {statistics.geometric_mean(speedups):.2f}x")


if __name__ == "__main__":
    main()
