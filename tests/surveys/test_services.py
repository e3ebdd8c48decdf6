import numpy as np
import pytest
from django.db import connection

from inversion.models import LpipsJudgement
from metamer.errors import MetamerError
from science.images import read_image
from science.perceptual import lpips_distance
from surveys import services
from surveys.models import Assignment, Response, Survey, Trial
from tests.factories import IRIFactory, StudyFactory

pytestmark = pytest.mark.django_db


def _layout(survey):
    return [
        (t.is_attention_check, t.iri_id, t.correct, [s.stimulus_id for s in t.slots.order_by("role", "index")])
        for t in survey.trials.order_by("position")
    ]


def test_2afc_trials_show_the_iri_against_its_target_and_seed(survey, iris):
    trials = survey.trials.filter(is_attention_check=False)
    assert trials.count() == 20
    for trial in trials:
        query = trial.slots.get(role="query").stimulus
        options = [s.stimulus for s in trial.slots.filter(role="option").order_by("index")]
        assert query == trial.iri.stimulus
        assert options[trial.correct] == trial.iri.target.stimulus
        assert options[1 - trial.correct] == trial.iri.seed
    # Sides are randomised.
    assert {t.correct for t in trials} == {0, 1}


def test_attention_checks_repeat_the_query_among_the_options(survey):
    checks = survey.trials.filter(is_attention_check=True)
    assert checks.count() == 1  # 5 per 100 trials, at least one
    for trial in checks:
        query = trial.slots.get(role="query").stimulus
        options = [s.stimulus for s in trial.slots.filter(role="option").order_by("index")]
        assert options[trial.correct] == query


def test_the_same_seed_rebuilds_the_same_survey(iris):
    study = StudyFactory()
    a = services.survey_assemble(study=study, name="a", jobs=[iris[0].job], n_trials=10, n_attention_checks=3, seed=9)
    b = services.survey_assemble(study=study, name="b", jobs=[iris[0].job], n_trials=10, n_attention_checks=3, seed=9)
    c = services.survey_assemble(study=study, name="c", jobs=[iris[0].job], n_trials=10, n_attention_checks=3, seed=10)
    assert _layout(a) == _layout(b)
    assert _layout(a) != _layout(c)


def test_unconverged_iris_are_left_out_unless_asked_for(db):
    job = IRIFactory(converged=False, rep_distance=0.3).job
    with pytest.raises(MetamerError, match="no converged IRIs"):
        services.survey_assemble(study=StudyFactory(), name="s", jobs=[job], n_trials=None)
    assert not Survey.objects.exists()
    survey = services.survey_assemble(
        study=StudyFactory(), name="s", jobs=[job], n_trials=None, include_unconverged=True
    )
    assert survey.trials.filter(is_attention_check=False).count() == 1


def test_too_many_trials_is_refused_with_the_count(iris):
    with pytest.raises(MetamerError, match="only 20 can be built"):
        services.survey_assemble(study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=50)


def _answer_all(assignment, survey, *, wrong_checks=False):
    for trial in survey.trials.order_by("position"):
        answer = trial.correct if not (wrong_checks and trial.is_attention_check) else 1 - trial.correct
        services.response_record(
            assignment=assignment, trial_id=trial.pk, answer=answer, idempotency_key=f"k{trial.pk}"
        )


def test_answers_are_idempotent_and_cannot_change(survey):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    trial = survey.trials.first()
    first, created = services.response_record(assignment=assignment, trial_id=trial.pk, answer=1, idempotency_key="abc")
    again, created_again = services.response_record(
        assignment=assignment, trial_id=trial.pk, answer=1, idempotency_key="abc"
    )
    assert created
    assert not created_again
    assert first.pk == again.pk
    with pytest.raises(MetamerError, match="already answered differently"):
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=0, idempotency_key="other")
    assert Response.objects.count() == 1
    assert Response.objects.get().correct == (trial.correct == 1)


@pytest.mark.django_db(transaction=True)
def test_answers_outside_any_transaction_are_idempotent_too(survey):
    # Web requests run in autocommit, where the insert is its own transaction (no savepoint).
    assert not connection.in_atomic_block
    assignment = services.assignment_start(survey=survey, external_id="w1")
    trial = survey.trials.first()
    services.response_record(assignment=assignment, trial_id=trial.pk, answer=1, idempotency_key="abc")
    _, created_again = services.response_record(
        assignment=assignment, trial_id=trial.pk, answer=1, idempotency_key="abc"
    )
    with pytest.raises(MetamerError, match="already answered differently"):
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=0, idempotency_key="other")
    # The refused repeat left the connection usable.
    assert not created_again
    assert Response.objects.filter(assignment=assignment).count() == 1


def test_bad_answers_are_refused_and_nothing_is_stored(survey):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    trial = survey.trials.first()
    with pytest.raises(MetamerError, match=r"0 .* or 1"):
        services.response_record(assignment=assignment, trial_id=trial.pk, answer=2, idempotency_key="a")
    with pytest.raises(MetamerError, match="no such trial"):
        services.response_record(assignment=assignment, trial_id=10**6, answer=0, idempotency_key="a")
    assert not Response.objects.exists()


def test_answering_the_last_trial_submits_and_then_answers_stop(survey):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    _answer_all(assignment, survey)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED
    assert assignment.submitted_at is not None
    assert assignment.responses.count() == Trial.objects.filter(survey=survey).count()


def test_a_participant_resumes_but_never_takes_a_second_survey_of_the_study(survey, iris):
    a = services.assignment_start(survey=survey, external_id="w1", session_key="browser-1")
    assert services.assignment_start(survey=survey, external_id="w1", session_key="browser-1").pk == a.pk
    other = services.survey_open(
        survey=services.survey_assemble(study=survey.study, name="t", jobs=[iris[0].job], n_trials=5, seed=1)
    )
    with pytest.raises(MetamerError, match="already taken part"):
        services.assignment_start(survey=other, external_id="w1", session_key="browser-1")


def test_a_draft_survey_takes_nobody(iris):
    draft = services.survey_assemble(study=StudyFactory(), name="d", jobs=[iris[0].job], n_trials=5)
    with pytest.raises(MetamerError, match="not taking answers"):
        services.assignment_start(survey=draft, external_id="w1")


def _clustering_layout(trial):
    columns = [s.stimulus for s in trial.slots.filter(role="column").order_by("index")]
    rows = [s.stimulus for s in trial.slots.filter(role="row").order_by("index")]
    return columns, rows


def test_random_clustering_rows_are_the_iris_of_their_columns_targets(paired_iris):
    job = paired_iris[0].job
    survey = services.survey_assemble(study=StudyFactory(), name="c", jobs=[job], kind="cluster-random", n_trials=None)
    trials = survey.trials.filter(is_attention_check=False)
    assert trials.count() == 3  # 9 targets -> 3 triples
    iri_of = {i.stimulus_id: i for i in paired_iris}
    for trial in trials:
        columns, rows = _clustering_layout(trial)
        assert (len(columns), len(rows)) == (3, 6)
        for row, column in zip(rows, trial.correct, strict=True):
            assert iri_of[row.pk].target.stimulus == columns[column]
        assert sorted(trial.correct) == [0, 0, 1, 1, 2, 2]
        assert trial.lpips_choices.count() == 4


def test_clustering_attention_check_copies_a_column_into_a_row(paired_iris):
    survey = services.survey_assemble(
        study=StudyFactory(),
        name="c",
        jobs=[paired_iris[0].job],
        kind="cluster-random",
        n_attention_checks=2,
        n_trials=None,
    )
    for trial in survey.trials.filter(is_attention_check=True):
        columns, rows = _clustering_layout(trial)
        assert rows[trial.check_row] == columns[trial.correct[trial.check_row]]


def test_hard_clustering_groups_each_anchor_with_its_most_similar_targets(paired_iris):
    job = paired_iris[0].job
    n = job.target_set.targets.count()
    # Targets 0-2, 3-5 and 6-8 are mutually similar.
    similarity = np.kron(np.eye(3), np.ones((3, 3)))
    survey = services.survey_assemble(
        study=StudyFactory(),
        name="h",
        jobs=[job],
        kind="cluster-hard",
        n_trials=None,
        similarity=similarity,
        similarity_name="toy.csv",
    )
    assert n == 9 and survey.similarity_source == "toy.csv"
    index_of = {t.stimulus_id: t.index for t in job.target_set.targets.all()}
    groups = sorted(
        sorted(index_of[c.pk] // 3 for c in _clustering_layout(t)[0])
        for t in survey.trials.filter(is_attention_check=False)
    )
    assert groups == [[0, 0, 0], [1, 1, 1], [2, 2, 2]]


def test_hard_clustering_falls_back_to_lpips_and_records_it(paired_iris):
    survey = services.survey_assemble(
        study=StudyFactory(), name="h", jobs=[paired_iris[0].job], kind="cluster-hard", n_trials=None
    )
    assert "LPIPS" in survey.similarity_source
    assert survey.trials.filter(is_attention_check=False).count() == 3


def test_clustering_answers_score_the_share_of_rows(paired_iris):
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="c", jobs=[paired_iris[0].job], kind="cluster-random", n_trials=None
        )
    )
    assignment = services.assignment_start(survey=survey, external_id="w")
    trial = survey.trials.filter(is_attention_check=False).first()
    answer = list(trial.correct)
    answer[0] = (answer[0] + 1) % 3
    answer[1] = (answer[1] + 1) % 3
    response, _ = services.response_record(assignment=assignment, trial_id=trial.pk, answer=answer, idempotency_key="a")
    assert response.score == pytest.approx(4 / 6)
    assert not response.correct
    with pytest.raises(MetamerError, match=r"a column .* for each of the 6 rows"):
        services.response_record(
            assignment=assignment, trial_id=survey.trials.last().pk, answer=[0, 1], idempotency_key="b"
        )


def test_clustering_needs_two_iris_per_target(iris):
    with pytest.raises(MetamerError, match="seeds_per_target=2"):
        services.survey_assemble(study=StudyFactory(), name="c", jobs=[iris[0].job], kind="cluster-random")


def test_similarity_matrix_upload_is_checked():
    matrix = services.similarity_matrix_load(data=b"1,0.5\n0.5,1\n", filename="m.csv", n_targets=2)
    assert matrix.shape == (2, 2)
    with pytest.raises(MetamerError, match="must be 3×3"):
        services.similarity_matrix_load(data=b"1,0.5\n0.5,1\n", filename="m.csv", n_targets=3)
    with pytest.raises(MetamerError, match="not a numeric CSV or NPY"):
        services.similarity_matrix_load(data=b"a,b\n", filename="m.csv", n_targets=1)


def test_retrying_the_last_answer_after_submission_returns_it(survey):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    _answer_all(assignment, survey)
    last = survey.trials.order_by("position").last()
    response, created = services.response_record(
        assignment=assignment, trial_id=last.pk, answer=last.correct, idempotency_key=f"k{last.pk}"
    )
    assert not created and response.trial == last
    other = survey.trials.exclude(pk=last.pk).first()
    Response.objects.filter(trial=other).delete()
    with pytest.raises(MetamerError, match="submitted"):
        services.response_record(assignment=assignment, trial_id=other.pk, answer=0, idempotency_key="new")


def test_trial_choices_reuse_stored_judgements_and_compute_the_rest(two_conditions):
    aligned, _ = two_conditions
    for iri in aligned.iris.all():  # stored values no network would give: proof they are reused
        LpipsJudgement.objects.create(iri=iri, variant="alex-lin", d_target=0.25, d_seed=0.75)
    survey = services.survey_assemble(
        study=StudyFactory(), name="s", jobs=[aligned], n_trials=None, n_attention_checks=2, seed=3
    )
    for trial in survey.trials.prefetch_related("slots__stimulus", "lpips_choices"):
        slots = {(s.role, s.index): s.stimulus for s in trial.slots.all()}
        options = [slots[("option", i)] for i in (0, 1)]
        choices = {c.variant: c for c in trial.lpips_choices.all()}
        stored = choices["alex-lin"].distances[0]
        if trial.is_attention_check:  # the query is the target itself: distance 0, computed for the seed
            assert stored[trial.correct] == 0 and stored[1 - trial.correct] > 0
        else:
            assert stored[trial.correct] == 0.25 and stored[1 - trial.correct] == 0.75
        assert choices["alex-lin"].choice == trial.correct
        query = read_image(slots[("query", 0)].image)
        expected = [lpips_distance(query, read_image(o.image), "vgg").item() for o in options]
        assert choices["vgg"].distances[0] == pytest.approx(expected, rel=1e-4, abs=1e-6)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_arrivals_take_exactly_three_places(iris):
    """Parallel requests against PostgreSQL (the Makefile's second pass); SQLite's writes are
    serialised by its IMMEDIATE transactions anyway."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent arrivals are checked on PostgreSQL (make test-services)")
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=StudyFactory(), name="s", jobs=[iris[0].job], n_trials=3, workers_per_survey=3
        )
    )

    def arrive(n: int) -> str:
        try:
            services.assignment_start(survey=survey, external_id=f"w{n}")
            return "in"
        except MetamerError as exc:
            return exc.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(arrive, range(20)))
    assert outcomes.count("in") == 3 and outcomes.count("full") == 17
    assert survey.assignments.count() == 3
    assert sorted(survey.assignments.values_list("ordinal", flat=True)) == [0, 1, 2]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_walk_ins_take_exactly_the_three_listed_places(iris):
    """Open entry on plain links: walk-ins through the bare address take listed places only."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent arrivals are checked on PostgreSQL (make test-services)")
    study = StudyFactory(open_entry=True)
    services.survey_assemble(study=study, name="s", jobs=[iris[0].job], n_trials=3, workers_per_survey=3)
    services.study_publish(study=study, base_url="http://lab.local")
    survey = study.surveys.get()

    def arrive(n: int) -> str:
        try:
            services.assignment_start(survey=survey, external_id=f"walk-in {n}")
            return "in"
        except MetamerError as exc:
            return exc.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(arrive, range(20)))
    assert outcomes.count("in") == 3 and outcomes.count("full") == 17
    assert sorted(survey.assignments.values_list("link_id", flat=True)) == sorted(
        survey.links.values_list("pk", flat=True)
    )


def test_a_survey_of_images_too_small_for_lpips_is_refused_saying_so():
    from inversion import services as inversion_services
    from inversion.config import InversionConfig

    spec = inversion_services.model_spec_register(name="v", architecture="vgg16-imagenet", layer="3", input_size=16)
    targets = inversion_services.target_set_create_noise(name="n", n=2, law="normal-0-1", image_size=16, seed=0)
    job = inversion_services.inversion_job_create(
        model_spec=spec, target_set=targets, config=InversionConfig(steps=1), enqueue=False
    )
    job = inversion_services.inversion_job_run(job_id=job.pk)
    with pytest.raises(MetamerError, match=r"at least 32×32 px .* these jobs' images are 16×16"):
        services.survey_assemble(study=StudyFactory(), name="s", jobs=[job], n_trials=None, include_unconverged=True)
    assert not Survey.objects.exists()


def test_complete_work_a_crash_left_started_is_submitted_never_expired(survey):
    from datetime import timedelta

    from django.utils import timezone

    complete = services.assignment_start(survey=survey, external_id="complete")
    for t in survey.trials.all():
        services.response_record(assignment=complete, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk))
    partial = services.assignment_start(survey=survey, external_id="partial")
    first = survey.trials.first()
    services.response_record(assignment=partial, trial_id=first.pk, answer=first.correct, idempotency_key="k")
    # The server died between the last answer and the submission, and nobody came back in time.
    long_ago = timezone.now() - timedelta(minutes=survey.minutes_allotted + 5)
    Assignment.objects.filter(pk=complete.pk).update(status=Assignment.Status.STARTED, submitted_at=None)
    Assignment.objects.filter(pk__in=[complete.pk, partial.pk]).update(started_at=long_ago)
    assert services.assignments_expire(survey=survey) == 1
    complete.refresh_from_db()
    partial.refresh_from_db()
    last = complete.responses.order_by("-created_at").first().created_at
    assert (complete.status, complete.submitted_at) == (Assignment.Status.SUBMITTED, last)
    assert partial.status == Assignment.Status.EXPIRED
    assert Response.objects.filter(assignment=partial).count() == 1  # kept, never counted
