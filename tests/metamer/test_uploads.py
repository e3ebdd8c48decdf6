"""Uploaded files are stored under names Metamer makes."""

import re

from metamer.uploads import CHECKPOINT, INSTRUCTION_IMAGE


def test_an_upload_keeps_none_of_its_name_and_only_an_expected_extension():
    assert re.fullmatch(r"checkpoints/[0-9a-f]{32}\.pt", CHECKPOINT(None, "x.html"))
    assert re.fullmatch(r"checkpoints/[0-9a-f]{32}\.safetensors", CHECKPOINT(None, "My Net.SAFETENSORS"))
    assert re.fullmatch(r"stimuli/instructions/[0-9a-f]{32}\.jpg", INSTRUCTION_IMAGE(None, "../../a b.JPG"))
    assert re.fullmatch(r"stimuli/instructions/[0-9a-f]{32}\.png", INSTRUCTION_IMAGE(None, "page.svg"))


def test_two_uploads_of_one_name_get_two_names():
    assert CHECKPOINT(None, "w.pt") != CHECKPOINT(None, "w.pt")


def test_a_stored_file_is_read_from_its_own_path_or_a_copy_where_storage_has_none(tmp_path):
    from django.core.files.base import ContentFile, File
    from django.core.files.storage import FileSystemStorage
    from django.db.models.fields.files import FieldFile

    from inversion.models import ModelSpec
    from metamer.uploads import local_path

    class Remote(FileSystemStorage):
        """Object storage, as far as callers can tell: files open, but no path on this machine."""

        def path(self, name):
            raise NotImplementedError

        def _open(self, name, mode="rb"):
            return File(open(FileSystemStorage.path(self, name), mode))

    field = ModelSpec._meta.get_field("checkpoint")
    for storage, own in (
        (FileSystemStorage(location=tmp_path / "local"), True),
        (Remote(location=tmp_path / "s3"), False),
    ):
        stored = FieldFile(ModelSpec(), field, None)
        stored.name = FileSystemStorage(location=storage.location).save("checkpoints/weights.pt", ContentFile(b"x"))
        stored.storage = storage
        with local_path(stored) as path:
            assert path.read_bytes() == b"x"
            assert path.name == "weights.pt"
            assert path.is_relative_to(tmp_path / "local") == own
    with local_path(ModelSpec().checkpoint) as nothing:
        assert nothing is None
