import io

import pytest
from django.core.management import CommandError, call_command

from analysis.models import Report
from surveys.models import Response


def test_lpips_distance_prints_the_distance_as_its_last_word(shared_dir):
    folder = shared_dir / "data" / "lpips-reference"
    out = io.StringIO()
    call_command(
        "lpips_distance", str(folder / "ex_ref.png"), str(folder / "ex_p1.png"), "--variant", "alex-lin", stdout=out
    )
    assert round(float(out.getvalue().split()[-1]), 3) == 0.138


def test_lpips_distance_names_a_size_mismatch(tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "a.png")
    Image.new("RGB", (64, 32)).save(tmp_path / "b.png")
    with pytest.raises(CommandError, match="differ in size"):
        call_command("lpips_distance", str(tmp_path / "a.png"), str(tmp_path / "b.png"))


@pytest.mark.django_db(transaction=True)
def test_demo_runs_end_to_end_on_packaged_images(tmp_path, monkeypatch):
    from analysis.management.commands import demo

    monkeypatch.setattr(demo, "SHARED_CIFAR", tmp_path / "absent.tar")  # must not need ../shared
    out = io.StringIO()
    call_command(
        "demo",
        "--n-images",
        "3",
        "--n-noise",
        "1",
        "--size",
        "64",
        "--steps",
        "10",
        "--workers",
        "2",
        stdout=out,
        stderr=io.StringIO(),
    )
    report = Report.objects.get()
    assert "Report:" in out.getvalue()
    assert "log in as demo" in out.getvalue()
    assert report.summary["excluded_workers"] == ["careless-bot"]
    conditions = {
        ("(early)" in r["condition"], r["condition"].rsplit(" / ", 1)[1]) for r in report.summary["conditions"]
    }
    assert conditions == {(e, t) for e in (True, False) for t in ("image targets", "noise targets")}
    assert all(r["condition"].startswith("EfficientNet-Lite0") for r in report.summary["conditions"])
    assert all(not r["lpips_circular"] for r in report.summary["conditions"])
    assert report.summary["participants"] == "simulated participants"
    assert "simulated participants judge" in report.summary["verdict"]
    assert "people judge" not in report.summary["verdict"]
    assert Response.objects.filter(assignment__participant__external_id="lpips-alex-lin").count() > 0
