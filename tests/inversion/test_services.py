import io
import tarfile
from dataclasses import fields

import pytest
import torch
from PIL import Image

from inversion import selectors, services
from inversion.config import InversionConfig
from inversion.models import IRI, InversionJob, LpipsJudgement, ModelSpec, Stimulus
from inversion.services import runs
from metamer.errors import MetamerError
from science.engine import relative_distance
from tests.factories import ModelSpecFactory

pytestmark = pytest.mark.django_db


def _tar_of_class_folders(path, n_per_class=3, size=20):
    with tarfile.open(path, "w") as tf:
        for cls in ("cat", "dog"):
            for i in range(n_per_class):
                buf = io.BytesIO()
                Image.new("RGB", (size, size + 4), (i * 40, 100, 200 if cls == "cat" else 0)).save(buf, "JPEG")
                info = tarfile.TarInfo(f"test/{cls}/{i:04d}.jpg")
                info.size = buf.tell()
                buf.seek(0)
                tf.addfile(info, buf)
    return path


def test_register_builtin_defaults_to_the_last_node_and_records_normalisation():
    spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", input_size=64)
    assert spec.layer == "12"
    assert spec.mean == [0.485, 0.456, 0.406]


def test_register_refuses_an_unknown_layer_and_stores_nothing():
    with pytest.raises(MetamerError, match="no layer named 'conv99'") as err:
        services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="conv99")
    assert err.value.field == "layer"
    assert not ModelSpec.objects.exists()


def test_register_torchvision_state_dict_and_penultimate_default(tmp_path):
    import torchvision

    net = torchvision.models.resnet18(num_classes=10)
    net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = torch.nn.Identity()
    ckpt = tmp_path / "r18.pt"
    torch.save(net.state_dict(), ckpt)
    spec = services.model_spec_register(
        name="r18", source="torchvision", architecture="resnet18", checkpoint=ckpt, cifar_stem=True
    )
    assert spec.layer == "flatten"
    assert spec.input_size == 32


def test_register_refuses_a_checkpoint_that_does_not_fit(tmp_path):
    ckpt = tmp_path / "bad.pt"
    torch.save({"weight": torch.zeros(3)}, ckpt)
    with pytest.raises(MetamerError, match="does not fit resnet18"):
        services.model_spec_register(name="r18", source="torchvision", architecture="resnet18", checkpoint=ckpt)


def test_register_refuses_arbitrary_pickles(tmp_path):
    ckpt = tmp_path / "evil.pt"
    torch.save({"net": torch.nn.Linear(2, 2)}, ckpt)  # a pickled module, not a state dict
    with pytest.raises(MetamerError, match="not a plain state dict"):
        services.model_spec_register(name="r18", source="torchvision", architecture="resnet18", checkpoint=ckpt)


def test_import_samples_a_class_folder_archive_reproducibly(tmp_path):
    archive = _tar_of_class_folders(tmp_path / "data.tar")
    a = services.target_set_import(name="a", path=archive, image_size=16, sample=4, seed=7)
    b = services.target_set_import(name="b", path=archive, image_size=16, sample=4, seed=7)
    labels = [t.label for t in a.targets.all()]
    assert labels == [t.label for t in b.targets.all()]
    assert set(labels) <= {"cat", "dog"}
    assert [t.stimulus.sha256 for t in a.targets.all()] == [t.stimulus.sha256 for t in b.targets.all()]
    assert a.sample_seed == 7
    first = a.targets.first().stimulus
    assert (first.width, first.height) == (16, 16)


def test_import_refuses_a_non_image_member(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "fake.png").write_bytes(b"not a png at all")
    with pytest.raises(MetamerError, match="not a readable image"):
        services.target_set_import(name="x", path=folder, image_size=16)


def test_noise_targets_follow_the_law_and_stay_in_range():
    ts = services.target_set_create_noise(name="n", n=2, law="normal-0.5-2", image_size=8, seed=3)
    assert ts.targets.count() == 2
    with pytest.raises(MetamerError, match="unknown noise law"):
        services.target_set_create_noise(name="m", n=2, law="uniform", image_size=8, seed=3)


def test_raw_noise_targets_keep_the_unclamped_draw_for_the_optimisation():
    raw = services.target_set_create_noise(name="raw", n=2, law="normal-0-1", image_size=8, seed=3, raw=True)
    shown = services.target_set_create_noise(name="shown", n=2, law="normal-0-1", image_size=8, seed=3)
    assert raw.source == "normal-0-1, raw"
    for r, s in zip(raw.targets.order_by("index"), shown.targets.order_by("index"), strict=True):
        aimed = selectors.target_tensor(r)
        assert aimed.min() < 0 and aimed.max() > 1  # a raw N(0, 1) draw, not clamped
        # People see the same clamped image either way; only what the optimisation aims at differs.
        assert r.stimulus.sha256 == s.stimulus.sha256
        assert torch.allclose(selectors.target_tensor(s), aimed.clamp(0, 1), atol=1 / 255)
    with pytest.raises(MetamerError, match="raw targets are noise draws"):
        services.target_set_check(name="x", image_size=8, raw=True)


def test_a_job_on_raw_noise_targets_measures_its_distance_to_the_raw_draw():
    spec = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    ts = services.target_set_create_noise(name="raw", n=1, law="normal-0-1", image_size=32, seed=0, raw=True)
    job = services.inversion_job_create(model_spec=spec, target_set=ts, config=InversionConfig(steps=3), enqueue=False)
    iri = services.inversion_job_run(job_id=job.pk).iris.get()
    g = selectors.model_spec_representation(spec)
    xr = selectors.stimulus_tensor(iri.stimulus)[None]
    with torch.no_grad():
        to_raw = relative_distance(g(selectors.target_tensor(iri.target)[None]), g(xr)).item()
    assert iri.rep_distance == pytest.approx(to_raw, rel=1e-4)


def test_builtin_specs_take_their_own_input_normalisation():
    spec = services.model_spec_register(name="lite0", architecture="efficientnet-lite0-imagenet", input_size=64)
    assert spec.layer == "global_pool.flatten"
    assert spec.mean == spec.std == [0.5, 0.5, 0.5]
    alex = services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    assert alex.mean == [0.485, 0.456, 0.406]


def test_imagenet_top1_comes_from_a_results_table_checked_whole_first():

    services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    services.model_spec_register(name="lite0", architecture="efficientnet-lite0-imagenet", input_size=64)
    bad = io.BytesIO(b"model,top1\nalex,56.5\nlite0,much\n")
    with pytest.raises(MetamerError, match="row 3: top1 must be a number"):
        services.model_specs_top1_import(file=bad, filename="r.csv")
    assert not ModelSpec.objects.filter(imagenet_top1__isnull=False).exists()
    # timm's table names architectures with a weight tag; a spec's own name wins.
    table = io.BytesIO(b"model,top1,top5\nefficientnet-lite0-imagenet.tf_in1k,75.1,92.2\nalex,56.5,79.1\n")
    result = services.model_specs_top1_import(file=table, filename="results-imagenet.csv")
    assert result == {"updated": ["alex", "lite0"], "unmatched": []}
    assert ModelSpec.objects.get(name="lite0").imagenet_top1 == 75.1
    with pytest.raises(MetamerError, match="percentage"):
        services.model_spec_register(name="x", architecture="alexnet-imagenet", input_size=32, imagenet_top1=560)


def _job(n_targets=3, targets="n", **config):
    spec = ModelSpec.objects.filter(name="alex").first() or services.model_spec_register(
        name="alex", architecture="alexnet-imagenet", layer="3", input_size=32
    )
    ts = services.target_set_create_noise(name=targets, n=n_targets, law="normal-0-1", image_size=32, seed=0)
    cfg = InversionConfig(steps=5, batch_size=2, **config)
    return services.inversion_job_create(model_spec=spec, target_set=ts, config=cfg, enqueue=False)


def test_job_stores_one_iri_per_target_and_seed_with_its_distance():
    job = services.inversion_job_run(job_id=_job(seeds_per_target=2, seed_per_target=False).pk)
    assert job.status == InversionJob.Status.DONE
    assert job.done == job.total == 6
    iris = IRI.objects.filter(job=job)
    assert iris.count() == 6
    # One shared seed image per seed index (the authors' choice).
    assert iris.values("seed").distinct().count() == 2
    iri = iris.first()
    assert iri.stimulus.role == Stimulus.Role.IRI
    assert 0 <= iri.rep_distance < 1
    assert iri.converged == (iri.rep_distance <= 0.05)


def test_each_iri_records_its_activation_correlation_and_whether_it_beats_the_job_s_null():
    from inversion.models import ActivationNull

    job = services.inversion_job_run(job_id=_job(n_targets=3, seeds_per_target=2).pk)
    null = ActivationNull.objects.get()  # one per network, layer and target set, made once
    assert (null.model_spec, null.target_set, null.images, len(null.values)) == (
        job.model_spec,
        job.target_set,
        3,
        1000,
    )
    for iri in IRI.objects.filter(job=job):
        assert -1 <= iri.activation_rho <= 1
        assert iri.beats_null == (iri.activation_rho > null.maximum)
    again = services.inversion_job_run(job_id=_job(n_targets=3, seeds_per_target=1, targets="again").pk)
    assert ActivationNull.objects.count() == 2 and again.iris.exclude(beats_null=None).count() == 3


def test_progress_moves_with_every_step_and_stored_iris_count_whole(monkeypatch):
    from inversion.services import runs

    monkeypatch.setattr(runs, "STEPS_EVERY_SECONDS", -1.0)  # report every step
    seen = []
    real = runs._Steps.take_back
    monkeypatch.setattr(
        runs._Steps,
        "take_back",
        lambda self: seen.append(InversionJob.objects.get(pk=self.rows.get().pk).steps_in_flight) or real(self),
    )
    job = services.inversion_job_run(job_id=_job(seeds_per_target=2).pk)
    calls = job.config["steps"] + 1  # on_step sees the starting point too
    # Before each chunk's IRIs were stored its steps were in flight; after, none are.
    assert seen and all(value > 0 and value % calls == 0 for value in seen)
    assert job.steps_in_flight == 0 and job.done == 6


@pytest.mark.parametrize(
    ("precision", "native", "label"),
    [("auto", True, "cpu bf16"), ("auto", False, "cpu fp32"), ("fp32", True, "cpu fp32"), ("bf16", False, "cpu bf16")],
)
def test_each_iri_records_the_precision_its_optimisation_ran_in(monkeypatch, precision, native, label):
    monkeypatch.setattr("science.engine.native_bf16", lambda device: native)
    job = services.inversion_job_run(job_id=_job(n_targets=2, precision=precision).pk)
    assert set(IRI.objects.filter(job=job).values_list("device", flat=True)) == {label}


def test_a_job_killed_midway_resumes_without_duplicates(monkeypatch):
    job = _job(n_targets=3, seed_per_target=False)
    calls = {"n": 0}
    original = runs._run_chunk

    def dies_on_second_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("worker killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(runs, "_run_chunk", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        services.inversion_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == InversionJob.Status.RUNNING
    assert job.done == 2
    monkeypatch.setattr(runs, "_run_chunk", original)
    job = services.inversion_job_run(job_id=job.pk)
    assert job.status == InversionJob.Status.DONE
    assert IRI.objects.filter(job=job).count() == 3
    assert IRI.objects.filter(job=job).values("seed").distinct().count() == 1


def test_resumed_seeds_are_identical():
    a = services.inversion_job_run(job_id=_job().pk)
    first = IRI.objects.filter(job=a).first().seed.sha256
    seeds = runs._seed_images(a, InversionConfig.from_dict(a.config), torch.device("cpu"))
    from science.images import png_bytes, sha256

    assert sha256(png_bytes(seeds[(0, 0)])) == first


def test_illegal_state_moves_are_refused():
    job = services.inversion_job_run(job_id=_job().pk)
    with pytest.raises(MetamerError, match="cannot become cancelled"):
        services.inversion_job_cancel(job=job)


def test_job_refuses_targets_of_the_wrong_size():
    spec = ModelSpecFactory(input_size=32)
    ts = services.target_set_create_noise(name="n", n=1, law="normal-0-1", image_size=16, seed=0)
    with pytest.raises(MetamerError, match="import them at the model's input size"):
        services.inversion_job_create(model_spec=spec, target_set=ts, config=InversionConfig())


def test_config_rejects_bad_settings_with_every_reason():
    with pytest.raises(ValueError, match="steps must be at least 1; update must be one of"):
        InversionConfig(steps=0, update="lbfgs")
    with pytest.raises(ValueError, match=r"surrogate must be between 0 and 0\.5"):
        InversionConfig(surrogate=0.9)
    with pytest.raises(ValueError, match="unknown inversion settings: colour"):
        InversionConfig.from_dict({"colour": "red"})


def test_invert_command_builds_its_options_from_the_config(capsys):
    from django.core.management import call_command

    services.model_spec_register(name="alex", architecture="alexnet-imagenet", layer="3", input_size=32)
    services.target_set_create_noise(name="n", n=2, law="normal-0-1", image_size=32, seed=0)
    call_command("invert", "alex", "n", "--steps", "3", "--tv-weight", "0.1", "--transform")
    job = InversionJob.objects.get()
    assert job.config["steps"] == 3
    assert job.config["tv_weight"] == 0.1
    assert job.config["transform"] is True
    assert job.status == InversionJob.Status.DONE
    assert "job 1: done, 2/2 IRIs" in capsys.readouterr().out.replace(f"job {job.pk}", "job 1")


def test_noise_targets_and_seed_images_from_the_same_seed_differ():
    job = services.inversion_job_run(job_id=_job(n_targets=1).pk)
    iri = IRI.objects.get(job=job)
    assert iri.seed.sha256 != iri.target.stimulus.sha256


def test_lpips_judgements_follow_the_iris(two_conditions):
    aligned, unaligned = two_conditions
    assert services.lpips_judgements_compute(job=aligned) == 6 * 4
    services.lpips_judgements_compute(job=unaligned)
    services.lpips_judgements_compute(job=aligned)  # again: updated in place, never duplicated
    assert LpipsJudgement.objects.filter(iri__job=aligned).count() == 6 * 4
    assert all(j.aligned for j in LpipsJudgement.objects.filter(iri__job=aligned))
    assert not any(j.aligned for j in LpipsJudgement.objects.filter(iri__job=unaligned))


def test_a_failed_job_says_why_and_a_retry_finishes_it(monkeypatch):
    job = _job(n_targets=3)
    original = runs._run_chunk
    monkeypatch.setattr(runs, "_run_chunk", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")))
    with pytest.raises(RuntimeError):
        services.inversion_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == InversionJob.Status.FAILED
    assert job.error == "RuntimeError: CUDA out of memory"
    assert not IRI.objects.filter(job=job).exists()
    monkeypatch.setattr(runs, "_run_chunk", original)
    job = services.inversion_job_run(job_id=job.pk)
    assert job.status == InversionJob.Status.DONE
    assert IRI.objects.filter(job=job).count() == 3


def test_cancelling_mid_run_stops_after_the_chunk_in_hand(monkeypatch):
    job = _job(n_targets=5)  # three chunks of two
    original = runs._run_chunk

    def cancel_during_first_chunk(job_, *args, **kwargs):
        original(job_, *args, **kwargs)
        services.inversion_job_cancel(job=InversionJob.objects.get(pk=job_.pk))

    monkeypatch.setattr(runs, "_run_chunk", cancel_during_first_chunk)
    job = services.inversion_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == InversionJob.Status.CANCELLED and job.finished_at is not None
    assert IRI.objects.filter(job=job).count() == 2
    # A cancelled job stays cancelled: running it again does nothing.
    assert services.inversion_job_run(job_id=job.pk).status == InversionJob.Status.CANCELLED
    assert IRI.objects.filter(job=job).count() == 2


def test_each_target_gets_its_own_seeds_unless_the_authors_shared_seed_is_asked_for():
    job = services.inversion_job_run(job_id=_job(n_targets=3, seeds_per_target=2).pk)
    iris = IRI.objects.filter(job=job).select_related("seed")
    assert iris.count() == 6
    assert len({i.seed.sha256 for i in iris}) == 6
    shared = services.inversion_job_run(
        job_id=_job(n_targets=3, targets="shared", seeds_per_target=2, seed_per_target=False).pk
    )
    assert len({i.seed.sha256 for i in IRI.objects.filter(job=shared).select_related("seed")}) == 2


def test_uploads_over_the_limit_are_refused_by_name_and_store_nothing(settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.METAMER_MAX_UPLOAD_BYTES = 2**20
    upload = SimpleUploadedFile("holiday-photos.zip", b"0" * (2**20 + 1))
    with pytest.raises(MetamerError, match=r"holiday-photos\.zip is larger than 1 MiB") as refused:
        services.target_set_create(name="t", image_size=32, archive=upload)
    assert refused.value.field == "archive"
    big = io.BytesIO()
    Image.new("RGB", (8, 8)).save(big, "PNG")
    one_image = SimpleUploadedFile("cat.png", big.getvalue())
    with pytest.raises(MetamerError, match=r"asked for 2 images but cat\.png holds 1"):
        services.target_set_create(name="t", image_size=32, archive=one_image, sample=2)
    assert not Stimulus.objects.exists()
    ts = services.target_set_create(name="t", image_size=32, archive=one_image)
    assert ts.source == "cat.png" and ts.targets.count() == 1


def test_the_paper_preset_names_every_setting_and_overrides_win():
    config = InversionConfig.from_dict({"preset": "paper", "batch_size": 4})
    stored = config.to_dict()
    assert stored["preset"] == "paper"
    assert (stored["update"], stored["step_size"], stored["schedule"], stored["steps"]) == (
        "normalized",
        1.0,
        "constant",
        5000,
    )
    assert (stored["precision"], stored["surrogate"], stored["batch_size"]) == ("fp32", 0.0, 4)
    assert stored["seed_per_target"] is False and InversionConfig().seed_per_target is True
    assert set(stored) == {f.name for f in fields(InversionConfig)}
    with pytest.raises(ValueError, match="preset must be one of paper"):
        InversionConfig.from_dict({"preset": "fast"})


def test_fake_relu_is_recorded_on_the_spec_and_checked_at_registration():
    spec = services.model_spec_register(name="a", architecture="alexnet-imagenet", layer="11", fake_relu=True)
    assert spec.fake_relu
    with pytest.raises(MetamerError, match="fake_relu needs a ReLU") as refused:
        services.model_spec_register(name="b", architecture="alexnet-imagenet", layer="10", fake_relu=True)
    assert refused.value.field == "fake_relu"
    assert ModelSpec.objects.count() == 1


def test_a_job_fanned_out_in_chunks_stores_each_iri_once_however_often_a_chunk_runs(monkeypatch):
    job = _job(n_targets=5)  # chunks 0, 1, 2 of two, two and one IRIs
    sent = []
    monkeypatch.setattr("inversion.tasks.run_inversion_chunk.delay", lambda job_id, chunk: sent.append(chunk))
    assert services.inversion_job_dispatch(job_id=job.pk) == [0, 1, 2] == sent
    for chunk in (2, 0, 0, 1, 2):  # out of order, and redelivered
        services.inversion_job_chunk_run(job_id=job.pk, chunk=chunk)
    job.refresh_from_db()
    assert job.status == InversionJob.Status.DONE and job.done == job.total == 5
    assert IRI.objects.filter(job=job).count() == 5
    assert services.inversion_job_dispatch(job_id=job.pk) == []  # nothing left to send


def test_a_chunk_partly_stored_by_another_worker_while_this_one_ran_stores_only_the_rest(monkeypatch):
    job = _job(n_targets=2)  # one chunk of two
    services.inversion_job_chunk_run(job_id=job.pk, chunk=0)
    first = IRI.objects.get(job=job, target__index=0)
    IRI.objects.filter(job=job, target__index=1).delete()  # the other worker had stored target 0 only
    # This worker read both as pending before the other worker's IRI was committed.
    work = [(target, 0) for target in job.target_set.targets.order_by("index")]
    monkeypatch.setattr(runs, "job_chunks", lambda _job: [(0, work)])
    InversionJob.objects.filter(pk=job.pk).update(status=InversionJob.Status.RUNNING)
    services.inversion_job_chunk_run(job_id=job.pk, chunk=0)
    stored = IRI.objects.filter(job=job).order_by("target__index")
    assert [i.target.index for i in stored] == [0, 1]  # target 1 stored, target 0 not again
    assert stored[0].pk == first.pk
    job.refresh_from_db()
    assert job.status == InversionJob.Status.DONE and job.done == 2


def test_a_failing_chunk_fails_the_job_the_other_chunks_then_wait_and_a_resume_finishes_it(
    monkeypatch, django_capture_on_commit_callbacks
):
    job = _job(n_targets=4)
    original = runs._run_chunk
    monkeypatch.setattr(runs, "_run_chunk", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("CUDA out of memory")))
    with pytest.raises(RuntimeError):
        services.inversion_job_chunk_run(job_id=job.pk, chunk=0)
    monkeypatch.setattr(runs, "_run_chunk", original)
    assert services.inversion_job_chunk_run(job_id=job.pk, chunk=1).status == InversionJob.Status.FAILED
    assert not IRI.objects.filter(job=job).exists()
    cancelled = _job(n_targets=2, targets="c")
    services.inversion_job_cancel(job=cancelled)
    assert services.inversion_job_chunk_run(job_id=cancelled.pk, chunk=0).status == InversionJob.Status.CANCELLED
    assert not IRI.objects.filter(job=cancelled).exists()
    with django_capture_on_commit_callbacks(execute=True):  # the embedded defaults run the tasks in-process
        services.inversion_job_resume(job=job)
    job.refresh_from_db()
    assert job.status == InversionJob.Status.DONE and job.error == ""
    assert IRI.objects.filter(job=job).count() == 4


def test_a_worker_builds_a_job_s_network_and_seeds_once_for_all_its_chunks(monkeypatch):
    job = _job(n_targets=5)  # three chunks
    built = []
    original = runs.model_spec_representation
    monkeypatch.setattr(runs, "model_spec_representation", lambda spec: built.append(spec) or original(spec))
    runs._network_and_seeds.cache_clear()
    for chunk in (0, 1, 2):
        services.inversion_job_chunk_run(job_id=job.pk, chunk=chunk)
    assert len(built) == 1 and IRI.objects.filter(job=job).count() == 5
