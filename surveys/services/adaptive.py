"""Adaptive rounds: the trials the answers so far are least sure of, added for later workers."""

from __future__ import annotations

import numpy as np
import torch
from django.db import transaction

from metamer.errors import MetamerError
from science import similarity as sim
from surveys.kinds.image_sets import ALL_TRIPLETS_UP_TO
from surveys.models import Survey, Trial, TrialSlot
from surveys.selectors import survey_triplets


@transaction.atomic
def survey_adaptive_round(*, survey: Survey, n_trials: int, places: int = 0, seed: int | None = None) -> Survey:
    """Adaptive sampling for a triplet survey, in rounds: fit an ordinal embedding (t-STE) to
    the answers so far (workers who passed every check) and add the ``n_trials`` triplets it is
    least sure of that nobody was asked, for workers who start from now on (``places`` more of
    them). Workers already started keep their own sequence. The round is recorded in
    ``sampling``."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if not survey.spec.adaptive:
        raise MetamerError(f"adaptive rounds ask triplets; {survey.name} is {survey.spec.noun}")
    if survey.status == Survey.Status.CLOSED:
        raise MetamerError(f"{survey.name} is closed; open a new survey instead", code="conflict")
    if not 1 <= n_trials <= ALL_TRIPLETS_UP_TO:
        raise MetamerError(f"a round adds 1 to {ALL_TRIPLETS_UP_TO:,} triplets", field="n_trials")
    if not 0 <= places <= 10_000:
        raise MetamerError("places must be between 0 and 10,000", field="places")
    answers = [r for r in survey_triplets(survey) if not r["attention_check"] and r["passed_checks"]]
    if not answers:
        raise MetamerError(f"{survey.name} has no answers yet from workers who passed its checks; wait for some")
    n = survey.image_set.targets.count()
    seed = survey.seed + survey.trials.count() if seed is None else seed
    t = np.array([[r["i"], r["j"], r["k"]] for r in answers])
    embedding = sim.fit_embedding(
        t, np.array([r["choice"] for r in answers]), n, generator=torch.Generator().manual_seed(seed)
    )
    asked = {
        (i, *pair)
        for i, j, k in survey.trials.filter(is_attention_check=False).values_list("items", flat=True)
        for pair in ((j, k), (k, j))
    }
    chosen = sim.most_uncertain_triplets(embedding, n_trials, seed=seed, exclude=asked)
    if len(chosen) == 0:
        raise MetamerError("every triplet the sampler could find was asked already", field="n_trials")
    start = survey.trials.order_by("-position").values_list("position", flat=True).first() + 1
    stimuli = dict(survey.image_set.targets.values_list("index", "stimulus_id"))
    for offset, (i, j, k) in enumerate(chosen.tolist()):
        trial = Trial.objects.create(survey=survey, position=start + offset, items=[i, j, k])
        TrialSlot.objects.bulk_create(
            [
                TrialSlot(trial=trial, role=role, index=index, stimulus_id=stimuli[item])
                for role, index, item in survey.spec.slots([i, j, k])
            ]
        )
    survey.n_trials += len(chosen)
    survey.workers_per_survey += places
    survey.sampling = f"{survey.sampling}; adaptive +{len(chosen)} from {len(answers)} answers (seed {seed})"[:500]
    survey.save(update_fields=["n_trials", "workers_per_survey", "sampling"])
    return survey
