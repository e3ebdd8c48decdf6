"""The alignment benchmark: ``manage.py align`` on files, runs over stored data (admin, API,
Celery tasks), its invariances, and bad requests refused before any work."""

import io

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from analysis import services
from analysis.config import AlignmentConfig
from analysis.models import AlignmentRun
from analysis.services import alignment_inputs, zoo_models
from inversion import services as inversion_services
from metamer.errors import MetamerError
from science import zoo
from surveys import services as survey_services

pytestmark = pytest.mark.django_db

MODELS = ["alexnet-imagenet", "alexnet-random"]


def _pictures(n=12, seed=0):
    """Smooth coloured blobs: photographs' low-frequency look, distinct to a network."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48] / 48
    out = []
    for _ in range(n):
        cx, cy, width = [*rng.uniform(0.2, 0.8, 2).tolist(), rng.uniform(0.05, 0.3)]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / width)
        colour = rng.uniform(0, 1, 3)
        pixels = blob[..., None] * colour + (1 - blob[..., None]) * rng.uniform(0, 1, 3)
        out.append(Image.fromarray((pixels * 255).astype(np.uint8)))
    return out


def _folder(tmp_path, pictures, names):
    folder = tmp_path / "images"
    for picture, name in zip(pictures, names, strict=True):
        (folder / "set").mkdir(parents=True, exist_ok=True)
        picture.save(folder / "set" / f"{name}.png")
    return folder


def _human_from(model_name, pictures, noise, seed=0):
    """People who see as ``model_name`` does, plus noise: 4 people's matrices."""
    config = AlignmentConfig(models=(model_name,), bootstrap=0)
    model = services.zoo_models_check(config=config)[0]
    images = alignment_inputs._images([("x", p) for p in pictures])
    d = zoo.dissimilarity(services.embedding_compute(model=model, images=images))
    rng = np.random.default_rng(seed)
    people = []
    for _ in range(4):
        m = d + rng.normal(scale=noise * d.std(), size=d.shape)
        m = np.abs(m + m.T) / 2
        np.fill_diagonal(m, 0)
        people.append(m)
    return np.stack(people)


def _align(tmp_path, folder, human_file, out="out", *extra):
    call_command(
        "align",
        "--images",
        str(folder),
        "--human",
        str(human_file),
        "--models",
        *MODELS,
        "--bootstrap",
        "100",
        "--out",
        str(tmp_path / out),
        *extra,
    )
    return pd.read_csv(tmp_path / out / "alignment.csv")


def test_align_writes_the_table_the_matrices_and_the_report_and_the_trained_model_wins(tmp_path):
    pictures = _pictures()
    folder = _folder(tmp_path, pictures, [f"{i:02d}" for i in range(12)])
    np.save(tmp_path / "people.npy", _human_from("alexnet-imagenet", pictures, noise=0.3))
    table = _align(tmp_path, folder, tmp_path / "people.npy")
    assert list(table.columns[:20]) == [
        "model",
        "layer",
        "layer_role",
        "comparison",
        "n_items",
        "pearson",
        "pearson_low",
        "pearson_high",
        "spearman",
        "spearman_low",
        "spearman_high",
        "triplet",
        "triplet_low",
        "triplet_high",
        "pearson_ceiling_low",
        "pearson_ceiling_high",
        "spearman_ceiling_low",
        "spearman_ceiling_high",
        "triplet_ceiling_low",
        "triplet_ceiling_high",
    ]
    rows = table.set_index("model")
    assert rows.loc["alexnet-imagenet", "spearman"] > 0.8
    assert rows.loc["alexnet-imagenet", "spearman"] > rows.loc["alexnet-random", "spearman"]
    assert rows.loc["alexnet-random", "random_twin_of"] == "alexnet-imagenet"
    assert (rows["spearman_low"] <= rows["spearman"]).all() and (rows["spearman"] <= rows["spearman_high"]).all()
    assert rows["spearman_ceiling_low"].notna().all() and (rows["comparison"] == "group").all()
    # Layers as torchvision names them, and "penultimate" only where a classifier head exists.
    assert rows.loc["alexnet-imagenet", "layer"] == "features.12"
    assert "no classifier head" in rows.loc["alexnet-imagenet", "layer_role"]
    matrix = np.load(tmp_path / "out" / "rdms" / "alexnet-imagenet.npy")
    assert matrix.shape == (12, 12) and np.allclose(matrix, matrix.T)
    report = (tmp_path / "out" / "report.html").read_text()
    assert "alexnet-random" in report and "compared against the group-mean matrix" in report
    assert "That comparison&#x27;s ceilings: Pearson" in report or "That comparison's ceilings: Pearson" in report
    assert "data:image/png;base64" in report


def test_permuting_the_images_and_the_human_matrix_together_changes_no_number(tmp_path):
    pictures = _pictures()
    people = _human_from("alexnet-imagenet", pictures, noise=1.0)
    first = _folder(tmp_path / "a", pictures, [f"{i:02d}" for i in range(12)])
    np.save(tmp_path / "a.npy", people)
    perm = np.random.default_rng(1).permutation(12)
    # Named so the sorted order is the permuted one.
    second = _folder(tmp_path / "b", [pictures[i] for i in perm], [f"{i:02d}" for i in range(12)])
    np.save(tmp_path / "b.npy", people[:, perm][:, :, perm])
    before = _align(tmp_path, first, tmp_path / "a.npy", "a-out")
    after = _align(tmp_path, second, tmp_path / "b.npy", "b-out")
    numbers = before.select_dtypes("number").columns
    assert np.allclose(before[numbers].to_numpy(), after[numbers].to_numpy(), atol=1e-12, equal_nan=True)


def test_embeddings_are_computed_once_for_the_same_model_and_images(tmp_path, monkeypatch):
    pictures = _pictures(6)
    images = alignment_inputs._images([("x", p) for p in pictures])
    model = services.zoo_models_check(config=AlignmentConfig(models=("alexnet-imagenet",)))[0]
    first = services.embedding_compute(model=model, images=images)
    monkeypatch.setattr(zoo, "embed", lambda *a, **k: pytest.fail("the cache was not used"))
    assert np.array_equal(services.embedding_compute(model=model, images=images), first)
    other = alignment_inputs._images([("x", p) for p in pictures[::-1]])
    with pytest.raises(pytest.fail.Exception):
        services.embedding_compute(model=model, images=other)


def test_checking_a_runs_models_builds_each_network_once_per_process(monkeypatch):
    built = []
    real = zoo_models.build_network
    monkeypatch.setattr(zoo_models, "_LAYERS", {})
    monkeypatch.setattr(zoo_models, "build_network", lambda *a, **k: built.append(a[1]) or real(*a, **k))
    config = AlignmentConfig(models=tuple(MODELS))
    first = services.zoo_models_check(config=config)
    assert services.zoo_models_check(config=config) == first  # an admin form and then its save
    assert built == MODELS
    with pytest.raises(MetamerError, match="alexnet-random has no layer 'fc7'; its layers: 0, 1"):
        services.zoo_models_check(config=AlignmentConfig(models=("alexnet-random",), layer="fc7"))
    assert built == MODELS


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--models", "resnet9000"], "unknown model 'resnet9000'; built-ins: alexnet-imagenet"),
        (["--models", "alexnet-imagenet", "--layer", "fc7"], "alexnet-imagenet has no layer 'fc7'; its layers: 0, 1"),
        (["--metric", "euclid"], "invalid choice"),
        (["--probe-shots", "5"], "--probe-shots needs --probe-images"),
    ],
)
def test_bad_requests_are_refused_before_any_work(tmp_path, settings, extra, message):
    folder = _folder(tmp_path, _pictures(4), ["a", "b", "c", "d"])
    np.save(tmp_path / "h.npy", np.ones((4, 4)) - np.eye(4))
    args = ["--images", str(folder), "--human", str(tmp_path / "h.npy"), "--out", str(tmp_path / "out"), *extra]
    with pytest.raises((CommandError, SystemExit)) as caught:
        call_command("align", *args)
    if isinstance(caught.value, CommandError):
        assert message in str(caught.value)
    assert not (tmp_path / "out").exists()
    assert not (settings.MEDIA_ROOT / "embeddings").exists()


def test_an_image_count_that_does_not_match_the_human_matrix_is_refused(tmp_path, settings):
    folder = _folder(tmp_path, _pictures(4), ["a", "b", "c", "d"])
    np.save(tmp_path / "h.npy", np.ones((5, 5)) - np.eye(5))
    with pytest.raises(CommandError, match="4 images"):
        call_command("align", "--images", str(folder), "--human", str(tmp_path / "h.npy"), "--out", str(tmp_path))
    assert not (settings.MEDIA_ROOT / "embeddings").exists()


def test_a_labelled_set_too_small_for_the_shots_is_refused_before_any_work(tmp_path, settings):
    folder = _folder(tmp_path, _pictures(4), ["a", "b", "c", "d"])
    np.save(tmp_path / "h.npy", np.ones((4, 4)) - np.eye(4))
    probe = tmp_path / "probe"
    for i, picture in enumerate(_pictures(6, seed=2)):
        (probe / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        picture.save(probe / f"class{i % 2}" / f"{i}.png")
    with pytest.raises(CommandError, match="5-shot probes need more than 5 examples of every class; 'class0' has 3"):
        call_command(
            "align",
            *("--images", str(folder), "--human", str(tmp_path / "h.npy"), "--out", str(tmp_path / "out")),
            *("--probe-images", str(probe), "--probe-shots", "1", "5"),
        )
    assert not (settings.MEDIA_ROOT / "embeddings").exists()


def test_probes_and_imported_scores_become_the_papers_analyses_in_the_report(tmp_path):
    pictures = _pictures()
    folder = _folder(tmp_path, pictures, [f"{i:02d}" for i in range(12)])
    np.save(tmp_path / "people.npy", _human_from("alexnet-imagenet", pictures, noise=0.3))
    probe = tmp_path / "probe"
    for i, picture in enumerate(_pictures(16, seed=3)):
        (probe / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        picture.save(probe / f"class{i % 2}" / f"{i}.png")
    pd.DataFrame({"model": MODELS, "top1": [56.5, 0.1], "imagenet_a": [1.8, 0.0]}).to_csv(
        tmp_path / "s.csv", index=False
    )
    _align(
        tmp_path,
        folder,
        tmp_path / "people.npy",
        "out",
        *("--probe-images", str(probe), "--probe-shots", "1", "2", "--probe-seeds", "2"),
        *("--scores", str(tmp_path / "s.csv")),
    )
    probes = pd.read_csv(tmp_path / "out" / "probes.csv")
    assert sorted(probes["shots"].unique()) == [1, 2] and set(probes["model"]) == set(MODELS)
    assert probes["accuracy"].between(0, 1).all()
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Few-shot probes" in report and "imagenet_a" in report and "2-shot linear probe accuracy" in report


def _stored_data(pictures):
    image_set = inversion_services.target_set_create_from_images(
        name="blobs", images=[(f"c{i % 2}", p) for i, p in enumerate(pictures)], image_size=48
    )
    people = _human_from("alexnet-imagenet", pictures, noise=0.3)
    return survey_services.similarity_data_import(name="blob judgements", image_set=image_set, matrices=people)


def test_a_run_over_stored_data_fans_out_per_model_and_stores_its_files(django_capture_on_commit_callbacks):
    data = _stored_data(_pictures())
    config = AlignmentConfig(models=tuple(MODELS), bootstrap=100)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = services.alignment_run_create(human=data, config=config, name="blobs")
    assert len(callbacks) == 1  # the tasks are queued once the run is stored
    run.refresh_from_db()
    assert run.status == AlignmentRun.Status.DONE, run.error
    assert run.progress["done"] == sorted(MODELS)
    rows = {r["model"]: r for r in run.results["rows"]}
    assert rows["alexnet-imagenet"]["spearman"] > rows["alexnet-random"]["spearman"]
    with run.csv.open("rb") as f:
        assert list(pd.read_csv(f)["model"]) == MODELS
    with run.rdms.open("rb") as f, np.load(f) as matrices:
        assert set(matrices.files) == set(MODELS)


def test_the_api_starts_a_run_and_refuses_an_unknown_model_storing_nothing(admin_client, monkeypatch):
    data = _stored_data(_pictures(6))
    bad = admin_client.post(
        "/api/alignment-runs/", {"human": data.pk, "config": {"models": ["nope"]}}, content_type="application/json"
    )
    assert bad.status_code == 400 and "unknown model 'nope'" in bad.json()["detail"]
    assert AlignmentRun.objects.count() == 0
    reply = admin_client.post(
        "/api/alignment-runs/",
        {"human": data.pk, "config": {"models": ["alexnet-random"], "bootstrap": 10}},
        content_type="application/json",
    )
    assert reply.status_code == 201, reply.content
    body = admin_client.get(f"/api/alignment-runs/{reply.json()['id']}/").json()
    assert body["progress"]["total"] == 1 and body["resolved_models"][0]["layer"] == "12"


def test_the_admin_adds_a_run_and_shows_its_table(admin_client, django_capture_on_commit_callbacks):
    data = _stored_data(_pictures(6))
    form = {"name": "admin run", "human": data.pk, "models": ["alexnet-random"], "metric": "cosine", "bootstrap": 20}
    refused = admin_client.post("/admin/analysis/alignmentrun/add/", {**form, "extra_models": "nope"})
    assert refused.status_code == 200 and b"unknown model" in refused.content
    assert AlignmentRun.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post("/admin/analysis/alignmentrun/add/", form)
    assert reply.status_code == 302
    run = AlignmentRun.objects.get()
    page = admin_client.get(f"/admin/analysis/alignmentrun/{run.pk}/change/")
    assert b"alexnet-random" in page.content and b"alignment.csv" in page.content


def test_the_kriegeskorte92_set_every_trained_model_beats_its_random_twin(shared_dir, tmp_path):
    folder = shared_dir / "data" / "kriegeskorte92"
    call_command(
        "align",
        *("--images", str(folder), "--human", str(folder), "--bootstrap", "100", "--out", str(tmp_path / "k")),
        *("--models", "alexnet-imagenet", "alexnet-random", "efficientnet-lite0-imagenet", "efficientnet-lite0-random"),
        stdout=io.StringIO(),
    )
    rows = pd.read_csv(tmp_path / "k" / "alignment.csv").set_index("model")
    for trained in ("alexnet-imagenet", "efficientnet-lite0-imagenet"):
        twin = trained.replace("-imagenet", "-random")
        assert rows.loc[trained, "spearman"] > rows.loc[twin, "spearman"]
        assert rows.loc[trained, "triplet"] > rows.loc[twin, "triplet"]
    # Against the group mean (the default), its own ceiling: about 0.78–0.88 for Spearman.
    assert 0.75 < rows["spearman_ceiling_low"].iloc[0] < rows["spearman_ceiling_high"].iloc[0] < 0.92
    assert (rows["spearman"] < rows["spearman_ceiling_high"]).all()
    assert (rows["triplet_high"] - rows["triplet_low"] > 0.01).all()  # intervals from resampling images


def test_with_the_broker_down_a_run_fails_saying_what_to_do(monkeypatch, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    from analysis import tasks

    def down(*args):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.embed_alignment_model, "delay", down)
    data = _stored_data(_pictures(6))
    with django_capture_on_commit_callbacks(execute=True):
        run = services.alignment_run_create(human=data, config=AlignmentConfig(models=("alexnet-imagenet",)))
    run.refresh_from_db()
    assert run.status == AlignmentRun.Status.FAILED and "task queue could not be reached" in run.error
