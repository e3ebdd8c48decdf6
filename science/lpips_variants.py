"""The names of LPIPS's variants, apart from the networks that compute them: checking a name
needs neither torch nor lpips (SCIENCE.md §2; see ``science.perceptual``)."""

from __future__ import annotations

import re

VARIANTS: dict[str, tuple[str, bool]] = {
    "alex-lin": ("alex", True),
    "vgg-lin": ("vgg", True),
    "alex": ("alex", False),
    "vgg": ("vgg", False),
}


RANDOM_LINEAR = re.compile(r"^(alex|vgg)-randlin-(\d{1,9})$")
"""The notebook's random-linear variants, ``<backbone>-randlin-<seed>``."""


class UnknownVariant(ValueError):
    pass


def check_variant(variant: str) -> tuple[str, bool]:
    if variant in VARIANTS:
        return VARIANTS[variant]
    if random_linear := RANDOM_LINEAR.match(variant):
        return random_linear.group(1), True
    raise UnknownVariant(
        f"unknown LPIPS variant {variant!r}; choose one of {', '.join(VARIANTS)} "
        "(or alex-randlin-<seed> / vgg-randlin-<seed> to reproduce the authors' notebook)"
    )


def variant_backbone(variant: str) -> str:
    """The backbone (``alex`` or ``vgg``) a variant is built on."""
    return check_variant(variant)[0]


def is_variant(variant: str) -> bool:
    """Whether ``variant`` names an LPIPS variant (a default one or a seeded random-linear one)."""
    return variant in VARIANTS or RANDOM_LINEAR.match(variant) is not None
