"""A catalogue of hostile and broken inputs per surface. Each must get a 4xx with a message
that says what to fix, and leave no row or file behind. Runs on SQLite and (in the Makefile's
second pass) on PostgreSQL, whose column checks differ."""

import csv
import io
import json
import struct
import tarfile
import zipfile
import zlib

import pytest
import torch
from django.urls import reverse

from inversion.models import ModelSpec, Stimulus, TargetSet
from metamer.errors import MetamerError
from surveys import services
from surveys.models import Assignment, Participant, Response

pytestmark = pytest.mark.django_db

ANSWER_BODIES = {
    "a list": b"[1, 2]",
    "a string": b'"hello"',
    "null": b"null",
    "not JSON": b"{trial: 1",
    "trial null": {"trial": None, "answer": 0, "idempotency_key": "k"},
    "trial a list": {"trial": [1], "answer": 0, "idempotency_key": "k"},
    "trial 1e400": b'{"trial": 1e400, "answer": 0, "idempotency_key": "k"}',
    "trial negative": {"trial": -5, "answer": 0, "idempotency_key": "k"},
    "response_ms 1e30": {"answer": 0, "idempotency_key": "k", "response_ms": 1e30},
    "response_ms Infinity": b'{"trial": TRIAL, "answer": 0, "idempotency_key": "k", "response_ms": Infinity}',
    "response_ms 2^40": {"answer": 0, "idempotency_key": "k", "response_ms": 2**40},
    "response_ms text": {"answer": 0, "idempotency_key": "k", "response_ms": "soon"},
    "NUL in the key": {"answer": 0, "idempotency_key": "k\x00"},
    "key too long": {"answer": 0, "idempotency_key": "k" * 65},
    "no key": {"answer": 0},
    "viewing 9 MB": {"answer": 0, "idempotency_key": "k", "viewing": {"x": "v" * 9_000_000}},
    "viewing with NUL": {"answer": 0, "idempotency_key": "k", "viewing": {"x": "\x00"}},
    "viewing a list": {"answer": 0, "idempotency_key": "k", "viewing": [1]},
    "answer out of range": {"answer": 7, "idempotency_key": "k"},
    "answer a dict": {"answer": {"a": 1}, "idempotency_key": "k"},
    "answer a huge list": {"answer": list(range(1000)), "idempotency_key": "k"},
    "trial a superscript digit": {"trial": "²", "answer": 0, "idempotency_key": "k"},
    "trial an Arabic-Indic digit": {"trial": "٣", "answer": 0, "idempotency_key": "k"},
    "key with a line separator": {"answer": 0, "idempotency_key": "k\u2028"},
    "key with a C1 control": {"answer": 0, "idempotency_key": "k\x85"},
}


@pytest.mark.parametrize("case", list(ANSWER_BODIES))
def test_the_answer_endpoint_refuses_with_a_4xx_and_stores_nothing(client, survey, case):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    trial = assignment.sequence[0]["trial"]
    body = ANSWER_BODIES[case]
    if isinstance(body, dict):
        body = json.dumps({"trial": trial, **body}).encode()
    body = body.replace(b"TRIAL", str(trial).encode())
    reply = client.post(reverse("surveys:answer", args=[assignment.token]), body, content_type="application/json")
    assert 400 <= reply.status_code < 500, (case, reply.status_code)
    assert reply.json()["detail"]
    assert Response.objects.count() == 0


PARTICIPANT_IDS = {
    "NUL": "w\x00",
    "a line separator first": "\u2028=1+1",
    "a plain link's place": "link-1",
    "5,000 characters": "w" * 5000,
    "a line break": "w\n1",
}


@pytest.mark.parametrize("case", list(PARTICIPANT_IDS))
def test_arrivals_with_broken_ids_are_refused_and_store_nothing(client, survey, case):
    reply = client.post(reverse("surveys:landing", args=[survey.uuid]), {"pid": PARTICIPANT_IDS[case]})
    assert 400 <= reply.status_code < 500 and "participant" in reply.content.decode().lower()
    assert Participant.objects.count() == Assignment.objects.count() == 0


def test_a_participant_id_like_a_formula_is_defused_in_the_export(survey):
    from analysis.services import report_build

    assignment = services.assignment_start(survey=survey, external_id='=HYPERLINK("http://x")')
    for t in survey.trials.all():
        services.response_record(assignment=assignment, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk))
    report = report_build(study=survey.study)
    lines = report.csv.read().decode().splitlines()
    assert all(line.startswith("\"'=HYPERLINK") for line in lines[1:])


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _bad_crc_zip() -> bytes:
    data = bytearray(_zip({"a/1.png": _png()}))
    at = data.index(b"IEND")  # corrupt the stored (uncompressed) member's bytes
    data[at] ^= 0xFF
    return bytes(data)


def _encrypted_zip() -> bytes:
    data = bytearray(_zip({"a/1.png": _png()}))
    # Set the "encrypted" flag bit in the local and the central header.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1
    return bytes(data)


def _tar(symlink: bool = False, truncate: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        png = _png()
        info = tarfile.TarInfo("a/1.png")
        info.size = len(png)
        tf.addfile(info, io.BytesIO(png))
        if symlink:
            link = tarfile.TarInfo("a/2.png")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tf.addfile(link)
    data = buffer.getvalue()
    return data[:700] if truncate else data


def _zip_claiming_a_huge_member() -> bytes:
    data = bytearray(_zip({"a/1.png": _png()}))
    at = data.index(b"PK\x01\x02") + 24  # the central directory's uncompressed size
    data[at : at + 4] = struct.pack("<I", 2**31)
    return bytes(data)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n"

UPLOADS = {
    "not an image": ("notes.png", b"just text", "not a readable image"),
    "a 30,000 × 30,000 PNG (decompression bomb)": ("bomb.png", _png_header(30_000, 30_000), "pixels"),
    "an empty zip": ("empty.zip", _zip({}), "no image files"),
    "a zip of text": ("text.zip", _zip({"a.txt": b"hi"}), "no image files"),
    "a zip with a bad CRC": ("crc.zip", _bad_crc_zip(), "Bad CRC"),
    "an encrypted zip": ("locked.zip", _encrypted_zip(), "encrypted"),
    "a zip claiming a 2 GiB member": ("claims.zip", _zip_claiming_a_huge_member(), "larger than 20 MiB"),
    "a tar with a symlink": ("link.tar", _tar(symlink=True), "links or special files"),
    "a truncated tar": ("cut.tar", _tar(truncate=True), "not a complete .tar"),
    "a path-traversal name": ("../../etc/passwd", b"x", "not a folder, .zip or .tar"),
    # Pillow picks a decoder by content; EPS would hand the bytes to Ghostscript.
    "EPS bytes named .png": ("photo.png", EPS, "not a readable image"),
    "a zip of EPS named .png": ("eps.zip", _zip({"a/1.png": EPS}), "not a readable image"),
}


@pytest.mark.parametrize("case", list(UPLOADS))
def test_bad_uploads_are_refused_naming_the_file_and_store_nothing(admin_client, settings, case):
    name, data, reason = UPLOADS[case]
    upload = io.BytesIO(data)
    upload.name = name
    reply = admin_client.post("/api/target-sets/", {"name": "t", "image_size": 16, "archive": upload})
    assert 400 <= reply.status_code < 500, (case, reply.status_code)
    detail = reply.json()["detail"]
    # The uploaded file's own name, then the specific reason: never a temporary path or a repr.
    assert detail.startswith(f"{name.rsplit('/', 1)[-1]}: ") and reason in detail, detail
    assert "/tmp" not in detail and "object at 0x" not in detail
    assert TargetSet.objects.count() == Stimulus.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def _checkpoint(tmp_path, state) -> str:
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("case", ["a scalar head", "a head claiming 10^9 classes", "not a state dict"])
def test_bad_checkpoints_are_refused_before_anything_is_built(tmp_path, case):
    import torchvision

    from inversion import services as inversion_services

    state = torchvision.models.resnet18(num_classes=10).state_dict()
    if case == "a scalar head":
        state["fc.weight"] = torch.tensor(1.0)
    elif case == "a head claiming 10^9 classes":
        state["fc.weight"] = torch.zeros(1, 512).expand(10**9, 512)
    else:
        state = {"weights": [1, 2, 3]}
    with pytest.raises(MetamerError) as refused:
        inversion_services.model_spec_register(
            name="m", source="torchvision", architecture="resnet18", checkpoint=_checkpoint(tmp_path, state)
        )
    assert refused.value.message
    assert not ModelSpec.objects.exists()


def test_the_debug_page_hides_credentials_in_urls(settings):
    from django.views.debug import get_default_exception_reporter_filter

    settings.CELERY_BROKER_URL = "redis://:hunter2@redis:6379/0"
    shown = get_default_exception_reporter_filter().get_safe_settings()
    assert "hunter2" not in json.dumps(shown, default=str)


def test_a_retried_last_answer_submits_an_assignment_a_crash_left_started(survey):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    trials = list(survey.trials.all())
    for t in trials:
        services.response_record(assignment=assignment, trial_id=t.pk, answer=t.correct, idempotency_key=str(t.pk))
    # The server died after storing the last answer and before submitting.
    Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.STARTED, submitted_at=None)
    assignment.refresh_from_db()
    last = trials[-1]
    _, created = services.response_record(
        assignment=assignment, trial_id=last.pk, answer=last.correct, idempotency_key=str(last.pk)
    )
    assignment.refresh_from_db()
    assert not created and assignment.status == Assignment.Status.SUBMITTED


ANSWER_POSTS = {
    "an 11 MB body": ("application/json", b'{"pad": "' + b"x" * 11 * 2**20 + b'"}'),
    "JSON sent as text/plain": ("text/plain", b'{"trial": TRIAL, "answer": 0, "idempotency_key": "k"}'),
    "JSON sent as XML": ("application/xml", b"<answer trial='TRIAL'>0</answer>"),
    "a form with no fields": ("application/x-www-form-urlencoded", b""),
    "a form with a non-number trial": ("application/x-www-form-urlencoded", b"trial=abc&answer=0&idempotency_key=k"),
}


@pytest.mark.parametrize("case", list(ANSWER_POSTS))
def test_answers_of_the_wrong_size_or_type_are_refused_saying_why(client, survey, case):
    assignment = services.assignment_start(survey=survey, external_id="w1")
    content_type, body = ANSWER_POSTS[case]
    body = body.replace(b"TRIAL", str(assignment.sequence[0]["trial"]).encode())
    reply = client.post(reverse("surveys:answer", args=[assignment.token]), body, content_type=content_type)
    assert 400 <= reply.status_code < 500, (case, reply.status_code)
    assert reply.json()["detail"]
    assert Response.objects.count() == 0


def _api_client(*, staff: bool, csrf: bool = False):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user(f"u{staff}", password="pw-unused-123", is_staff=staff)
    # Every permission: what is refused is refused for the credentials, not for a missing permission.
    user.user_permissions.set(Permission.objects.all())
    client = APIClient(enforce_csrf_checks=csrf)
    if csrf:
        client.force_login(user)  # a browser session, and no CSRF token
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


API_WRITES = {
    "a model spec": ("/api/model-specs/", {"name": "m", "architecture": "alexnet-imagenet", "layer": "3"}),
    "a noise target set": ("/api/target-sets/", {"name": "t", "image_size": 16, "noise": 2, "noise_law": "uniform"}),
}


@pytest.mark.parametrize("who", ["no token", "a non-staff token", "a staff session without CSRF", "a bad token"])
@pytest.mark.parametrize("what", list(API_WRITES))
def test_api_writes_without_the_right_credentials_are_refused_and_store_nothing(who, what):
    from rest_framework.test import APIClient

    if who == "no token":
        client = APIClient()
    elif who == "a bad token":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    else:
        client = _api_client(staff=who != "a non-staff token", csrf=who == "a staff session without CSRF")
    url, body = API_WRITES[what]
    reply = client.post(url, body, format="json")
    assert reply.status_code in (401, 403), (who, what, reply.status_code)
    assert reply.json()["detail"]
    assert ModelSpec.objects.count() == TargetSet.objects.count() == 0


def test_api_reads_with_a_non_staff_token_are_refused():
    client = _api_client(staff=False)
    for url in ("/api/model-specs/", "/api/studies/", "/api/responses/", "/api/reports/"):
        assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("content_type", ["application/xml", "text/plain"])
def test_api_bodies_of_an_unknown_type_are_refused(admin_client, content_type):
    reply = admin_client.post("/api/model-specs/", "<spec name='m'/>", content_type=content_type)
    assert reply.status_code == 415 and "Unsupported media type" in reply.json()["detail"]
    assert ModelSpec.objects.count() == 0


ALIGNMENT_CONFIGS = {
    "an unknown setting": {"models": ["alexnet-random"], "speed": "max"},
    "models as a string": {"models": "alexnet-random"},
    "no models": {"models": []},
    "an unknown model": {"models": ["resnet9000"]},
    "an unknown layer": {"models": ["alexnet-random"], "layer": "fc99"},
    "a layer with NUL": {"models": ["alexnet-random"], "layer": "1\x00"},
    "a metric nobody knows": {"models": ["alexnet-random"], "metric": "euclid"},
    "a negative bootstrap": {"models": ["alexnet-random"], "bootstrap": -1},
    "a billion resamples": {"models": ["alexnet-random"], "bootstrap": 10**9},
    "a bootstrap in words": {"models": ["alexnet-random"], "bootstrap": "many"},
    "a seed of 2^70": {"models": ["alexnet-random"], "seed": 2**70},
    "shots without a probe set": {"models": ["alexnet-random"], "probe_shots": [1, 5]},
    "shots in words": {"models": ["alexnet-random"], "probe_shots": ["five"]},
    "a config that is a list": ["alexnet-random"],
}


@pytest.mark.parametrize("case", list(ALIGNMENT_CONFIGS))
def test_alignment_runs_with_bad_settings_are_refused_and_store_nothing(admin_client, case):
    from analysis.models import AlignmentRun
    from inversion import services as inversion_services
    from surveys.services import similarity_data_import

    image_set = inversion_services.target_set_create_noise(name="n", n=4, law="normal-0-1", image_size=16, seed=0)
    data = similarity_data_import(name="d", image_set=image_set, matrices=1 - torch.eye(4).numpy())
    body = {"human": data.pk, "config": ALIGNMENT_CONFIGS[case]}
    reply = admin_client.post("/api/alignment-runs/", body, content_type="application/json")
    assert reply.status_code == 400, (case, reply.status_code, reply.content)
    assert reply.json()
    assert AlignmentRun.objects.count() == 0


ADMIN_FORMS = {
    "a model spec with an unknown architecture": (
        "/admin/inversion/modelspec/add/",
        {"name": "m", "source": "builtin", "architecture": "resnet9000", "layer": "", "input_size": 64},
        ModelSpec,
    ),
    "a model spec with mean of two channels": (
        "/admin/inversion/modelspec/add/",
        {"name": "m", "source": "builtin", "architecture": "alexnet-imagenet", "mean": "[0.5, 0.5]", "input_size": 64},
        ModelSpec,
    ),
    "a target set with nothing to import": (
        "/admin/inversion/targetset/add/",
        {"name": "t", "image_size": 16},
        TargetSet,
    ),
}


@pytest.mark.parametrize("case", list(ADMIN_FORMS))
def test_admin_forms_refuse_bad_input_on_the_form_and_store_nothing(admin_client, case):
    url, data, model = ADMIN_FORMS[case]
    reply = admin_client.post(url, data)
    assert reply.status_code == 200 and reply.context["adminform"].form.errors, (case, reply.status_code)
    assert model.objects.count() == 0


def test_admin_posts_without_a_csrf_token_are_refused(admin_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    url, data, model = ADMIN_FORMS["a model spec with mean of two channels"]
    reply = browser.post(url, {**data, "mean": ""})
    assert reply.status_code == 403
    assert model.objects.count() == 0


NUL_ADDRESSES = [
    "/a/%00/trial.json",
    "/a/tok%00en/",
    "/s/{uuid}/?link=%00",
    "/s/{uuid}/?pid=w%00",
    "/admin/surveys/assignment/?q=%00",
    "/api/iris/?job=%00",
]


@pytest.mark.parametrize("address", NUL_ADDRESSES)
def test_a_nul_anywhere_in_the_address_is_a_400_before_any_database(admin_client, survey, address):
    reply = admin_client.get(address.format(uuid=survey.uuid))
    assert reply.status_code == 400, (address, reply.status_code)
    assert Participant.objects.count() == 0


@pytest.mark.parametrize("job", ["²", "١", "99999999999999999999999", "-1", "1.0"])
def test_a_job_filter_that_is_not_an_id_is_a_400(admin_client, job):
    reply = admin_client.get(f"/api/iris/?job={job}")
    assert reply.status_code == 400 and reply.json()["field"] == "job"


@pytest.mark.parametrize("cell", ["＝1+1", " =1+1", "\u00a0@SUM(A1)", "\u2028=1", "－2+3", "\n=1"])
def test_the_formula_guard_sees_through_spaces_and_full_width_signs(cell):
    import pandas as pd

    from analysis.services.reports import spreadsheet_safe_csv

    written = spreadsheet_safe_csv(pd.DataFrame({"worker": [cell], "n": [-3]})).decode()
    row = list(csv.reader(io.StringIO(written)))[1]
    assert row == ["'" + cell, "-3"]  # defused, and numbers are left alone


def _npy(array) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_claiming(shape: str) -> bytes:
    header = ("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }").encode()
    header += b" " * (118 - len(header)) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 64


def _npz() -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, a=np.zeros((4, 4)))
    return buffer.getvalue()


SIMILARITY_FILES = {
    ".npy of strings": ("matrices", "m.npy", lambda: _npy(__import__("numpy").array([["a", "b"], ["c", "d"]]))),
    "a header claiming 10^12 values": ("matrices", "m.npy", lambda: _npy_claiming("(1000000, 1000000)")),
    "an .npz named .npy": ("matrices", "m.npy", _npz),
    "128 zero bytes as .mat": ("matrices", "m.mat", lambda: b"\x00" * 128),
    "a CSV that is not numbers": ("matrices", "m.csv", lambda: b"a,b\nc,d\n"),
    "a 30-digit index": ("triplets", "t.csv", lambda: b"i,j,k,choice\n" + b"1" * 30 + b",1,2,1\n"),
    "triplets without a header": ("triplets", "t.csv", lambda: b"0,1,2,1\n"),
    "binary as triplets": ("triplets", "t.csv", lambda: b"\xff\xfe\x00\x01"),
}


@pytest.mark.parametrize("case", list(SIMILARITY_FILES))
def test_similarity_files_are_checked_before_loading_and_store_nothing(case):
    from surveys.models import SimilarityData

    kind, filename, data = SIMILARITY_FILES[case]
    from inversion import services as inversion_services

    images = inversion_services.target_set_create_noise(name="set", n=4, law="normal-0-1", image_size=16, seed=0)
    with pytest.raises(MetamerError) as refused:
        services.similarity_data_upload(
            name="d", kind=kind, file=io.BytesIO(data()), filename=filename, image_set=images
        )
    assert refused.value.message.startswith(filename) and refused.value.field == "file"
    assert not SimilarityData.objects.exists()


def test_two_identical_people_store_a_null_reliability_not_nan():
    import numpy as np

    from inversion import services as inversion_services

    images = inversion_services.target_set_create_noise(name="set", n=5, law="normal-0-1", image_size=16, seed=0)
    one = np.abs(np.random.default_rng(0).normal(size=(5, 5)))
    one = (one + one.T) / 2
    np.fill_diagonal(one, 0)
    data = services.similarity_data_import(name="twins", image_set=images, matrices=np.stack([one, one]))
    data.refresh_from_db()
    assert json.dumps(data.reliability, allow_nan=False)  # no NaN reaches a JSON column
