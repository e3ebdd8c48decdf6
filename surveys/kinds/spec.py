"""The frozen spec every survey kind fills in (``surveys.kinds``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from surveys.kinds.layouts import Layout


@dataclass
class Plan:
    """One trial before it is stored: (role, stimulus) slots and the right answer (for an
    attention check, the obvious one)."""

    slots: list[tuple[str, Any]]
    correct: Any
    job: Any = None
    iri: Any = None
    is_check: bool = False
    check_row: int | None = None
    items: list[int] | None = None
    """Image-set kinds: the image-set indices shown."""
    repeat_of: int | None = None
    """A repeated trial: the position of the trial it asks again."""


Triplet = tuple[int, int, int, int]
"""(i, j, k, choice): choice 1 says ``i`` is closer to ``j`` than to ``k``."""


@dataclass(frozen=True)
class KindSpec:
    """What makes a survey kind what it is."""

    value: str
    label: str
    layout: Layout
    seconds_per_trial: float
    """What a trial takes a careful worker, until answers are measured (the paper: ~20 minutes
    for 100 2AFC trials plus checks, with 60 allotted)."""
    answer_help: str
    """What a well-formed answer is, said to whoever sent another (``{rows}``: clustering rows)."""
    noun: str
    """How sentences name a survey of this kind ("a triplet survey")."""
    image_set: bool
    """Asks about any image set (its indices in ``Trial.items``), not about IRIs."""
    plan: Callable[..., Any]
    """The pure planner: for IRI kinds ``(iris, rng, similarity) -> plans``; for
    image-set kinds ``(n, name, n_trials, seed, n_attention_checks) -> (trials, checks, sampling)``."""
    design_fields: tuple[str, ...] = ()
    """The design form's fields beyond name, kind and the common ones."""
    slots: Callable[[Sequence[int]], list[tuple[str, int, int]]] | None = None
    """Image-set kinds: a trial's items as (role, index, item) slots."""
    to_triplets: Callable[[Sequence[int], Any], list[Triplet]] | None = None
    """Image-set kinds: one answer (trial terms) as similarity triplets; None: ratings become
    matrices instead."""
    adaptive: bool = False
    """Adaptive rounds may add trials (the answers so far pick them)."""
    similarity: bool = False
    """Groups its targets by a similarity (hard clustering)."""
    eliminable: bool = False
    """Its trials' right option is one of two images the design fixes, which may recur across
    trials: the design is checked for answers by elimination (``surveys.kinds.checks``)."""

    def score(self, correct: Any, check_row: int | None, answer: Any) -> float | None:
        """Share right of an answer in the trial's own terms; refuses a malformed one."""
        return self.layout.score(correct, check_row, answer, help=self.answer_help)
