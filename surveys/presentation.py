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
from surveys.kinds.layouts import Layout


def worker_seed(survey_seed: int, ordinal: int) -> int:
    return derive_seed(survey_seed, f"assignment-{ordinal}")


def assignment_sequence(
    trials: list[tuple[int, Layout]], *, survey_seed: int, ordinal: int, places: int
) -> list[dict[str, Any]]:
    """``trials``: (trial id, layout) in the survey's assembled order. Returns one entry per
    trial in this worker's order, as the trial's layout arranges it (``Layout.entry``): e.g.
    ``{"trial": id, "flip": 0|1}`` (2AFC: 1 shows the options swapped), ``{"trial": id,
    "order": [...]}`` (odd one out: display index → the trial's own option), ``{"trial": id,
    "swap": 0|1}`` (rating) or ``{"trial": id, "columns": [...], "rows": [...]}`` (clustering:
    display index → the trial's own column or row index)."""
    base = random.Random(derive_seed(survey_seed, "presentation"))
    order = list(trials)
    base.shuffle(order)
    flips = {trial_id: base.randrange(2) for trial_id, _ in trials}
    column_orders = {trial_id: base.sample(range(3), 3) for trial_id, _ in trials}
    shift = (ordinal * len(order)) // max(places, 1) % max(len(order), 1)
    order = order[shift:] + order[:shift]
    mine = random.Random(worker_seed(survey_seed, ordinal))
    return [
        layout.entry(trial_id, flip=flips[trial_id], columns=column_orders[trial_id], ordinal=ordinal, mine=mine)
        for trial_id, layout in order
    ]
