"""The inversion settings: one frozen record that feeds the CLI, the API, the service and the
stored job, and the one mapping from it to ``science.engine.invert``'s arguments."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from science.lpips_variants import is_variant

if TYPE_CHECKING:
    import torch

    from science.engine import Penalty, Transform

UPDATES = ("adam", "normalized", "sgd")
SCHEDULES = ("constant", "cosine")
SEED_KINDS = {"super": 1.0, "light": 0.01}
"""Seed noise ``N(0, s)``: super-noise (the paper's default) and light noise."""
PRECISIONS = ("auto", "fp32", "tf32", "bf16")
PENALTY_FORMS = ("metamer", "authors")
"""Human-leaning regularizer forms: Metamer's (means over pixels, size-independent weights) or
the authors' exact ones (sums, their 3×3 blur, their transformation chain)."""
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "update": "normalized",
        "step_size": 1.0,
        "schedule": "constant",
        "steps": 5000,
        "precision": "fp32",
        "surrogate": 0.0,
        "penalty_form": "authors",
        "seed_per_target": False,
        "lpips_adaptive_scope": "batch",
    },
}
"""Named settings. ``paper``: the authors' method exactly (Nanda et al.'s reference code): a
fixed-length step of 1 from the raw seed, constant, 5,000 steps, fp32, exact gradients, and
their forms of any human-leaning regularizer added, and their one seed image for every target
(so that their runs are reproduced; a 2AFC survey of such IRIs can be answered by elimination
and says so). Their ``fake_relu`` belongs to the network and is set on the model spec."""


ADAPTIVE_SCOPES = ("image", "batch")

LIMITS = {
    "steps": (1, 100_000),
    "seeds_per_target": (1, 1_000),
    "batch_size": (1, 4_096),
    "seed": (0, 2**63 - 1),
    "step_size": (0, 100),
    "rep_weight": (0, 1e6),
    "tv_weight": (0, 1e6),
    "lp_weight": (0, 1e6),
    "blur_weight": (0, 1e6),
    "lpips_weight": (0, 1e6),
}
"""Bounds beyond which a setting is a typo, not a study: a job must be able to run (and its
counts fit the database's columns)."""


def _type_problems(config: InversionConfig) -> list[str]:
    """Each setting of the declared type: whole numbers for ``int`` (never a bool or 1e300),
    finite numbers for ``float``, true/false for ``bool``, text for ``str``."""
    problems = []
    for f in fields(config):
        value = getattr(config, f.name)
        if f.type == "int" and type(value) is not int:
            problems.append(f"{f.name} must be a whole number")
        elif f.type == "float" and (type(value) not in (int, float) or not math.isfinite(value)):
            problems.append(f"{f.name} must be a finite number")
        elif f.type == "bool" and type(value) is not bool:
            problems.append(f"{f.name} must be true or false")
        elif f.type == "str" and type(value) is not str:
            problems.append(f"{f.name} must be text")
    return problems


@dataclass(frozen=True)
class InversionConfig:
    preset: str = ""
    """The named settings this config started from (``paper``), recorded with the job; the
    other fields show every value actually used."""
    steps: int = 800
    update: str = "adam"
    step_size: float = 0.1
    schedule: str = "cosine"
    seed_kind: str = "super"
    seeds_per_target: int = 1
    seed_per_target: bool = True
    """True: each target its own seed images. False: one seed image shared by every target of
    the job, the authors' choice (``paper`` keeps it to reproduce their runs), under which a 2AFC
    worker can score by never picking the seed option that recurs in every trial."""
    rep_weight: float = 1.0
    """Weight of the representation term (the authors use 10 with the human-leaning losses)."""
    tv_weight: float = 0.0
    lp_weight: float = 0.0
    lp_p: int = 6
    blur_weight: float = 0.0
    transform: bool = False
    """Transformation robustness: optimise through random jitter, scale and rotation."""
    penalty_form: str = "metamer"
    """``metamer`` or ``authors``: which form of TV, Lp, blur and transforms (see PENALTY_FORMS)."""
    fourier: bool = False
    """Fourier-domain preconditioning: optimise the spectrum, not the pixels (with
    ``penalty_form=authors``, the authors' form: seeds drawn as spectra, their decoding and clamp)."""
    surrogate: float = 0.2
    """Surrogate-gradient weight through ReLUs and max-pools, fading to exact gradients over the
    first 70% of the steps (0: exact throughout). Optimisation only: every loss, distance and
    kept IRI is the real network's. Late layers get far closer in the same steps."""
    lpips_weight: float = 0.0
    """Adversarial regularizer: weight ``s`` of ``-LPIPS(x, xt)`` (the authors: 10)."""
    lpips_adaptive: bool = False
    """Adversarial ``s`` from the first step instead: each image's ``rep / LPIPS`` there, then fixed
    (the authors' default when no ``s`` is given)."""
    lpips_adaptive_scope: str = "image"
    """With ``lpips_adaptive``: ``image`` (each image's own ``s``: batching changes nothing) or
    ``batch`` (the authors' one ``mean(rep) / mean(LPIPS)`` per batch; the ``paper`` preset's)."""
    lpips_variant: str = "alex-lin"
    precision: str = "auto"
    """auto (bf16 autocast where the device computes bf16 natively: recent GPUs, CPUs with AMX or
    AVX512-BF16; else fp32), fp32, tf32 (CUDA matmuls) or bf16. Optimisation only: the kept
    IRIs are scored in fp32, and bf16 stays within 0.02 rep distance of fp32 (tested)."""
    batch_size: int = 32
    seed: int = 0
    """Random seed for the seed images (and any random transform); stored with the job."""
    convergence_threshold: float = 0.05

    def __post_init__(self) -> None:
        problems = _type_problems(self)
        if problems:  # the range checks below assume the types are right
            raise ValueError("; ".join(problems))
        for name, (low, high) in LIMITS.items():
            if not low <= getattr(self, name) <= high:
                problems.append(f"{name} must be between {low:g} and {high:g}")
        if self.steps < 1:
            problems.append("steps must be at least 1")
        if self.update not in UPDATES:
            problems.append(f"update must be one of {', '.join(UPDATES)}")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.step_size <= 0:
            problems.append("step_size must be positive")
        if self.seed_kind not in SEED_KINDS:
            problems.append(f"seed_kind must be one of {', '.join(SEED_KINDS)}")
        if self.seeds_per_target < 1:
            problems.append("seeds_per_target must be at least 1")
        for name in ("rep_weight", "tv_weight", "lp_weight", "blur_weight", "lpips_weight"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if not 0 <= self.surrogate <= 0.5:
            problems.append("surrogate must be between 0 and 0.5 (larger weights no longer follow the network)")
        if self.lp_p not in (1, 2, 6):
            problems.append("lp_p must be 1, 2 or 6")
        if not is_variant(self.lpips_variant):
            problems.append("lpips_variant must be one of alex-lin, vgg-lin, alex, vgg (or alex|vgg-randlin-<seed>)")
        if self.penalty_form not in PENALTY_FORMS:
            problems.append(f"penalty_form must be one of {', '.join(PENALTY_FORMS)}")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.preset and self.preset not in PRESETS:
            problems.append(f"preset must be one of {', '.join(PRESETS)}")
        if self.lpips_adaptive and (not self.lpips_weight or self.tv_weight or self.lp_weight or self.blur_weight):
            problems.append(
                "lpips_adaptive scales the adversarial term alone: set lpips_weight > 0 and no other penalty"
            )
        if self.lpips_adaptive_scope not in ADAPTIVE_SCOPES:
            problems.append(f"lpips_adaptive_scope must be one of {', '.join(ADAPTIVE_SCOPES)}")
        if self.batch_size < 1:
            problems.append("batch_size must be at least 1")
        if not 0 < self.convergence_threshold <= 1:
            problems.append("convergence_threshold must be in (0, 1]")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def fourier_form(self) -> bool | str:
        """``science.engine.invert``'s ``fourier``: off, Metamer's, or ``"authors"``."""
        return "authors" if self.fourier and self.penalty_form == "authors" else self.fourier

    @property
    def regularizer(self) -> str:
        """The regularizer family and its parts, e.g. ``human-leaning(tv+transform)``."""
        if self.lpips_weight:
            scale = "adaptive" if self.lpips_adaptive else f"s={self.lpips_weight:g}"
            return f"adversarial(-lpips {self.lpips_variant}, {scale})"
        parts = [
            name
            for name, on in (
                ("tv", self.tv_weight),
                (f"l{self.lp_p}", self.lp_weight),
                ("blur", self.blur_weight),
                ("transform", self.transform),
                ("fourier", self.fourier),
            )
            if on
        ]
        if not parts:
            return "none"
        form = ", authors' forms" if self.penalty_form == "authors" else ""
        return f"human-leaning({'+'.join(parts)}{form})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InversionConfig:
        """Settings from a stored or posted record: a ``preset`` gives the starting values and
        the other keys override them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown inversion settings: {', '.join(unknown)}")
        preset = data.get("preset") or ""
        if preset and preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS.get(preset, {}), **data})


def build_penalty(config: InversionConfig, device: torch.device, cache_dir: Path | None = None) -> Penalty | None:
    """The weighted sum of the configured penalties, per image; None when regularizer-free."""
    # The regularizers (torch) load here, in the process that inverts; the settings above are
    # read by web processes too.
    from science.regularizers import (
        adversarial_lpips,
        blur_robustness,
        blur_robustness_authors,
        lp_norm,
        lp_norm_authors,
        total_variation,
        total_variation_authors,
    )

    authors = config.penalty_form == "authors"
    tv, lp, blur = (
        (total_variation_authors, lp_norm_authors, blur_robustness_authors)
        if authors
        else (total_variation, lp_norm, blur_robustness)
    )
    terms: list[tuple[float, Penalty]] = []
    if config.tv_weight:
        terms.append((config.tv_weight, lambda x, t: tv(x)))
    if config.lp_weight:
        terms.append((config.lp_weight, lambda x, t: lp(x, config.lp_p)))
    if config.blur_weight:
        terms.append((config.blur_weight, lambda x, t: blur(x)))
    if config.lpips_weight:
        # With lpips_adaptive, invert scales this term itself (penalty_weight="adaptive").
        weight = 1.0 if config.lpips_adaptive else config.lpips_weight
        terms.append((weight, adversarial_lpips(config.lpips_variant, device, cache_dir)))
    if not terms:
        return None
    return lambda x, t: sum(weight * term(x, t) for weight, term in terms)


def build_transform(config: InversionConfig, image_size: int) -> Transform | None:
    from science.regularizers import random_transform, random_transform_authors

    if not config.transform:
        return None
    if config.penalty_form == "authors":
        # Their ImageNet chain pads by 12; their CIFAR chain does not pad.
        return random_transform_authors(pad=12 if image_size >= 128 else 0)
    # ImageNet-sized inputs get reflection padding so shifts do not wrap content in.
    pad = image_size // 14 if image_size >= 128 else 0
    return random_transform(pad=pad, jitter=max(1, image_size // 28), scale=0.05, degrees=5.0)


def invert_options(
    config: InversionConfig,
    *,
    device: torch.device,
    image_size: int,
    autocast: torch.dtype | None,
    generator: torch.Generator | None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """``science.engine.invert``'s keyword arguments for a job's settings: the one place a
    stored config becomes an optimisation (the job service and the tests both call it)."""
    return {
        "steps": config.steps,
        "update": config.update,
        "step_size": config.step_size,
        "schedule": config.schedule,
        "rep_weight": config.rep_weight,
        "penalty": build_penalty(config, device, cache_dir),
        "penalty_weight": (
            ("adaptive-batch" if config.lpips_adaptive_scope == "batch" else "adaptive")
            if config.lpips_adaptive
            else 1.0
        ),
        "transform": build_transform(config, image_size),
        "fourier": config.fourier_form,
        "surrogate": config.surrogate,
        "autocast": autocast,
        "generator": generator,
    }
