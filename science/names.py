"""The names of what ``science`` offers, importable without torch: the settings that name them
(and the web processes that check those settings) need only the names."""

from __future__ import annotations

TRAINED_BUILTINS = (
    "alexnet-imagenet",
    "vgg16-imagenet",
    "efficientnet-lite0-imagenet",
    "efficientnet-lite1-imagenet",
    "efficientnet-lite2-imagenet",
)
"""The built-in networks with ImageNet weights; each has a random-weight twin."""


def random_twin_name(name: str) -> str:
    """``alexnet-imagenet`` → ``alexnet-random``."""
    return name.removesuffix("-imagenet") + "-random"


BUILTIN_NETWORKS = (*TRAINED_BUILTINS, *(random_twin_name(name) for name in TRAINED_BUILTINS))
"""Every built-in network's name, in ``science.networks.BUILTINS``'s order."""
LPIPS_BACKBONES = {"alexnet-imagenet": "alex", "vgg16-imagenet": "vgg"}
"""The built-ins whose trained weights LPIPS variants are built on, and those variants' backbone."""
HEADS = ("linear", "mlp1", "mlp2")
"""The few-shot probes' heads (``science.downstream``)."""
METRICS = ("cosine", "correlation")
"""Representational dissimilarity metrics (``science.zoo``)."""
COMPARISONS = ("group", "person")
"""Which human matrix a model is compared with: the group mean, or each person's (averaged;
``science.comparison``)."""
