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
