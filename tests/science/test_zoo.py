import numpy as np
import pytest
import torch

from science import zoo
from science.networks import BUILTINS, build_network


def _points(n=30, dim=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim))


def _people(n=20, p=6, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    truth = zoo.dissimilarity(_points(n, seed=seed))
    people = []
    for _ in range(p):
        m = truth + rng.normal(scale=noise * truth.std(), size=truth.shape)
        m = np.abs((m + m.T) / 2)
        np.fill_diagonal(m, 0)
        people.append(m)
    return truth, np.stack(people)


def test_model_matrices_and_their_comparison_agree_with_rsatoolbox():
    rsatoolbox = pytest.importorskip("rsatoolbox")
    features = _points(25, 40)
    rdm = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(features), method="correlation")
    ours = zoo.dissimilarity(features, "correlation")
    assert np.allclose(zoo._upper(ours), rdm.get_vectors()[0])
    other = zoo.dissimilarity(_points(25, 40, seed=1), "cosine")
    theirs = rsatoolbox.rdm.compare(rdm, rsatoolbox.rdm.RDMs(other[None]), method="spearman")[0, 0]
    ours_r = zoo.bootstrap_correlation(ours, other, method="spearman", n_boot=0).value
    assert ours_r == pytest.approx(theirs, abs=1e-9)


def test_the_noise_ceiling_is_rsatoolboxs_leave_one_out_bounds():
    rsatoolbox = pytest.importorskip("rsatoolbox")
    _, people = _people(noise=1.0)
    low, high = rsatoolbox.inference.boot_noise_ceiling(rsatoolbox.rdm.RDMs(people), method="spearman")
    ceiling = zoo.HumanJudgements(people.mean(0), people=people).ceiling()
    # rsatoolbox pools ranked matrices where we average the matrices: the same bounds to rounding.
    assert ceiling["noise_ceiling_low"] == pytest.approx(low, abs=0.01)
    assert ceiling["noise_ceiling_high"] == pytest.approx(high, abs=0.01)
    assert ceiling["noise_ceiling_low"] < ceiling["noise_ceiling_high"] < 1


def test_cosine_distance_is_one_minus_cosine_similarity_and_a_proper_matrix():
    x = _points(10, 5)
    d = zoo.dissimilarity(x, "cosine")
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.allclose(d, 1 - unit @ unit.T, atol=1e-12)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0) and d.min() >= 0
    with pytest.raises(ValueError, match="cosine, correlation"):
        zoo.dissimilarity(x, "euclid")


def test_the_bootstrap_interval_holds_the_value_and_narrows_with_more_images():
    _, people = _people(n=60, p=4, noise=1.0)
    model = zoo.dissimilarity(_points(60, seed=0) + np.random.default_rng(5).normal(scale=0.5, size=(60, 6)))
    small = zoo.bootstrap_correlation(model[:20, :20], people.mean(0)[:20, :20], method="spearman", n_boot=300)
    large = zoo.bootstrap_correlation(model, people.mean(0), method="spearman", n_boot=300)
    for e in (small, large):
        assert e.ci_low < e.value < e.ci_high
    assert large.ci_high - large.ci_low < small.ci_high - small.ci_low


def test_permuting_images_and_people_together_changes_no_figure():
    _, people = _people(n=24)
    model = zoo.dissimilarity(_points(24, seed=0) + np.random.default_rng(9).normal(scale=0.7, size=(24, 6)))
    keys = np.array([f"{i:03d}" for i in range(24)])
    perm = np.random.default_rng(3).permutation(24)
    human = zoo.HumanJudgements(people.mean(0), people=people)
    moved = zoo.HumanJudgements(people.mean(0)[np.ix_(perm, perm)], people=people[:, perm][:, :, perm])
    before = human.alignment(model, n_boot=200, order=np.argsort(keys)).row()
    after = moved.alignment(model[np.ix_(perm, perm)], n_boot=200, order=np.argsort(keys[perm])).row()
    assert after == pytest.approx(before, abs=1e-12)
    assert moved.ceiling() == pytest.approx(human.ceiling(), abs=1e-12)


def test_a_monotone_transform_of_the_human_matrix_changes_no_rank_figure():
    _, people = _people(n=24)
    model = zoo.dissimilarity(_points(24, seed=0) + np.random.default_rng(9).normal(scale=0.7, size=(24, 6)))
    group = people.mean(0)
    plain = zoo.matrix_alignment(model, group, n_boot=200)
    squashed = zoo.matrix_alignment(model, np.log1p(5 * group) ** 3, n_boot=200)
    assert squashed.spearman == plain.spearman
    assert squashed.triplet == plain.triplet
    assert squashed.pearson.value != pytest.approx(plain.pearson.value)


def test_a_random_human_matrix_gives_no_alignment():
    rng = np.random.default_rng(0)
    noise = rng.random((80, 80))
    noise = (noise + noise.T) / 2
    np.fill_diagonal(noise, 0)
    result = zoo.matrix_alignment(zoo.dissimilarity(_points(80, 10)), noise, n_boot=200)
    assert abs(result.spearman.value) < 0.05
    assert result.spearman.ci_low < 0 < result.spearman.ci_high
    assert result.triplet.value == pytest.approx(0.5, abs=0.01)


def test_human_triplets_are_scored_on_the_answers_people_gave():
    truth = zoo.dissimilarity(_points(15))
    from science.similarity import sample_triplets, triplet_answers

    t = sample_triplets(15, 400, seed=1)
    answers = triplet_answers(truth, t)
    human = zoo.HumanJudgements(truth, triplets=t, answers=answers, workers=np.array(["a", "b"] * 200))
    exact = human.alignment(truth, n_boot=50)
    assert exact.triplet.value == 1.0 and exact.triplet.n == 400
    flipped = human.alignment(truth.max() - truth + np.eye(15) * 0, n_boot=50)
    assert flipped.triplet.value < 0.1


def test_random_twins_are_untrained_copies_of_each_builtin_fixed_by_their_seed():
    twins = {name: b for name, b in BUILTINS.items() if b.twin_of}
    assert sorted(b.twin_of for b in twins.values()) == sorted(n for n, b in BUILTINS.items() if not b.twin_of)
    trained, twin = build_network("builtin", "alexnet-imagenet"), build_network("builtin", "alexnet-random")
    again = build_network("builtin", "alexnet-random")
    assert [p.shape for p in trained.parameters()] == [p.shape for p in twin.parameters()]
    assert not torch.equal(trained[0].weight, twin[0].weight)
    assert torch.equal(twin[0].weight, again[0].weight)
    assert BUILTINS["alexnet-random"].lpips_backbone is None


def test_embeddings_are_one_row_per_image_in_order_at_the_models_input_size():
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            return x.mean(dim=(2, 3))

    images = torch.rand(5, 3, 40, 40)
    out = zoo.embed(Probe(), images, input_size=32, device="cpu", batch_size=2)
    assert out.shape == (5, 3) and out.dtype == np.float32
    assert seen == [(2, 3, 32, 32), (2, 3, 32, 32), (1, 3, 32, 32)]
    assert np.allclose(
        out[4],
        torch.nn.functional.interpolate(images[4:], size=32, mode="bilinear", antialias=True).mean(dim=(2, 3))[0],
        atol=1e-6,
    )


def _clusters(classes=4, per_class=60, dim=20, spread=1.5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(classes, dim))
    x = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centres])
    return x, np.repeat([f"class{c}" for c in range(classes)], per_class)


@pytest.mark.parametrize("head", ["linear", "mlp1"])
def test_few_shot_probes_learn_more_from_more_examples(head):
    x, y = _clusters()
    results = zoo.few_shot_probe(x, y, shots=(1, 20), seeds=4, head=head)
    assert [r.shots for r in results] == [1, 20]
    assert results[1].accuracy > results[0].accuracy
    assert results[1].accuracy > 0.8
    assert zoo.few_shot_probe(x, y, shots=(5,), seeds=2, head=head) == zoo.few_shot_probe(
        x, y, shots=(5,), seeds=2, head=head
    )


def test_probes_refuse_a_set_too_small_for_the_shots_asked():
    x, y = _clusters(per_class=10)
    with pytest.raises(ValueError, match="20-shot probes need more than 20 examples of every class"):
        zoo.few_shot_probe(x, y, shots=(1, 20))


def test_downstream_analysis_finds_a_u_shape_and_controls_for_top1_as_pingouin_does():
    pingouin = pytest.importorskip("pingouin")
    import pandas as pd

    rng = np.random.default_rng(0)
    alignment = rng.uniform(0.1, 0.6, 30)
    top1 = rng.uniform(60, 85, 30)
    u_shaped = 2 * (alignment - alignment.mean()) ** 2 / alignment.var() + 0.02 * top1 + rng.normal(scale=0.1, size=30)
    out = zoo.downstream_analysis(alignment, u_shaped, top1)
    assert out["z2_pearson"] > 0.9 and abs(out["pearson"]) < 0.5
    assert out["quadratic"][0] > 0
    assert out["high"] > out["mid"] and out["low"] > out["mid"] and out["k"] == 5
    frame = pd.DataFrame({"a": alignment, "s": u_shaped, "t": top1})
    theirs = pingouin.partial_corr(data=frame, x="a", y="s", covar="t")
    assert out["partial_pearson"] == pytest.approx(float(theirs["r"].iloc[0]), abs=1e-9)
    assert out["partial_p_value"] == pytest.approx(
        float(theirs["p_val"].iloc[0] if "p_val" in theirs else theirs["p-val"].iloc[0]), rel=1e-6
    )
