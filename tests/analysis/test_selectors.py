import pytest

from analysis.selectors import judgements
from surveys import services
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db


def test_clustering_answers_reach_the_judgements_export_one_row_each(paired_iris):
    study = StudyFactory()
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=study, name="c", jobs=[paired_iris[0].job], kind="cluster-random", n_trials=None, seed=2
        )
    )
    assignment = services.assignment_start(survey=survey, external_id="w")
    wrong_rows = {}
    for trial in survey.trials.all():
        answer = list(trial.correct)
        if not trial.is_attention_check:
            answer[0] = (answer[0] + 1) % 3  # every trial's first row matched to a wrong column
            wrong_rows[trial.pk] = 0
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=answer, idempotency_key=str(trial.pk))
    frame = judgements(study)
    scored = frame[~frame.attention_check]
    assert set(scored.kind) == {"clustering"}
    assert len(scored) == 6 * len(wrong_rows)  # six rows per trial
    assert set(scored.row) == set(range(6))
    assert not scored[scored.row == 0].correct.any() and scored[scored.row > 0].correct.all()
    checks = frame[frame.attention_check]
    assert len(checks) == survey.n_attention_checks  # only the copied row of each check
    assert checks.correct.all() and not frame.excluded.any()
    assert frame["lpips:alex-lin"].notna().all()


def test_condition_labels_name_the_preset_and_raw_noise_targets():
    from analysis.selectors import condition_label
    from inversion import services as inversion_services
    from inversion.config import InversionConfig
    from tests.factories import InversionJobFactory, ModelSpecFactory

    spec = ModelSpecFactory(name="lite0 late")
    raw = inversion_services.target_set_create_noise(name="r", n=1, law="normal-0-1", image_size=8, seed=0, raw=True)
    paper = InversionJobFactory(
        model_spec=spec, target_set=raw, config=InversionConfig.from_dict({"preset": "paper"}).to_dict()
    )
    assert condition_label(paper) == "lite0 late / none, paper preset / raw noise targets"
    plain = inversion_services.target_set_create_noise(name="p", n=1, law="normal-0-1", image_size=8, seed=0)
    assert (
        condition_label(InversionJobFactory(model_spec=spec, target_set=plain)) == "lite0 late / none / noise targets"
    )


def test_judgements_count_submitted_work_only_and_say_what_each_worker_saw(survey):
    from analysis.selectors import study_results

    finished = services.assignment_start(survey=survey, external_id="done")
    for trial in survey.trials.all():
        services.response_record(
            assignment=finished, trial_id=trial.pk, answer=trial.correct, idempotency_key=str(trial.pk)
        )
    unfinished = services.assignment_start(survey=survey, external_id="half")
    first = survey.trials.first()
    services.response_record(assignment=unfinished, trial_id=first.pk, answer=first.correct, idempotency_key="k")
    frame = judgements(survey.study)
    assert set(frame.worker) == {"done"}
    assert sorted(frame.shown_position) == list(range(1, survey.trials.count() + 1))
    assert set(frame.target_side) <= {"left", "right"}
    flips = {e["trial"]: e["flip"] for e in finished.sequence}
    for row in frame.itertuples():
        assert row.answer_shown == row.answer ^ flips[row.trial]
        assert row.target_side == ("left", "right")[row.correct_answer ^ flips[row.trial]]
    results = study_results(survey.study)
    assert (results["assignments_done"], results["assignments_in_progress"]) == (1, 1)
    by_side = {b["side"]: b for b in results["order_effects"]["by_side"]}
    assert sum(b["n"] for b in by_side.values()) == len(frame[~frame.attention_check])
    assert all(b["accuracy"] == 1.0 for b in results["order_effects"]["by_position"])


def test_every_judgement_exports_as_triplets_naming_the_images_and_the_worker(paired_iris, survey):
    from analysis.selectors import study_triplets
    from inversion.models import IRI

    two_afc = services.assignment_start(survey=survey, external_id="w2")
    for trial in survey.trials.all():
        services.response_record(
            assignment=two_afc, trial_id=trial.pk, answer=trial.correct, idempotency_key=str(trial.pk)
        )
    triplets = study_triplets(survey.study)
    scored = triplets[~triplets.attention_check]
    assert len(triplets) == survey.trials.count() and set(triplets.worker) == {"w2"}
    for row in scored.itertuples():  # the IRI was judged closer to its target than to its seed
        iri = IRI.objects.get(stimulus_id=row.reference)
        assert (row.closer, row.farther) == (iri.target.stimulus_id, iri.seed_id)
    clustering = services.survey_open(
        survey=services.survey_assemble(
            study=survey.study, name="c", jobs=[paired_iris[0].job], kind="cluster-random", n_trials=None, seed=2
        )
    )
    worker = services.assignment_start(survey=clustering, external_id="wc")
    for trial in clustering.trials.all():
        services.response_record(
            assignment=worker, trial_id=trial.pk, answer=trial.correct, idempotency_key=str(trial.pk)
        )
    rows = study_triplets(survey.study)
    rows = rows[(rows.worker == "wc") & ~rows.attention_check]
    assert len(rows) == 6 * 2 * clustering.n_trials  # each row against the two other columns
    assert (rows.closer != rows.farther).all() and rows.closer_sha256.str.len().eq(64).all()
