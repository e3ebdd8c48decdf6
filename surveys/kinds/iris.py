"""Kinds built from IRIs: 2AFC and clustering (random or similar targets), with their pure
planners. Planning reads IRIs and stores nothing (``surveys.services.assembly`` writes)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from metamer.errors import MetamerError
from surveys.kinds.layouts import Clustering, PickOfTwo
from surveys.kinds.spec import KindSpec, Plan


def plan_2afc(iris: list, rng: random.Random, similarity: Callable | None = None) -> list[Plan]:
    """Per IRI, the query ``xr`` over its target ``xt`` and seed ``x0`` in random order."""
    rng.shuffle(iris)
    plans = []
    for iri in iris:
        options = [iri.target.stimulus, iri.seed]
        correct = rng.randrange(2)
        if correct == 1:
            options.reverse()
        slots = [("query", iri.stimulus)] + [("option", o) for o in options]
        plans.append(Plan(job=iri.job, slots=slots, correct=correct, iri=iri))
    return plans


def plan_clustering(
    iris: list, rng: random.Random, similarity: Callable[[list], np.ndarray] | None = None
) -> list[Plan]:
    """Three targets as columns, two IRIs of each as rows. With ``similarity`` (targets →
    similarity matrix), an anchor and its two most similar targets; else random targets."""
    by_job: dict[int, dict[Any, list]] = {}
    for iri in iris:
        by_job.setdefault(iri.job_id, {}).setdefault(iri.target, []).append(iri)
    triples = []
    for per_target in by_job.values():
        eligible = sorted((t for t, its in per_target.items() if len(its) >= 2), key=lambda t: t.index)
        if similarity is not None:
            groups = _similar_triples(eligible, similarity(eligible), rng)
        else:
            rng.shuffle(eligible)
            groups = [eligible[i : i + 3] for i in range(0, len(eligible) - 2, 3)]
        triples += [[(t, sorted(per_target[t], key=lambda i: i.seed_index)[:2]) for t in g] for g in groups]
    if not triples:
        raise MetamerError(
            "clustering needs at least 3 targets with 2 IRIs each in one job: run it with seeds_per_target=2",
            field="jobs",
        )
    rng.shuffle(triples)
    plans = []
    for triple in triples:
        rng.shuffle(triple)
        rows = [(iri, column) for column, (_, its) in enumerate(triple) for iri in its]
        rng.shuffle(rows)
        slots = [("column", t.stimulus) for t, _ in triple]
        slots += [("row", iri.stimulus) for iri, _ in rows]
        plans.append(Plan(job=rows[0][0].job, slots=slots, correct=[c for _, c in rows]))
    return plans


def _similar_triples(targets: list, similarity: np.ndarray, rng: random.Random) -> list[list]:
    """An anchor drawn at random and its two most similar targets still unused, until < 3 remain."""
    remaining = list(range(len(targets)))
    groups = []
    while len(remaining) >= 3:
        anchor = rng.choice(remaining)
        others = sorted((i for i in remaining if i != anchor), key=lambda i: -similarity[anchor, i])[:2]
        group = [anchor, *others]
        groups.append([targets[i] for i in group])
        remaining = [i for i in remaining if i not in group]
    return groups


def attention_check(plan: Plan, rng: random.Random) -> Plan:
    """A copy of a trial in which one answer is obvious: the query (2AFC) or one row
    (clustering) is the very same image as one of the options or columns."""
    if plan.iri is not None:
        slots = [("query", plan.iri.target.stimulus), *plan.slots[1:]]
        return Plan(job=plan.job, slots=slots, correct=plan.correct, is_check=True)
    columns = [s for s in plan.slots if s[0] == "column"]
    rows = [s for s in plan.slots if s[0] == "row"]
    row, column = rng.randrange(len(rows)), rng.randrange(len(columns))
    rows[row] = ("row", columns[column][1])
    correct = list(plan.correct)
    correct[row] = column
    return Plan(job=plan.job, slots=columns + rows, correct=correct, is_check=True, check_row=row)


_IRI_FIELDS = ("jobs", "include_unconverged", "only_beating_null")

TWO_AFC = KindSpec(
    value="2afc",
    label="2AFC: is the IRI closer to its target or its seed?",
    layout=PickOfTwo(),
    seconds_per_trial=5,
    answer_help="a 2AFC answer is 0 (left/first option) or 1 (right/second option), as a whole number",
    noun="a 2AFC survey",
    image_set=False,
    plan=plan_2afc,
    design_fields=_IRI_FIELDS,
    eliminable=True,
)
CLUSTER_RANDOM = KindSpec(
    value="cluster-random",
    label="Clustering, random targets",
    layout=Clustering(),
    seconds_per_trial=25,
    answer_help="a clustering answer gives a column (0, 1 or 2, whole numbers) for each of the {rows} rows",
    noun="a clustering survey",
    image_set=False,
    plan=plan_clustering,
    design_fields=_IRI_FIELDS,
)
CLUSTER_HARD = KindSpec(
    value="cluster-hard",
    label="Clustering, similar targets",
    layout=Clustering(),
    seconds_per_trial=30,
    answer_help=CLUSTER_RANDOM.answer_help,
    noun="a hard clustering survey",
    image_set=False,
    plan=plan_clustering,
    design_fields=(*_IRI_FIELDS, "similarity"),
    similarity=True,
)

SPECS = (TWO_AFC, CLUSTER_RANDOM, CLUSTER_HARD)
