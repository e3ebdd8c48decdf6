"""Large uploads import in the background, chunk by chunk: progress shows, a killed import
resumes without leaving files behind, and a failed one removes everything it stored."""

import io
import zipfile

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from inversion import services
from inversion.config import InversionConfig
from inversion.models import Stimulus, Target, TargetSet
from inversion.services import imports
from metamer.errors import MetamerError
from tests.factories import ModelSpecFactory

pytestmark = pytest.mark.django_db


def _png(i: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (i % 256, (7 * i) % 256, (13 * i) % 256)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(n: int, broken_at: int | None = None) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            data = b"\x89PNG\r\n\x1a\n broken" if i == broken_at else _png(i)
            archive.writestr(f"{'cat' if i % 2 else 'dog'}/{i:03d}.png", data)
    return SimpleUploadedFile("photos.zip", buffer.getvalue(), content_type="application/zip")


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 16)
    monkeypatch.setattr("inversion.services.target_sets.INLINE_MAX", 10)


def _media_files() -> set[str]:
    root = settings.MEDIA_ROOT
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_a_large_upload_imports_in_the_background_in_chunks(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        target_set = services.target_set_create(name="big", image_size=16, archive=_zip(80))
    assert (target_set.status, target_set.total, target_set.targets.count()) == ("importing", 80, 0)
    assert target_set.upload.name.startswith("imports/") and target_set.upload.name.endswith(".zip")
    spec = ModelSpecFactory(input_size=16)
    with pytest.raises(MetamerError, match=r"still importing \(0/80 images\)"):
        services.inversion_job_create(model_spec=spec, target_set=target_set, config=InversionConfig(steps=1))
    for callback in queued:
        callback()
    target_set.refresh_from_db()
    assert (target_set.status, target_set.imported, target_set.targets.count()) == ("ready", 80, 80)
    labels = list(target_set.targets.values_list("label", flat=True))
    assert labels.count("cat") == labels.count("dog") == 40
    assert _media_files() == set(Stimulus.objects.values_list("image", flat=True))  # the archive is gone


def test_a_killed_import_resumes_and_leaves_no_stray_files(monkeypatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        target_set = services.target_set_create(name="big", image_size=16, archive=_zip(40))
    real, calls = Target.objects.create, []

    def dies_in_the_second_chunk(**fields):
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt  # the worker killed between the chunk's files and its rows
        return real(**fields)

    monkeypatch.setattr(Target.objects, "create", dies_in_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        services.target_set_import_run(target_set_id=target_set.pk)
    target_set.refresh_from_db()
    assert (target_set.status, target_set.imported, target_set.targets.count()) == ("importing", 16, 16)
    assert len(target_set.pending_files) == 16 and len(_media_files()) == 1 + 16 + 16
    monkeypatch.undo()
    services.target_set_import_run(target_set_id=target_set.pk)  # the task delivered again
    target_set.refresh_from_db()
    assert (target_set.status, target_set.targets.count()) == ("ready", 40)
    assert sorted(target_set.targets.values_list("index", flat=True)) == list(range(40))
    assert _media_files() == set(Stimulus.objects.values_list("image", flat=True))


def test_a_failed_import_says_why_and_keeps_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        target_set = services.target_set_create(name="big", image_size=16, archive=_zip(40, broken_at=37))
    target_set.refresh_from_db()
    assert target_set.status == "failed" and "cat/037.png" in target_set.message
    assert not Target.objects.exists() and not Stimulus.objects.exists() and not _media_files()
    assert TargetSet.objects.get().imported == 0


def test_an_import_the_queue_never_took_is_sent_again(django_capture_on_commit_callbacks, monkeypatch):
    from kombu.exceptions import OperationalError

    from inversion.tasks import run_target_set_import

    def unreachable(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(run_target_set_import, "delay", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        target_set = services.target_set_create(name="big", image_size=16, archive=_zip(12))
    assert TargetSet.objects.get().enqueued_at is None
    monkeypatch.undo()
    TargetSet.objects.filter(pk=target_set.pk).update(created_at=target_set.created_at.replace(year=2020))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.target_set_imports_send_unsent() == 1
    target_set.refresh_from_db()
    assert target_set.status == "ready" and target_set.enqueued_at is not None
