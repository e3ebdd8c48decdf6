"""Human similarity data: imports checked before anything is stored, reliability, one currency."""

import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from scipy.io import savemat
from scipy.spatial.distance import pdist, squareform

from inversion import services as inversion_services
from metamer.errors import MetamerError
from science import similarity as sim
from surveys import selectors, services
from surveys.models import SimilarityData

pytestmark = pytest.mark.django_db


@pytest.fixture
def image_set():
    return inversion_services.target_set_create_noise(name="five", n=5, law="normal-0-1", image_size=16, seed=0)


def _distances(n=5, seed=0):
    return squareform(pdist(np.random.default_rng(seed).normal(size=(n, 3))))


def _file(data: bytes, name: str) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _mat(**variables) -> bytes:
    buffer = io.BytesIO()
    savemat(buffer, variables)
    return buffer.getvalue()


def _import(image_set, data: bytes, name: str, **kwargs):
    matrices = services.similarity_file_read(file=_file(data, name), filename=name)
    return services.similarity_data_import(name="d", image_set=image_set, matrices=matrices, filename=name, **kwargs)


def _nothing_stored(settings):
    assert SimilarityData.objects.count() == 0
    folder = settings.MEDIA_ROOT / "similarity"
    assert not folder.exists() or not any(folder.iterdir())


def test_people_s_matrices_import_with_their_reliability(image_set):
    base = _distances()
    people = np.stack([base + 0.01 * (i + 1) * (1 - np.eye(5)) for i in range(4)])
    data = _import(image_set, _npy(people), "people.npy")
    assert (data.kind, data.n_items, data.n_people, data.n_judgements) == ("matrices", 5, 4, 40)
    assert data.reliability["split_half_r"] > 0.99 and len(data.reliability["item_reliability"]) == 5
    assert np.allclose(selectors.similarity_group_matrix(data), people.mean(0))


def test_a_csv_of_similarities_becomes_dissimilarities(image_set):
    similarity = 1 - _distances() / _distances().max()
    text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in similarity).encode()
    data = _import(image_set, text, "ratings.csv", similarities=True)
    group = selectors.similarity_group_matrix(data)
    assert np.diag(group).max() == 0
    t = sim.all_triplets(5)
    assert sim.triplet_agreement(sim.triplet_answers(group, t), sim.triplet_answers(_distances(), t)) == 1.0


def test_rsatoolbox_s_matlab_layout_and_a_named_variable(image_set):
    mat = _mat(rdms=np.array([{"RDM": _distances(), "name": "p1"}, {"RDM": _distances(), "name": "p2"}]))
    assert _import(image_set, mat, "rdms.mat").n_people == 2
    several = _mat(a=_distances(), b=_distances())
    matrices = services.similarity_file_read(file=_file(several, "two.mat"), filename="two.mat", variable="b")
    assert matrices.shape == (1, 5, 5)


BAD_MATRICES = {
    "not square": (_npy(np.zeros((5, 4))), "bad.npy", "5×4: a dissimilarity matrix is square"),
    "the wrong number of images": (_npy(_distances(6)), "six.npy", "6×6 but the image set has 5 images"),
    "asymmetric": (_npy(_distances() + np.triu(np.ones((5, 5)), 1)), "skew.npy", "not symmetric"),
    "with NaNs": (_npy(np.where(np.eye(5, k=1) > 0, np.nan, _distances())), "nan.npy", "missing or infinite"),
    "negative": (_npy(-_distances()), "neg.npy", "negative dissimilarities"),
    "a .mat of unknown layout": (_mat(notes="hello"), "odd.mat", "no dissimilarity matrices found"),
    "a .mat with several matrices": (_mat(a=_distances(), b=_distances()), "two.mat", "name the variable"),
    "not a matrix file": (b"hello", "notes.txt", "give a .csv, .npy or .mat file"),
    "a CSV of words": (b"a,b\nc,d", "words.csv", "not a numeric matrix"),
}


@pytest.mark.parametrize("case", list(BAD_MATRICES))
def test_bad_matrices_are_refused_naming_the_file_and_store_nothing(image_set, settings, case):
    data, name, message = BAD_MATRICES[case]
    with pytest.raises(MetamerError, match=message) as refused:
        _import(image_set, data, name)
    assert refused.value.message.startswith(name)
    _nothing_stored(settings)


def test_triplet_lists_import_with_workers_and_fill_in_the_pairs(image_set):
    d = _distances()
    t = sim.all_triplets(5)
    rows = ["i,j,k,choice,worker"] + [
        f"{i},{j},{k},{int(c)},w{n % 3}"
        for n, ((i, j, k), c) in enumerate(zip(t, sim.triplet_answers(d, t), strict=True))
    ]
    triplets, choices, workers = services.triplet_file_read(
        file=_file("\n".join(rows).encode(), "t.csv"), filename="t.csv"
    )
    data = services.similarity_data_import(
        name="t", image_set=image_set, triplets=triplets, choices=choices, workers=workers
    )
    assert (data.kind, data.n_people, data.n_judgements) == ("triplets", 3, 30)
    assert data.reliability["people"] == 3 and data.reliability["noise_ceiling"] is None  # each asked once
    group = selectors.similarity_group_matrix(data)
    assert sim.triplet_agreement(sim.triplet_answers(group, t), sim.triplet_answers(d, t)) > 0.9
    chosen = "i,j,k,chosen\n0,1,2,2\n1,0,3,0"
    _, choices, _ = services.triplet_file_read(file=_file(chosen.encode(), "c.csv"), filename="c.csv")
    assert choices.tolist() == [0, 1]


def _import_triplets(image_set, text: str) -> SimilarityData:
    triplets, choices, _ = services.triplet_file_read(file=_file(text.encode(), "t.csv"), filename="t.csv")
    return services.similarity_data_import(name="t", image_set=image_set, triplets=triplets, choices=choices)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("i,j,k,choice\n0,1,7,1", "row 1 names image"),
        ("i,j,k,choice\n0,0,1,1", "repeats an image"),
        ("i,j,k,choice\n0,1,2,x", "must be whole numbers"),
        ("a,b,c\n0,1,2", "header row i,j,k,choice"),
        ("i,j,k,chosen\n0,1,2,3", "chosen must be j or k"),
    ],
)
def test_bad_triplet_lists_are_refused_and_store_nothing(image_set, settings, text, message):
    with pytest.raises(MetamerError, match=message):
        _import_triplets(image_set, text)
    _nothing_stored(settings)


def test_kriegeskorte92_imports_with_one_command(shared_dir, capsys):
    call_command("import_similarity", "kriegeskorte92", str(shared_dir / "data" / "kriegeskorte92"))
    data = SimilarityData.objects.get(name="kriegeskorte92")
    assert (data.n_items, data.n_people) == (92, 16)
    assert data.image_set.targets.count() == 92 and data.image_set.targets.get(index=0).label == "human bodypart"
    assert 0.75 < data.reliability["split_half_r"] < 0.9  # the README's "about r = 0.8"
    person, group = data.reliability["ceiling"]["person"], data.reliability["ceiling"]["group"]
    assert person["spearman"] == pytest.approx([0.478, 0.575], abs=0.002)  # rsatoolbox's bounds
    assert group["spearman"] == pytest.approx([0.78, 0.88], abs=0.01)
    assert selectors.similarity_group_matrix(data).shape == (92, 92)
    assert "split-half r = 0.82" in capsys.readouterr().out


def test_the_command_imports_one_file_per_person(image_set, tmp_path):
    paths = []
    for p in range(3):
        path = tmp_path / f"person{p}.npy"
        np.save(path, _distances(seed=p))
        paths.append(str(path))
    call_command("import_similarity", "matrices", *paths, "--image-set", "five", "--name", "three")
    assert SimilarityData.objects.get(name="three").n_people == 3


def test_the_admin_imports_an_upload_and_refuses_a_bad_one(admin_client, image_set, settings):
    url = "/admin/surveys/similaritydata/add/"
    form = {"name": "up", "image_set": image_set.pk, "kind": "matrices", "source": "", "variable": ""}
    bad = admin_client.post(url, {**form, "file": _file(_npy(_distances(6)), "six.npy")}, follow=True)
    assert "six.npy: the matrix is 6×6 but the image set has 5 images" in bad.content.decode().lower()
    _nothing_stored(settings)
    good = admin_client.post(url, {**form, "file": _file(_npy(_distances()), "five.npy")}, follow=True)
    assert good.status_code == 200 and SimilarityData.objects.get().name == "up"
    page = admin_client.get(f"/admin/surveys/similaritydata/{SimilarityData.objects.get().pk}/change/")
    assert page.status_code == 200 and "one matrix" in page.content.decode()
    assert "data:image/png;base64," in page.content.decode()  # the matrix, drawn


def test_the_api_imports_an_upload_and_exports_the_group_matrix(admin_client, image_set, settings):
    form = {"name": "api", "image_set": image_set.pk, "kind": "matrices"}
    bad = admin_client.post("/api/similarity-data/", {**form, "file": _file(b"a,b", "words.csv")})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("words.csv: not a numeric matrix")
    _nothing_stored(settings)
    reply = admin_client.post("/api/similarity-data/", {**form, "file": _file(_npy(_distances()), "d.npy")})
    assert reply.status_code == 201, reply.content
    assert reply.json()["n_items"] == 5
    matrix = admin_client.get(f"/api/similarity-data/{reply.json()['id']}/matrix/")
    assert matrix["Content-Type"] == "text/csv"
    assert np.allclose(np.loadtxt(io.StringIO(matrix.content.decode()), delimiter=","), _distances(), atol=1e-5)


def _image_folder(tmp_path, n: int):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (12, 12), (40 * i, 255 - 40 * i, 90)).save(folder / f"img{i:02d}.png")
    return folder


def test_matrices_and_their_images_import_in_one_step(tmp_path, capsys):
    np.save(tmp_path / "people.npy", np.stack([_distances(), _distances(seed=1)]))
    call_command(
        "import_similarity",
        "matrices",
        str(tmp_path / "people.npy"),
        "--images",
        str(_image_folder(tmp_path, 5)),
        "--name",
        "mine",
        "--image-size",
        "16",
    )
    data = SimilarityData.objects.get(name="mine")
    assert data.image_set.name == "mine" and data.n_items == 5 and data.n_people == 2
    assert data.image_set.source == str(tmp_path / "images")
    assert list(data.image_set.targets.order_by("index").values_list("stimulus__width", flat=True)) == [16] * 5
    assert "mine: 5 images, 2 people" in capsys.readouterr().out


def test_images_that_do_not_match_the_data_are_refused_before_any_is_stored(admin_client, tmp_path, settings):
    import shutil

    from inversion.models import Stimulus, TargetSet

    archive = shutil.make_archive(str(tmp_path / "four"), "zip", _image_folder(tmp_path, 4))
    form = {"name": "web", "kind": "matrices", "image_size": 16}

    def post(matrix_file, name="four.zip"):
        with open(archive, "rb") as f:
            images = _file(f.read(), name)
        return admin_client.post("/api/similarity-data/", {**form, "file": matrix_file, "images": images})

    bad = post(_file(_npy(_distances(5)), "five.npy"))
    assert bad.status_code == 400
    assert bad.json()["detail"] == (
        "five.npy: the data are 5×5 matrices but four.zip holds 4 images; give the images the data are about"
    )
    asymmetric = _distances(4)
    asymmetric[0, 1] += 1
    assert "symmetric" in post(_file(_npy(asymmetric), "skew.npy")).json()["detail"]
    _nothing_stored(settings)
    assert not TargetSet.objects.exists() and not Stimulus.objects.exists()
    assert not (settings.MEDIA_ROOT / "stimuli").exists() or not any((settings.MEDIA_ROOT / "stimuli").rglob("*.png"))
    both = admin_client.post(
        "/api/similarity-data/", {**form, "file": _file(_npy(_distances(4)), "d.npy"), "image_set": 1}
    )
    assert both.status_code == 400
    good = post(_file(_npy(_distances(4)), "four.npy"))
    assert good.status_code == 201, good.content
    assert good.json()["n_items"] == 4 and TargetSet.objects.get().source == "four.zip"


def test_more_images_than_one_request_imports_are_sent_to_a_target_set_first(tmp_path, monkeypatch, settings):
    from inversion.models import TargetSet
    from surveys.services import similarity as similarity_services

    monkeypatch.setattr(similarity_services, "MAX_IMAGES_WITH_DATA", 4)
    np.save(tmp_path / "people.npy", np.stack([_distances(), _distances(seed=1)]))
    with pytest.raises(
        CommandError, match=r"holds 5 images; with the data, at most 4 .* import the images as a target set"
    ):
        call_command(
            "import_similarity",
            "matrices",
            str(tmp_path / "people.npy"),
            "--images",
            str(_image_folder(tmp_path, 5)),
            "--name",
            "mine",
            "--image-size",
            "16",
        )
    assert not TargetSet.objects.exists() and not SimilarityData.objects.exists()
