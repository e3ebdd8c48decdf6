"""How a trial is shown and answered: the four page layouts survey kinds share.

A layout knows its screen: what one worker's arrangement of a trial is (sides, order, columns),
how what was clicked maps to the trial's own terms and back, what a well-formed answer is
(strict types: ``true``, ``1.0`` and ``"1"`` are not an option index), how an answer scores
against a right one, and its practice questions. Kinds (``surveys.kinds``) pick a layout and
add what is theirs: planning, wording, conversion to similarity data.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from metamer.errors import MetamerError
from surveys.practice import SHAPES, PracticeQuestion, Shape


def is_index(value: Any, n: int) -> bool:
    """Whether ``value`` is the integer index of one of ``n`` things (never a bool or a float)."""
    return type(value) is int and 0 <= value < n


@dataclass(frozen=True)
class Layout:
    """One screen design; subclasses fill in each step."""

    name: ClassVar[str]
    """What templates and the worker's script switch on: ``2afc``, ``odd``, ``rating`` or ``clustering``."""
    references: ClassVar[int] = 0
    """Options or columns an image is matched against (the simulated participants' choice)."""
    check_chance: ClassVar[float | None] = None
    """The chance that an answer at random passes one attention check (None: not scored so)."""

    def entry(self, trial_id: int, *, flip: int, columns: list[int], ordinal: int, mine: random.Random) -> dict:
        """This worker's arrangement of one trial (``presentation.assignment_sequence``)."""
        raise NotImplementedError

    def unchanged(self, trial_id: int) -> dict:
        """The survey's own arrangement (assignments from before per-worker sequences)."""
        raise NotImplementedError

    def from_shown(self, presentation: dict, shown: Any) -> Any:
        """An answer as clicked (display indices) in the trial's own terms; anything malformed
        passes unchanged for ``score`` to name."""
        return shown

    def to_shown(self, presentation: dict, answer: Any) -> Any:
        """The inverse of ``from_shown``: what the worker clicked for a trial-terms answer."""
        return answer

    def score(self, correct: Any, check_row: int | None, answer: Any, *, help: str) -> float | None:
        """Share of ``answer`` that is right (a check: 1 passed, 0 failed); None where no answer
        is right. A malformed answer is refused with ``help``."""
        raise NotImplementedError

    def arrange(self, presentation: dict, options: list) -> list:
        """A trial's options in this worker's order."""
        return list(options)

    def payload(self, images: Callable[[str], list[dict]], presentation: dict | None) -> dict[str, Any]:
        """What the page draws, in this worker's arrangement: ``images(role)`` lists a slot
        role's images in the trial's own order."""
        options = images("option")
        return {"options": self.arrange(presentation, options) if presentation else options}

    def alike(self, first: Any, second: Any) -> bool:
        """Whether two answers to one repeated trial agree (a worker's consistency)."""
        return first == second

    def practice(self, index: int) -> PracticeQuestion:
        raise NotImplementedError

    def practice_feedback(self, question: PracticeQuestion, answer: Any) -> tuple[bool, str]:
        right = answer == question.answer
        return right, self._why(question)

    def _why(self, question: PracticeQuestion) -> str:
        raise NotImplementedError

    def practice_answer(self, post: Any) -> Any:
        """What was clicked on a practice question's form, or None when it cannot be read."""
        value = post.get("answer")
        return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


@dataclass(frozen=True)
class PickOfTwo(Layout):
    """A reference above two options: pick the one more like it (2AFC and triplet trials)."""

    name: ClassVar[str] = "2afc"
    references: ClassVar[int] = 2
    check_chance: ClassVar[float | None] = 1 / 2

    def entry(self, trial_id, *, flip, columns, ordinal, mine):
        # Sides alternate between consecutive workers: counterbalanced over an even number.
        return {"trial": trial_id, "flip": (flip + ordinal) % 2}

    def unchanged(self, trial_id):
        return {"trial": trial_id, "flip": 0}

    def from_shown(self, presentation, shown):
        return 1 - shown if presentation.get("flip") and is_index(shown, 2) else shown

    def to_shown(self, presentation, answer):
        return 1 - answer if presentation.get("flip") and is_index(answer, 2) else answer

    def arrange(self, presentation: dict, options: list) -> list:
        return list(reversed(options)) if presentation.get("flip") else list(options)

    def payload(self, images, presentation):
        query = images("query")
        return {**super().payload(images, presentation), **({"query": query[0]} if query else {})}

    def score(self, correct, check_row, answer, *, help):
        if not is_index(answer, 2):
            raise MetamerError(help, field="answer")
        return None if correct is None else float(answer == correct)

    def practice(self, index):
        first, second = SHAPES[index % 3], SHAPES[(index + 1) % 3]
        like, unlike = Shape(first, 0.5), Shape(second)
        options = (like, unlike) if index % 2 == 0 else (unlike, like)
        return PracticeQuestion(self.name, options=options, reference=Shape(first), answer=options.index(like))

    def _why(self, question):
        side = "left" if question.answer == 0 else "right"
        return f"The {side} one is the same shape as the reference; the other is a different shape."


@dataclass(frozen=True)
class OddOneOut(Layout):
    """Three options: pick the one that does not belong."""

    name: ClassVar[str] = "odd"
    references: ClassVar[int] = 3
    check_chance: ClassVar[float | None] = 1 / 3

    def entry(self, trial_id, *, flip, columns, ordinal, mine):
        return {"trial": trial_id, "order": mine.sample(range(3), 3)}

    def unchanged(self, trial_id):
        return {"trial": trial_id, "order": [0, 1, 2]}

    def from_shown(self, presentation, shown):
        return presentation["order"][shown] if is_index(shown, 3) else shown

    def to_shown(self, presentation, answer):
        return presentation["order"].index(answer) if is_index(answer, 3) else answer

    def arrange(self, presentation: dict, options: list) -> list:
        return [options[i] for i in presentation["order"]]

    def score(self, correct, check_row, answer, *, help):
        if not is_index(answer, 3):
            raise MetamerError(help, field="answer")
        return None if correct is None else float(answer == correct)

    def practice(self, index):
        first, second = SHAPES[index % 3], SHAPES[(index + 1) % 3]
        odd = index % 3
        options = tuple(Shape(second) if i == odd else Shape(first, 0.45 + 0.1 * i) for i in range(3))
        return PracticeQuestion(self.name, options=options, answer=odd)

    def _why(self, question):
        return f"Image {question.answer + 1} is a different shape from the other two."


RATING_MAX = 10
"""Ratings run from 0 (not alike at all) to this (the same)."""
RATING_SAME_WITHIN = 1
"""Two ratings of the same pair count as alike when at most this far apart."""
RATING_ALIKE, RATING_UNLIKE = 8, 3
"""A practice rating of two identical shapes is right from 8 up; of two different ones, up to 3."""


@dataclass(frozen=True)
class Rating(Layout):
    """Two images and a 0–10 scale: how alike are they?"""

    name: ClassVar[str] = "rating"
    scale: ClassVar[range] = range(RATING_MAX + 1)

    def entry(self, trial_id, *, flip, columns, ordinal, mine):
        return {"trial": trial_id, "swap": (flip + ordinal) % 2}

    def unchanged(self, trial_id):
        return {"trial": trial_id, "swap": 0}

    def arrange(self, presentation: dict, options: list) -> list:
        # A rating says the same whichever image is on the left: only the display swaps.
        return list(reversed(options)) if presentation.get("swap") else list(options)

    def payload(self, images, presentation):
        return {**super().payload(images, presentation), "scale": list(self.scale)}

    def score(self, correct, check_row, answer, *, help):
        if not is_index(answer, RATING_MAX + 1):
            raise MetamerError(help, field="answer")
        # A check shows one image twice: passed when rated near the top of the scale.
        return None if correct is None else float(answer >= correct)

    def alike(self, first, second):
        return abs(first - second) <= RATING_SAME_WITHIN

    def practice(self, index):
        first, second = SHAPES[index % 3], SHAPES[(index + 1) % 3]
        same = index % 2 == 0
        return PracticeQuestion(self.name, options=(Shape(first), Shape(first) if same else Shape(second)), answer=same)

    def practice_feedback(self, question, answer):
        if question.answer:
            return answer is not None and answer >= RATING_ALIKE, "The two are the same shape: rate them high, 8–10."
        return answer is not None and answer <= RATING_UNLIKE, "The two are different shapes: rate them low, 0–3."


@dataclass(frozen=True)
class Clustering(Layout):
    """Three columns (targets) and six rows (their IRIs): put each row under its column."""

    name: ClassVar[str] = "clustering"
    references: ClassVar[int] = 3
    check_chance: ClassVar[float | None] = 1 / 3  # the check row under its own column
    rows: ClassVar[int] = 6

    def entry(self, trial_id, *, flip, columns, ordinal, mine):
        # Columns rotate every worker, so every three workers see each target in each column.
        turn = ordinal % 3
        return {"trial": trial_id, "columns": columns[turn:] + columns[:turn], "rows": mine.sample(range(6), 6)}

    def unchanged(self, trial_id):
        return {"trial": trial_id, "columns": [0, 1, 2], "rows": [*range(6)]}

    def from_shown(self, presentation, shown):
        columns, rows = presentation["columns"], presentation["rows"]
        if not isinstance(shown, list) or len(shown) != len(rows) or not all(is_index(a, 3) for a in shown):
            return shown
        answer = [0] * len(rows)
        for display_row, display_column in enumerate(shown):
            answer[rows[display_row]] = columns[display_column]
        return answer

    def to_shown(self, presentation, answer):
        columns, rows = presentation["columns"], presentation["rows"]
        return [columns.index(answer[rows[display_row]]) for display_row in range(len(rows))]

    def payload(self, images, presentation):
        columns, rows = images("column"), images("row")
        if presentation:
            columns = [columns[c] for c in presentation["columns"]]
            rows = [rows[r] for r in presentation["rows"]]
        return {"columns": columns, "rows": rows}

    def score(self, correct, check_row, answer, *, help):
        if not isinstance(answer, list) or len(answer) != len(correct) or not all(is_index(a, 3) for a in answer):
            raise MetamerError(help.format(rows=len(correct)), field="answer")
        if check_row is not None:
            return float(answer[check_row] == correct[check_row])
        return sum(a == c for a, c in zip(answer, correct, strict=True)) / len(correct)

    def practice(self, index):
        columns = tuple(Shape(s) for s in SHAPES)
        picks = [(index + r) % 3 for r in range(6)]
        rows = tuple(Shape(SHAPES[c], 0.45 + 0.05 * (r % 3), light=r % 2 == 1) for r, c in enumerate(picks))
        return PracticeQuestion(self.name, columns=columns, rows=rows, answer=picks)

    def practice_feedback(self, question, answer):
        matched = sum(a == b for a, b in zip(answer or [], question.answer, strict=False))
        return matched == len(question.answer), (
            f"{matched} of 6 rows matched: each row goes with the column of its shape."
        )

    def practice_answer(self, post):
        values = [post.get(f"row-{row}") for row in range(self.rows)]
        if not all(isinstance(v, str) and v.isascii() and v.isdigit() and len(v) < 3 for v in values):
            return None
        return [int(v) for v in values]
