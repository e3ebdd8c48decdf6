"""Kinds that ask about any image set: triplet, odd one out and pairwise rating, with their pure
planners (which images each trial shows, and the attention checks) and how an answer becomes
similarity data. Items are image-set indices; nothing here reads or writes the database."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from metamer.errors import MetamerError
from science import similarity as sim
from science.alignment import n_triplets
from surveys.kinds.layouts import OddOneOut, PickOfTwo, Rating
from surveys.kinds.spec import KindSpec, Triplet

ALL_TRIPLETS_UP_TO = 2000
"""Image sets with at most this many distinct trials are asked all of them by default."""

RATING_CHECK_PASS = 8
"""A rating check (one image shown twice) passes at this rating or above, of 10."""

Planned = tuple[list[tuple[int, ...]], list[tuple[int, ...]], str]
"""(trials as items, attention checks as items plus their right answer, how they were sampled)."""


def _n_checks(n_trials: int, asked: int | None) -> int:
    return max(1, round(n_trials * 0.05)) if asked is None else asked


def _bounded(total: int, n: int, name: str, n_trials: int | None, unit: str) -> None:
    if n_trials is None and total > ALL_TRIPLETS_UP_TO:
        raise MetamerError(f"{name} has {total:,} {unit}; say how many to ask (n_trials)", field="n_trials")
    if n_trials is not None and n_trials > total:
        raise MetamerError(f"asked for {n_trials} trials but {n} images give only {total} {unit}", field="n_trials")


def plan_triplets(n: int, name: str, n_trials: int | None, seed: int, n_attention_checks: int | None) -> Planned:
    """Triplets (reference, option 0, option 1): every one when the set is small and no number is
    given, else ``n_trials`` distinct ones drawn uniformly. Checks show the reference itself as
    one option (the last element: that option)."""
    if n < 3:
        raise MetamerError(f"{name} has {n} images; a triplet needs 3", field="image_set")
    total = n_triplets(n)
    rng = np.random.default_rng(seed)
    _bounded(total, n, name, n_trials, "distinct triplets")
    if n_trials is None or n_trials == total:
        chosen, sampling = sim.all_triplets(n), f"all {total} triplets"
    else:
        pool = np.unique(sim.sample_triplets(n, 4 * n_trials + 100, seed=seed), axis=0)
        while len(pool) < n_trials:  # dense requests: top up until enough distinct ones
            more = sim.sample_triplets(n, 4 * n_trials, seed=int(rng.integers(2**31)))
            pool = np.unique(np.concatenate([pool, more]), axis=0)
        chosen, sampling = pool[rng.permutation(len(pool))[:n_trials]], f"uniform: {n_trials} of {total} (seed {seed})"
    chosen = chosen[rng.permutation(len(chosen))]
    # Which image is shown first is random per triplet (and again per worker, when shown).
    trials = [(int(i), *(int(x) for x in ((j, k) if rng.random() < 0.5 else (k, j)))) for i, j, k in chosen]
    checks = []
    for pick in rng.integers(0, len(trials), _n_checks(len(trials), n_attention_checks)):
        i, j, k = trials[pick]
        side = int(rng.integers(2))
        checks.append((i, i, k, 0) if side == 0 else (i, j, i, 1))
    return trials, checks, sampling


def plan_pairs(n: int, name: str, n_trials: int | None, seed: int, n_attention_checks: int | None) -> Planned:
    """Pairs in a random order; checks show one image twice (the last element: the least
    rating that passes)."""
    if n < 2:
        raise MetamerError(f"{name} has {n} image; a pair needs 2", field="image_set")
    total = n * (n - 1) // 2
    rng = np.random.default_rng(seed)
    _bounded(total, n, name, n_trials, "pairs")
    pairs = list(itertools.combinations(range(n), 2))
    if n_trials is None or n_trials == total:
        sampling = f"all {total} pairs"
    else:
        pairs, sampling = (
            [pairs[p] for p in sorted(rng.choice(total, n_trials, replace=False))],
            (f"uniform: {n_trials} of {total} pairs (seed {seed})"),
        )
    trials = [tuple(int(x) for x in rng.permutation(pairs[p])) for p in rng.permutation(len(pairs))]
    n_checks = _n_checks(len(trials), n_attention_checks)
    checks = [(int(i), int(i), RATING_CHECK_PASS) for i in rng.integers(0, n, n_checks)]
    return trials, checks, sampling


def plan_triads(n: int, name: str, n_trials: int | None, seed: int, n_attention_checks: int | None) -> Planned:
    """Sets of three in a random order; checks show one image twice beside another (the last
    element: the position of the odd one)."""
    if n < 3:
        raise MetamerError(f"{name} has {n} images; an odd-one-out trial needs 3", field="image_set")
    total = n * (n - 1) * (n - 2) // 6
    rng = np.random.default_rng(seed)
    _bounded(total, n, name, n_trials, "distinct sets of three")
    if n_trials is None or n_trials == total:
        chosen, sampling = [tuple(t) for t in itertools.combinations(range(n), 3)], f"all {total} sets of three"
    else:
        seen: set[tuple[int, ...]] = set()
        while len(seen) < n_trials:
            seen.add(tuple(sorted(int(x) for x in rng.choice(n, 3, replace=False))))
        chosen, sampling = sorted(seen), f"uniform: {n_trials} of {total} sets of three (seed {seed})"
    trials = [tuple(int(x) for x in rng.permutation(t)) for t in (chosen[p] for p in rng.permutation(len(chosen)))]
    checks = []
    for pick in rng.integers(0, len(trials), _n_checks(len(trials), n_attention_checks)):
        same, odd = trials[pick][:2]
        items = [same, same, odd]
        order = rng.permutation(3)
        shown = [items[o] for o in order]
        checks.append((*shown, int(np.flatnonzero(order == 2)[0])))
    return trials, checks, sampling


def _reference_and_options(items: Sequence[int]) -> list[tuple[str, int, int]]:
    return [("query", 0, items[0]), ("option", 0, items[1]), ("option", 1, items[2])]


def _options(items: Sequence[int]) -> list[tuple[str, int, int]]:
    return [("option", index, item) for index, item in enumerate(items)]


def _triplet_answer(items: Sequence[int], answer: int) -> list[Triplet]:
    # The first option chosen (0) says the reference is closer to it than to the second.
    return [(items[0], items[1], items[2], 1 - answer)]


def _odd_one_out_answer(items: Sequence[int], answer: int) -> list[Triplet]:
    # Each of the two images kept is closer to the other than to the odd one; nothing is said
    # about the odd one's own neighbour.
    kept = [items[p] for p in range(3) if p != answer]
    return [(i, j, k, 1) for i, j, k in sim.odd_one_out_triplets(kept[0], kept[1], items[answer])]


_IMAGE_SET_FIELDS = ("image_set", "n_repeats", "min_consistency")

TRIPLET = KindSpec(
    value="triplet",
    label="Triplet: which of two images is more like a third? (any image set)",
    layout=PickOfTwo(),
    seconds_per_trial=5,
    answer_help="a triplet answer is 0 (first option) or 1 (second option), as a whole number",
    noun="a triplet survey",
    image_set=True,
    plan=plan_triplets,
    design_fields=(*_IMAGE_SET_FIELDS, "adaptive_every", "adaptive_trials"),
    slots=_reference_and_options,
    to_triplets=_triplet_answer,
    adaptive=True,
)
ODD_ONE_OUT = KindSpec(
    value="odd-one-out",
    label="Odd one out: which of three images does not belong? (any image set)",
    layout=OddOneOut(),
    seconds_per_trial=6,
    answer_help="an odd-one-out answer is 0, 1 or 2 (the image that does not belong), as a whole number",
    noun="an odd-one-out survey",
    image_set=True,
    plan=plan_triads,
    design_fields=_IMAGE_SET_FIELDS,
    slots=_options,
    to_triplets=_odd_one_out_answer,
)
RATING = KindSpec(
    value="rating",
    label="Pairwise rating: how similar are two images, 0 to 10? (any image set)",
    layout=Rating(),
    seconds_per_trial=6,
    answer_help="a rating is a whole number from 0 to 10",
    noun="a rating survey",
    image_set=True,
    plan=plan_pairs,
    design_fields=_IMAGE_SET_FIELDS,
    slots=_options,
)

SPECS = (TRIPLET, ODD_ONE_OUT, RATING)
