"""Practice questions: the survey's own kind of question, drawn with shapes whose answer is
plain, so a worker learns the page before any answer counts. They use no survey image (a
practice question must not show a real one) and are never stored as data."""

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


def practice_question(layout: str, index: int) -> PracticeQuestion:
    """The ``index``-th practice question of a survey shown as ``layout`` (``2afc``, ``odd``,
    ``rating`` or ``clustering``); answers move around from one question to the next."""
    first, second = SHAPES[index % 3], SHAPES[(index + 1) % 3]
    if layout == "2afc":
        like, unlike = Shape(first, 0.5), Shape(second)
        options = (like, unlike) if index % 2 == 0 else (unlike, like)
        return PracticeQuestion(layout, options=options, reference=Shape(first), answer=options.index(like))
    if layout == "odd":
        odd = index % 3
        options = tuple(Shape(second) if i == odd else Shape(first, 0.45 + 0.1 * i) for i in range(3))
        return PracticeQuestion(layout, options=options, answer=odd)
    if layout == "rating":
        same = index % 2 == 0
        return PracticeQuestion(layout, options=(Shape(first), Shape(first) if same else Shape(second)), answer=same)
    columns = tuple(Shape(s) for s in SHAPES)
    picks = [(index + r) % 3 for r in range(6)]
    rows = tuple(Shape(SHAPES[c], 0.45 + 0.05 * (r % 3), light=r % 2 == 1) for r, c in enumerate(picks))
    return PracticeQuestion(layout, columns=columns, rows=rows, answer=picks)


RATING_ALIKE, RATING_UNLIKE = 8, 3
"""A practice rating of two identical shapes is right from 8 up; of two different ones, up to 3."""


def practice_feedback(question: PracticeQuestion, answer: Any) -> tuple[bool, str]:
    """Whether ``answer`` is what a careful worker gives, and a sentence saying why."""
    if question.layout == "2afc":
        right = answer == question.answer
        side = "left" if question.answer == 0 else "right"
        return right, f"The {side} one is the same shape as the reference; the other is a different shape."
    if question.layout == "odd":
        right = answer == question.answer
        return right, f"Image {question.answer + 1} is a different shape from the other two."
    if question.layout == "rating":
        if question.answer:
            return answer is not None and answer >= RATING_ALIKE, "The two are the same shape: rate them high, 8–10."
        return answer is not None and answer <= RATING_UNLIKE, "The two are different shapes: rate them low, 0–3."
    matched = sum(a == b for a, b in zip(answer or [], question.answer, strict=False))
    return matched == len(question.answer), f"{matched} of 6 rows matched: each row goes with the column of its shape."


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
