"""A study exported, the database and media emptied, the archive imported: the same rows, the
same files, the same report numbers."""

import json
import shutil
import zipfile

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from analysis.services import report_build, study_export, study_import
from metamer.errors import MetamerError
from surveys import services
from surveys.models import AuditEntry, Response, Study
from tests.factories import StudyFactory

# Transactional: flushing the database (a fresh instance) cannot happen inside a test's transaction on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)


def _numbers(report) -> dict:
    summary = dict(report.summary)
    return {k: v for k, v in summary.items() if k not in {"created_at"}}


@pytest.fixture
def answered(two_conditions):
    study = StudyFactory(name="round trip")
    survey = services.survey_open(
        survey=services.survey_assemble(
            study=study, name="s", jobs=two_conditions, n_trials=None, seed=1, workers_per_survey=4
        )
    )
    for worker, flip in (("w1", False), ("w2", True), ("w3", False)):
        assignment = services.assignment_start(survey=survey, external_id=worker)
        for t in survey.trials.all():
            answer = 1 - t.correct if flip and t.pk % 2 else t.correct
            services.response_record(assignment=assignment, trial_id=t.pk, answer=answer, idempotency_key=str(t.pk))
    return study


def test_an_exported_study_restores_on_an_empty_instance_with_identical_report_numbers(answered, tmp_path):
    before = _numbers(report_build(study=answered))
    answers = sorted(Response.objects.values_list("pk", "assignment_id", "trial_id", "answer"))
    archive = tmp_path / "study.zip"
    call_command("study_export", "round trip", str(archive))
    manifest = json.loads(zipfile.ZipFile(archive).read("manifest.json"))
    assert manifest["rows"]["surveys.Response"] == len(answers) and manifest["files"]

    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(settings.MEDIA_ROOT)
    assert not Study.objects.exists()
    call_command("study_import", str(archive))

    study = Study.objects.get(name="round trip")
    assert sorted(Response.objects.values_list("pk", "assignment_id", "trial_id", "answer")) == answers
    assert AuditEntry.objects.filter(study=study, reason__startswith="imported from an archive").exists()
    assert _numbers(report_build(study=study)) == before
    # New rows after the restore take ids after the restored ones.
    assert StudyFactory().pk > study.pk


def test_an_import_over_the_same_rows_or_a_damaged_archive_stores_nothing(answered, tmp_path):
    archive = tmp_path / "study.zip"
    study_export(study=answered, path=archive)
    with pytest.raises(MetamerError, match="already holds"):
        study_import(path=archive, actor="test")
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data + b" " if item.filename.startswith("media/") else data)
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(settings.MEDIA_ROOT)
    with pytest.raises(MetamerError, match="does not match its checksum"):
        study_import(path=damaged, actor="test")
    assert not Study.objects.exists() and not any(p.is_file() for p in settings.MEDIA_ROOT.rglob("*"))
    not_zip = tmp_path / "not.zip"
    not_zip.write_bytes(b"PK but not really")
    with pytest.raises(CommandError, match="not a study archive"):
        call_command("study_import", str(not_zip))
