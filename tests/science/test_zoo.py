import numpy as np
import pytest
import torch

from science import zoo
from science.alignment import bootstrap_correlation
from science.networks import BUILTINS, build_network
from science.similarity import upper
from tests.science.made_up import made_points


def test_model_matrices_and_their_comparison_agree_with_rsatoolbox():
    rsatoolbox = pytest.importorskip("rsatoolbox")
    features = made_points(25, 40)
    rdm = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(features), method="correlation")
    ours = zoo.dissimilarity(features, "correlation")
    assert np.allclose(upper(ours), rdm.get_vectors()[0])
    other = zoo.dissimilarity(made_points(25, 40, seed=1), "cosine")
    theirs = rsatoolbox.rdm.compare(rdm, rsatoolbox.rdm.RDMs(other[None]), method="spearman")[0, 0]
    ours_r = bootstrap_correlation(ours, other, method="spearman", n_boot=0).value
    assert ours_r == pytest.approx(theirs, abs=1e-9)


def test_cosine_distance_is_one_minus_cosine_similarity_and_a_proper_matrix():
    x = made_points(10, 5)
    d = zoo.dissimilarity(x, "cosine")
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert np.allclose(d, 1 - unit @ unit.T, atol=1e-12)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0) and d.min() >= 0
    with pytest.raises(ValueError, match="cosine, correlation"):
        zoo.dissimilarity(x, "euclid")


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
