"""Feather et al.'s success test: an IRI's activations must correlate with its target's more
than any random pair of natural images' do."""

import numpy as np
import torch

from science.success import beats_null, null_distribution, rank_correlations


def _photos(n: int, seed: int = 0) -> torch.Tensor:
    """Smooth random images (N×3×16×16 in [0, 1]), unlike one another."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g)
    return torch.nn.functional.interpolate(coarse, size=16, mode="bilinear", align_corners=False)


def test_an_identity_like_network_s_iris_all_beat_the_null_and_a_mean_colour_network_s_none():
    targets = _photos(40)
    g = torch.Generator().manual_seed(1)
    iris = (targets + 0.02 * torch.randn(targets.shape, generator=g)).clamp(0, 1)  # close in every pixel

    def identity(x):
        return x

    def mean_colour(x):
        return x.mean(dim=(2, 3))  # three numbers: any image of the same mean colour matches exactly

    for network, expected in ((identity, True), (mean_colour, False)):
        null = null_distribution(network(targets), generator=torch.Generator().manual_seed(0))
        rho = rank_correlations(network(targets), network(iris))
        # The threshold: above every one of the 1,000 random pairs' correlations.
        assert len(null) == 1000
        assert all(beats_null(r, null) == expected for r in rho), (network.__name__, rho.min(), null.max())
    same_colour = targets.mean(dim=(2, 3), keepdim=True).expand_as(targets)  # flat images, the target's colour
    assert np.allclose(rank_correlations(mean_colour(targets), mean_colour(same_colour)), 1.0)


def test_rank_correlations_are_spearman_per_row():
    from scipy import stats

    a, b = torch.randn(5, 2, 7), torch.randn(5, 2, 7)
    expected = [stats.spearmanr(a[i].flatten(), b[i].flatten())[0] for i in range(5)]
    assert np.allclose(rank_correlations(a, b), expected)
    assert not beats_null(0.99, np.array([])) and not beats_null(float("nan"), np.array([0.1]))
