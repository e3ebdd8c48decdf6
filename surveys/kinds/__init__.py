"""One home per survey kind: everything that differs between kinds, in one frozen spec each.

The rest of the code asks a survey's spec (``kind_spec(survey.kind)``, or ``survey.spec``)
and never compares kinds. Adding a kind means a spec here (in ``iris.py`` for kinds built
from IRIs, ``image_sets.py`` for kinds that ask about any image set) and, for a new screen,
a layout (``layouts.py``) with its template branch.
"""

from __future__ import annotations

from surveys.kinds import image_sets, iris
from surveys.kinds.spec import KindSpec

KINDS: dict[str, KindSpec] = {spec.value: spec for spec in (*iris.SPECS, *image_sets.SPECS)}
"""Every kind's spec by its stored value, in the order forms list them."""


DEFAULT_KIND = iris.TWO_AFC.value
"""The paper's survey: what a design is when it names no kind."""
DEFAULT_IMAGE_SET_KIND = image_sets.TRIPLET.value
"""An image-set design that names no kind."""


def kind_spec(value: str) -> KindSpec:
    """The spec of the kind stored as ``value``."""
    return KINDS[value]


def kind_choices() -> list[tuple[str, str]]:
    return [(spec.value, spec.label) for spec in KINDS.values()]
