"""Who reads which media file, and how it is served (embedded mode)."""

import re

import pytest
import torch

pytestmark = pytest.mark.django_db

TRAVERSALS = [
    "/media/stimuli/../reports/study-1.html",
    "/media/stimuli/%2e%2e/reports/study-1.html",
    "/media/stimuli/..%2freports/study-1.html",
    "/media/stimuli/%2E%2E%2Freports/study-1.html",
    "/media/stimuli/./../reports/study-1.html",
    "/media/stimuli/2026/../../reports/study-1.html",
    "/media/stimuli//../reports/study-1.html",
    "/media/stimuli/../checkpoints/net.pt",
    "/media/stimuli/../../../etc/passwd",
]


@pytest.fixture
def files(settings):
    root = settings.MEDIA_ROOT
    for name, data in {
        "reports/study-1.html": b"<p>exit answers</p>",
        "reports/study-1-workers.csv": b"worker,exit\n",
        "checkpoints/net.pt": b"weights",
        "checkpoints/x.html": b"<script>alert(1)</script>",
        "stimuli/2026/12/iri-0123456789abcdef.png": b"png",
        "stimuli/page.html": b"<script>alert(1)</script>",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def test_private_media_needs_staff_and_stimuli_do_not(client, admin_client, files):
    assert client.get("/media/reports/study-1.html").status_code == 302  # to the login page
    assert client.get("/media/stimuli/2026/12/iri-0123456789abcdef.png").status_code == 200
    assert admin_client.get("/media/reports/study-1.html").status_code == 200


@pytest.mark.parametrize("url", TRAVERSALS)
def test_a_path_through_stimuli_is_judged_by_where_it_leads(client, files, url):
    reply = client.get(url)
    assert reply.status_code in (302, 404), (url, reply.status_code)
    assert b"exit answers" not in reply.content
    if reply.status_code == 302:
        assert "/admin/login/" in reply["Location"]


@pytest.mark.parametrize("url", ["/media/stimuli\\..\\reports\\study-1.html", "/media/.."])
def test_paths_no_stored_file_has_are_not_found(admin_client, files, url):
    assert admin_client.get(url).status_code == 404


def test_a_nul_in_a_media_path_is_refused_before_the_view(admin_client, files):
    assert admin_client.get("/media/stimuli/x%00.png").status_code == 400


def test_a_non_staff_login_cannot_read_private_media(client, files, django_user_model):
    user = django_user_model.objects.create_user("someone", password="x")
    client.force_login(user)
    assert client.get("/media/reports/study-1.html").status_code == 403


def test_only_images_under_stimuli_are_public(client, files):
    assert client.get("/media/stimuli/page.html").status_code == 302


def test_stimuli_are_served_as_images_that_cannot_be_sniffed_or_run(client, files):
    reply = client.get("/media/stimuli/2026/12/iri-0123456789abcdef.png")
    assert reply["Content-Type"] == "image/png"
    assert reply["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in reply["Content-Security-Policy"]


def test_an_uploaded_html_file_is_downloaded_never_rendered(admin_client, files):
    reply = admin_client.get("/media/checkpoints/x.html")
    assert reply.status_code == 200
    assert reply["Content-Type"] == "application/octet-stream"
    assert reply["Content-Disposition"].startswith("attachment")
    assert "sandbox" in reply["Content-Security-Policy"]


def test_reports_open_in_the_browser_under_a_policy_that_runs_no_script(admin_client, files):
    reply = admin_client.get("/media/reports/study-1.html")
    assert reply["Content-Type"].startswith("text/html")
    policy = reply["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy


def test_a_checkpoint_uploaded_as_html_is_stored_under_a_made_name_and_downloaded(admin_client, tmp_path):
    import torchvision

    from inversion import services as inversion_services

    path = tmp_path / "x.html"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), path)
    spec = inversion_services.model_spec_register(
        name="r18", source="torchvision", architecture="resnet18", checkpoint=path
    )
    assert re.fullmatch(r"checkpoints/[0-9a-f]{32}\.pt", spec.checkpoint.name)
    reply = admin_client.get(spec.checkpoint.url)
    assert reply["Content-Disposition"].startswith("attachment") and reply["X-Content-Type-Options"] == "nosniff"
