"""What each worker sees: their own trial order, option sides and column/row order.

Plain functions of the survey's seed and the worker's arrival order (``ordinal``), so a
survey is rebuilt identically from its seed and each worker's sequence from theirs.
Counterbalanced where the design allows:
- position: each worker's order is the survey's base order rotated by ``ordinal · n / W``
  (``W`` places), so a trial (and an attention check) sits early for some and late for others;
- sides (2AFC): each trial's sides alternate between consecutive workers, so with an even
  number of workers every trial shows its target on the left and on the right equally often;
- columns (clustering): rotated by ``ordinal mod 3``, so every three workers see each target
  in each column once; rows are shuffled per worker.
"""

from __future__ import annotations

import random
from typing import Any

from science.seeding import derive_seed


def worker_seed(survey_seed: int, ordinal: int) -> int:
    return derive_seed(survey_seed, f"assignment-{ordinal}")


def assignment_sequence(
    trials: list[tuple[int, str]], *, survey_seed: int, ordinal: int, places: int
) -> list[dict[str, Any]]:
    """``trials``: (trial id, layout) in the survey's assembled order, layout ``2afc``, ``odd``
    or ``clustering``. Returns one entry per trial in this worker's order: ``{"trial": id,
    "flip": 0|1}`` (2AFC: 1 shows the options swapped), ``{"trial": id, "order": [...]}`` (odd
    one out: display index → the trial's own option), ``{"trial": id, "swap": 0|1}`` (rating:
    1 shows the pair the other way round) or ``{"trial": id, "columns": [...],
    "rows": [...]}`` (clustering: display index → the trial's own column or row index)."""
    base = random.Random(derive_seed(survey_seed, "presentation"))
    order = list(trials)
    base.shuffle(order)
    flips = {trial_id: base.randrange(2) for trial_id, _ in trials}
    column_orders = {trial_id: base.sample(range(3), 3) for trial_id, _ in trials}
    shift = (ordinal * len(order)) // max(places, 1) % max(len(order), 1)
    order = order[shift:] + order[:shift]
    mine = random.Random(worker_seed(survey_seed, ordinal))
    sequence = []
    for trial_id, kind in order:
        if kind == "2afc":
            sequence.append({"trial": trial_id, "flip": (flips[trial_id] + ordinal) % 2})
        elif kind == "odd":
            sequence.append({"trial": trial_id, "order": mine.sample(range(3), 3)})
        elif kind == "rating":
            sequence.append({"trial": trial_id, "swap": (flips[trial_id] + ordinal) % 2})
        else:
            turn = ordinal % 3
            columns = column_orders[trial_id][turn:] + column_orders[trial_id][:turn]
            sequence.append({"trial": trial_id, "columns": columns, "rows": mine.sample(range(6), 6)})
    return sequence


def answer_from_shown(presentation: dict[str, Any], shown: Any) -> Any:
    """An answer as clicked (display indices) in the trial's own terms. Anything malformed is
    passed through unchanged for the answer's validation to name."""
    if "flip" in presentation:
        return 1 - shown if presentation["flip"] and shown in (0, 1) and not isinstance(shown, bool) else shown
    if "order" in presentation:
        valid = shown in (0, 1, 2) and not isinstance(shown, bool)
        return presentation["order"][shown] if valid else shown
    if "swap" in presentation:
        return shown  # a rating says the same whichever image is on the left
    columns, rows = presentation["columns"], presentation["rows"]
    if not isinstance(shown, list) or len(shown) != len(rows) or any(a not in (0, 1, 2) for a in shown):
        return shown
    answer = [0] * len(rows)
    for display_row, display_column in enumerate(shown):
        answer[rows[display_row]] = columns[display_column]
    return answer


def shown_from_answer(presentation: dict[str, Any], answer: Any) -> Any:
    """The inverse of ``answer_from_shown``: what the worker clicked for a trial-terms answer."""
    if "flip" in presentation:
        return 1 - answer if presentation["flip"] and answer in (0, 1) else answer
    if "order" in presentation:
        return presentation["order"].index(answer) if answer in (0, 1, 2) else answer
    if "swap" in presentation:
        return answer
    columns, rows = presentation["columns"], presentation["rows"]
    return [columns.index(answer[rows[display_row]]) for display_row in range(len(rows))]


def arrange_options(presentation: dict[str, Any], options: list) -> list:
    """A 2AFC trial's two options, or an odd-one-out trial's three, in this worker's order."""
    if "order" in presentation:
        return [options[i] for i in presentation["order"]]
    return list(reversed(options)) if presentation.get("flip") or presentation.get("swap") else list(options)


def arrange_grid(presentation: dict[str, Any], columns: list, rows: list) -> tuple[list, list]:
    """A clustering trial's columns and rows in this worker's order."""
    return [columns[c] for c in presentation["columns"]], [rows[r] for r in presentation["rows"]]
