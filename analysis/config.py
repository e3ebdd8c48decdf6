"""The alignment benchmark's settings: one frozen record that feeds ``manage.py align``, the
API, the admin, the service and the stored run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from science.names import BUILTIN_NETWORKS, COMPARISONS, HEADS, METRICS

DEFAULT_MODELS = BUILTIN_NETWORKS
"""Every built-in: the five ImageNet networks and their random-weight twins."""
MAX_BOOTSTRAP = 10_000


@dataclass(frozen=True)
class AlignmentConfig:
    models: tuple[str, ...] = DEFAULT_MODELS
    """Built-in names or registered model specs' names."""
    layer: str = ""
    """One layer for every model; empty: each model's own (a spec's layer; a built-in's default:
    the classifier head's input where it has one, EfficientNet's ``global_pool.flatten``, else
    its last layer, the AlexNet and VGG16 trunks' pool5, ``features.12`` and ``features.30``)."""
    metric: str = "cosine"
    """How the model's dissimilarities are made from its features: cosine or correlation distance."""
    comparison: str = "group"
    """Which human matrix each model is compared with: ``group`` (the people's mean) or
    ``person`` (each person's, averaged); each has its own ceilings (``science.comparison``)."""
    bootstrap: int = 1000
    """Resamples of the images (and, per person, people) for every metric's interval (0: none)."""
    seed: int = 0
    batch_size: int = 32
    probe_shots: tuple[int, ...] = ()
    """n-shot linear probes on a labelled image set, if any (e.g. 1, 5, 10, 20, 40, 80)."""
    probe_seeds: int = 5
    probe_head: str = "linear"

    def __post_init__(self) -> None:
        for name in ("models", "probe_shots"):
            if not isinstance(getattr(self, name), list | tuple):
                raise ValueError(f"{name} must be a list")
        if not all(isinstance(m, str) and 0 < len(m) <= 100 for m in self.models):
            raise ValueError("models must be names (1 to 100 characters each)")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in self.probe_shots):
            raise ValueError("probe_shots must be whole numbers")
        if not isinstance(self.layer, str) or len(self.layer) > 200 or "\x00" in self.layer:
            raise ValueError("layer must be a layer's name (up to 200 characters)")
        for name in ("bootstrap", "seed", "batch_size", "probe_seeds"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a whole number")
        # Lists from JSON or the command line become tuples, so the record stays hashable.
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "probe_shots", tuple(self.probe_shots))
        problems = []
        if not self.models:
            problems.append("name at least one model")
        if len(self.models) > 1000:
            problems.append("at most 1,000 models per run")
        if len(set(self.models)) != len(self.models):
            problems.append("a model is named twice")
        if self.comparison not in COMPARISONS:
            problems.append(f"comparison must be one of {', '.join(COMPARISONS)}")
        if self.metric not in METRICS:
            problems.append(f"metric must be one of {', '.join(METRICS)}")
        if not 0 <= self.seed < 2**63:
            problems.append("seed must be between 0 and 2^63 − 1")
        if not 0 <= self.bootstrap <= MAX_BOOTSTRAP:
            problems.append(f"bootstrap must be between 0 and {MAX_BOOTSTRAP:,}")
        if not 1 <= self.batch_size <= 1024:
            problems.append("batch_size must be between 1 and 1024")
        if any(n < 1 or n > 1000 for n in self.probe_shots):
            problems.append("probe shots must be between 1 and 1,000 examples per class")
        if not 1 <= self.probe_seeds <= 100:
            problems.append("probe_seeds must be between 1 and 100")
        if self.probe_head not in HEADS:
            problems.append(f"probe_head must be one of {', '.join(HEADS)}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlignmentConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown alignment settings: {', '.join(unknown)}")
        return cls(**data)
