"""Practice questions: the survey's own kind of question, drawn with shapes whose answer is
plain, so a worker learns the page before any answer counts. They use no survey image (a
practice question must not show a real one) and are never stored as data. Each layout
(``surveys.kinds.layouts``) draws its own questions from these shapes and says why an answer
is right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SHAPES = ("circle", "square", "triangle")
COLOURS = {"circle": "#3b6ea5", "square": "#b0554a", "triangle": "#5a9a5a"}


@dataclass(frozen=True)
class Shape:
    """One drawn image: a shape, its size (0–1 of the frame) and whether it is a lighter tint."""

    shape: str
    size: float = 0.6
    light: bool = False

    @property
    def colour(self) -> str:
        return "#9db8d6" if self.light and self.shape == "circle" else COLOURS[self.shape]


@dataclass(frozen=True)
class PracticeQuestion:
    """What the page shows (``reference``, ``options``, or ``columns`` and ``rows``) and the
    answer a careful worker gives, in the terms the page posts."""

    layout: str
    options: tuple[Shape, ...] = ()
    reference: Shape | None = None
    columns: tuple[Shape, ...] = ()
    rows: tuple[Shape, ...] = ()
    answer: Any = None


def svg_shape(shape: Shape, size: int = 96) -> dict[str, Any]:
    """Drawing instructions for the template: a square frame of ``size`` pixels."""
    half, radius = size / 2, shape.size * size / 2
    drawing: dict[str, Any] = {"size": size, "shape": shape.shape, "fill": shape.colour}
    if shape.shape == "circle":
        drawing.update(cx=half, cy=half, r=round(radius, 1))
    elif shape.shape == "square":
        drawing.update(x=round(half - radius, 1), width=round(2 * radius, 1))
    else:
        top, base = half - radius, half + radius * 0.8
        drawing["points"] = f"{half:.1f},{top:.1f} {half + radius:.1f},{base:.1f} {half - radius:.1f},{base:.1f}"
    return drawing
