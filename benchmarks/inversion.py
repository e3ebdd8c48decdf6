"""Metamer's IRI engine vs a reference-style loop like the authors' code, side by side.

Both run the authors' update (fixed-length normalised-gradient steps, clamped to [0, 1], best
iterate kept per image) on the same targets and seeds, batch 32. The reference style: fp32,
``loss.item()`` every step, per-image Python bookkeeping of the best iterate, the network as
registered. Metamer: a pure loop with on-device bookkeeping and the optimised representation
(batch norms folded, channels-last), once in fp32 and once at its default precision ``auto``
(bf16 autocast where the hardware computes bf16 natively — AMX/AVX512-BF16 CPUs, recent GPUs —
else fp32; its kept iterates are scored again in fp32, and that is the final loss compared).
Runs alternate (A B C A B C) and the median is kept, since these machines are noisy. On a CPU
it also measures one large convolution's fp32 FLOP/s and says how close the reference already
runs to it: the most any fp32 loop could gain there.

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
from functools import partial
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from peak import measured_fp32_peak, sync  # benchmarks/peak.py, beside this script

from science.engine import autocast_dtype, invert, native_bf16, relative_distance
from science.images import fit, sample_photographs, to_tensor
from science.networks import IMAGENET_MEAN, IMAGENET_STD, LayerRepresentation, build_network

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


def metamer(g, targets, seeds, steps, step_size, autocast=None):
    result = invert(
        g, targets, seeds, steps=steps, update="normalized", step_size=step_size, schedule="constant", autocast=autocast
    )
    # With autocast the kept iterates are re-scored in fp32: the loss compared is an fp32 one.
    return result.rep_distance.mean().item()


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


def _peak_memory(device, fn):
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        fn()
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def bench(name, build, *, batch, steps, repeats, device, step_size=1.0):
    """Steps/s of the three runs on one network; returns steps/s per run, loss gaps and FLOP/step."""
    net, layer, size = build()
    g_ref = LayerRepresentation(copy.deepcopy(net), layer, IMAGENET_MEAN, IMAGENET_STD, optimize=False).to(device)
    g_fast = LayerRepresentation(net, layer, IMAGENET_MEAN, IMAGENET_STD).to(device)
    gen = torch.Generator().manual_seed(0)
    targets = torch.rand(batch, 3, size, size, generator=gen).to(device)
    seeds = torch.randn(1, 3, size, size, generator=gen).to(device)
    auto = autocast_dtype("auto", device)
    runs = {
        "reference-style": (reference_style, g_ref),
        "metamer fp32": (metamer, g_fast),
        f"metamer auto ({'bf16' if auto else 'fp32'})": (partial(metamer, autocast=auto), g_fast),
    }
    for fn, g in runs.values():  # warm-up (allocator, oneDNN/cuDNN kernel choice)
        fn(g, targets, seeds, 2, step_size)
    times = {k: [] for k in runs}
    losses = {}
    for _ in range(repeats):
        for label, (fn, g) in runs.items():
            sync(device)
            start = time.perf_counter()
            losses[label] = fn(g, targets, seeds, steps, step_size)
            sync(device)
            times[label].append(time.perf_counter() - start)
    memory = {
        label: _peak_memory(device, lambda fn=fn, g=g: fn(g, targets, seeds, 2, step_size))
        for label, (fn, g) in runs.items()
    }
    x = targets.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        relative_distance(g_fast(targets), g_fast(x)).sum().backward()
    flops_per_step = counter.get_total_flops() * 2 / 3  # the target pass is computed once, not per step
    rates = {}
    for label in runs:
        rates[label] = (steps + 1) / statistics.median(times[label])
        mem = f", peak {memory[label]:.0f} MiB" if memory[label] is not None else ""
        print(
            f"{name:>20} {label:>22}: {rates[label]:7.2f} steps/s, {batch * rates[label] / 1000:7.3f} IRIs/s at "
            f"1,000 steps, final loss {losses[label]:.4f}, {flops_per_step * rates[label] / 1e12:.2f} TFLOP/s{mem}",
            flush=True,
        )
    reference = losses["reference-style"]
    gaps = {label: abs(loss - reference) / reference for label, loss in losses.items()}
    print(
        f"{name:>20} vs reference-style: "
        + "; ".join(
            f"{label} {rates[label] / rates['reference-style']:.2f}x (final loss {gaps[label]:+.2%})"
            for label in list(runs)[1:]
        )
    )
    return rates, gaps, flops_per_step


def steps_to_threshold(layer: str, steps: int, device, threshold: float = 0.05) -> None:
    """How many steps each update rule needs to bring AlexNet IRIs of photographs under the threshold."""
    g = LayerRepresentation(build_network("builtin", "alexnet-imagenet"), layer, IMAGENET_MEAN, IMAGENET_STD).to(device)
    targets = torch.stack([to_tensor(fit(img, 112)) for _, img in sample_photographs(8)]).to(device)
    seeds = torch.randn(1, 3, 112, 112, generator=torch.Generator().manual_seed(1)).to(device)
    rules = {
        "authors' (normalised step 1)": {"update": "normalized", "step_size": 1.0, "schedule": "constant"},
        "Adam 0.1, cosine": {"update": "adam", "step_size": 0.1, "schedule": "cosine"},
        "+ surrogate 0.2 (default)": {"update": "adam", "step_size": 0.1, "schedule": "cosine", "surrogate": 0.2},
    }
    for label, rule in rules.items():
        start = time.perf_counter()
        result = invert(g, targets, seeds, steps=steps, autocast=autocast_dtype("auto", device), **rule)
        seconds = time.perf_counter() - start
        under = result.history < threshold  # the loss is the representation distance here
        reached = under.any(dim=0)
        first = under.float().argmax(dim=0)[reached]
        median = f"median {first.median().item():.0f} steps" if reached.any() else "none"
        print(
            f"  AlexNet features.{layer} 112px, {label:>28}: {int(reached.sum())}/8 under {threshold} within {steps} "
            f"steps ({median}); distances {result.rep_distance.min().item():.3f}-{result.rep_distance.max().item():.3f}"
            f", median {result.rep_distance.median().item():.3f} (fp32); {seconds:.0f} s",
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
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(
        f"device {device} ({where}; native bf16: {native_bf16(device)}), batch {args.batch}, "
        f"{steps} timed steps, {repeats} alternating repeats"
    )
    results = []
    for name, build in (("CIFAR ResNet18 32px", cifar_resnet18), ("AlexNet feats 224px", alexnet_features)):
        results.append(bench(name, build, batch=args.batch, steps=steps, repeats=repeats, device=device))
    if args.gpu and device.type == "cuda":
        peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in torch.cuda.get_device_name()), None)
        rates, _, flops = bench(
            "ResNet50 224px", resnet50, batch=args.batch, steps=steps, repeats=repeats, device=device
        )
        achieved = flops * list(rates.values())[-1] / 1e12
        if peak:
            print(
                f"ResNet50 at auto precision: {achieved:.1f} TFLOP/s = {achieved / peak:.1%} of the {peak:.0f} TFLOP/s bf16 peak"
            )
    print("steps to the convergence threshold (representation distance 0.05):")
    for layer, budget in (("3", 300), ("10", 400 if args.quick else 3000)):
        steps_to_threshold(layer, budget, device)
    labels = list(results[0][0])
    if device.type == "cpu":
        # Where the reference already runs near the hardware's fp32 limit, no fp32 loop can be much faster.
        peak = measured_fp32_peak(device)
        share = max(flops * rates["reference-style"] for rates, _, flops in results) / peak
        print(
            f"this CPU's measured fp32 convolution peak: {peak / 1e9:.0f} GFLOP/s; the reference-style loop reaches "
            f"up to {share:.0%} of it, so fp32 alone can gain at most {1 / share:.2f}x there"
        )
    worst = max(gap for _, gaps, _ in results for gap in gaps.values())
    if worst >= 0.01:
        print(f"WARNING: final losses differ by up to {worst:.2%}")
    speedup = {
        label: statistics.geometric_mean([rates[label] / rates["reference-style"] for rates, _, _ in results])
        for label in labels[1:]
    }
    print(f"fp32 only (no bf16), geometric mean: {speedup[labels[1]]:.2f}x")
    print(f"speedup vs reference-style: {speedup[labels[2]]:.2f}x")


if __name__ == "__main__":
    main()
