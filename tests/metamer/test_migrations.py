"""A database made by the earlier migrations upgrades cleanly: moved models keep their rows."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

OLD = [("inversion", "0001_initial"), ("surveys", "0001_initial"), ("analysis", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_judgements_and_trial_choices_survive_their_move_between_apps():
    executor = MigrationExecutor(connection)
    executor.migrate(OLD)
    old = executor.loader.project_state(OLD).apps
    stimulus = old.get_model("inversion", "Stimulus").objects.create(
        role="iri", image="x.png", sha256="0" * 64, width=1, height=1
    )
    spec = old.get_model("inversion", "ModelSpec").objects.create(name="m", architecture="a", layer="1")
    target_set = old.get_model("inversion", "TargetSet").objects.create(name="t", image_size=1)
    target = old.get_model("inversion", "Target").objects.create(target_set=target_set, index=0, stimulus=stimulus)
    job = old.get_model("inversion", "InversionJob").objects.create(model_spec=spec, target_set=target_set, config={})
    iri = old.get_model("inversion", "IRI").objects.create(
        job=job, target=target, seed=stimulus, stimulus=stimulus, rep_distance=0.01, converged=True,
        steps=1, best_step=1, wall_time=0.1, device="cpu",
    )  # fmt: skip
    study = old.get_model("surveys", "Study").objects.create(name="s")
    survey = old.get_model("surveys", "Survey").objects.create(study=study, name="v", seed=0)
    trial = old.get_model("surveys", "Trial").objects.create(survey=survey, position=0, job=job, iri=iri, correct=0)
    old.get_model("analysis", "LpipsJudgement").objects.create(iri=iri, variant="alex-lin", d_target=0.1, d_seed=0.2)
    old.get_model("analysis", "TrialLpipsChoice").objects.create(
        trial=trial, variant="vgg", choice=0, margin=0.5, distances=[[0.1, 0.6]]
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    new = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps
    judgement = new.get_model("inversion", "LpipsJudgement").objects.get()
    assert (judgement.iri_id, judgement.variant, judgement.d_target, judgement.d_seed) == (iri.pk, "alex-lin", 0.1, 0.2)
    choice = new.get_model("surveys", "TrialLpipsChoice").objects.get()
    assert (choice.trial_id, choice.distances) == (trial.pk, [[0.1, 0.6]])
    with pytest.raises(LookupError):
        new.get_model("analysis", "LpipsJudgement")
