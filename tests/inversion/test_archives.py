"""Decoding is bounded: an archive of images just under the pixel limit (a 2 MB zip can hold
twenty 6300×6300 PNGs) is read one image at a time, and its peak memory does not grow with it."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from inversion import archives

ROOT = Path(__file__).resolve().parents[2]
PEAK = """
import resource, sys
from inversion import archives
from science import images
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
names = archives.image_members(sys.argv[1])
fitted = [(label, images.fit(image, 224)) for label, image in archives.load_members(sys.argv[1], names)]
print(len(fitted), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""


def test_an_archive_of_huge_images_is_decoded_within_a_fixed_memory_budget(tmp_path):
    path = tmp_path / "huge.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(6):
            buffer = io.BytesIO()
            Image.new("RGBA" if i % 2 else "RGB", (6300, 6300), (i, 0, 0)).save(buffer, "PNG")
            archive.writestr(f"{i}.png", buffer.getvalue())
    assert path.stat().st_size < 2_000_000
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    count, grown_mb = map(int, done.stdout.split())
    assert count == 6 and grown_mb < 500, f"decoding grew the process by {grown_mb} MB"


def test_an_archive_whose_images_add_up_past_the_pixel_budget_is_refused(tmp_path, monkeypatch):

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (100, 100), (i, 0, 0)).save(folder / f"{i}.png")
    monkeypatch.setattr(archives, "MAX_ARCHIVE_PIXELS", 25_000)
    loaded = archives.load_members(folder, archives.image_members(folder))
    assert next(loaded)[1].size == (100, 100) and next(loaded)
    with pytest.raises(archives.ImageError, match="add up to more than 25,000 pixels"):
        next(loaded)
