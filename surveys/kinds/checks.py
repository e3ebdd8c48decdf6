"""Can a design be answered without looking? Pure checks over a survey's trials, said in
numbers: answering by elimination (an option that recurs across trials gives the answer away)
and attention checks that a worker answering at random passes too often."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

ELIMINATION_LIMIT = 0.6
"""A rule that never looks at the query and scores this share or more is a warning (chance: 50%)."""
MIN_TRIALS = 5
CHECK_PASS_LIMIT = 0.05
"""A worker answering at random should pass every attention check with at most this chance."""


def elimination_warning(trials: Sequence[tuple[Sequence[str], int]]) -> str | None:
    """Two-option trials as (the options' contents, the right one's index): the better of two
    rules that never look at the query, "pick the option not seen in other trials" and its
    opposite, and what it scores, when that is at least ``ELIMINATION_LIMIT``."""
    if len(trials) < MIN_TRIALS:
        return None
    seen = Counter(option for options, _ in trials for option in options)
    rarer_right = 0.0
    for options, correct in trials:
        first, second = (seen[o] for o in options)
        rarer_right += 0.5 if first == second else float((0 if first < second else 1) == correct)
    n = len(trials)
    rules = {
        "never picks an option it has seen in other trials": rarer_right / n,
        "always picks the option it has seen in other trials": 1 - rarer_right / n,
    }
    rule, score = max(rules.items(), key=lambda item: item[1])
    if score < ELIMINATION_LIMIT:
        return None
    _, most = seen.most_common(1)[0]
    return (
        f"answerable by elimination: a worker who {rule} scores {score:.0%} of the {n} trials (chance 50%) "
        f"without looking at the IRI; one option image appears in {most} of them. Invert with a distinct seed "
        "per target (seed_per_target, the default for new jobs), or mix jobs so that no option recurs."
    )


def checks_warning(n_checks: int, chance: float | None) -> str | None:
    """When a worker answering at random passes all ``n_checks`` attention checks (each with
    ``chance``) with more than ``CHECK_PASS_LIMIT``, the checks enough to bring it under."""
    if chance is None:
        return None
    if not n_checks:
        return "no attention checks: nothing tells a worker answering at random from a careful one"
    passing = chance**n_checks
    if passing <= CHECK_PASS_LIMIT:
        return None
    needed = math.ceil(math.log(CHECK_PASS_LIMIT) / math.log(chance))
    return (
        f"too few attention checks: a worker answering at random passes all {n_checks} with a chance of "
        f"{passing:.0%}; {needed} or more bring it under {CHECK_PASS_LIMIT:.0%}"
    )
