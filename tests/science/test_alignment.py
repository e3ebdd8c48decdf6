import itertools
import math

import numpy as np
import pytest
from scipy import stats

from science import alignment, zoo
from science.alignment import HumanJudgements, bootstrap_correlation, matrix_alignment
from tests.science.made_up import made_points, noisy_people


def _dissimilarities(n, seed):
    points = np.random.default_rng(seed).normal(size=(n, 3))
    return np.linalg.norm(points[:, None] - points[None], axis=-1)


def _loop_triplet_alignment(d_a, d_b):
    n = len(d_a)
    agree = total = 0
    for i in range(n):
        for j, k in itertools.combinations(range(n), 2):
            if i in (j, k):
                continue
            total += 1
            agree += (d_a[i, j] < d_a[i, k]) == (d_b[i, j] < d_b[i, k])
    return agree / total, total


@pytest.mark.parametrize("n", [3, 7, 12])
def test_exhaustive_triplet_alignment_matches_a_plain_loop(n):
    d_a, d_b = _dissimilarities(n, 0), _dissimilarities(n, 1)
    expected, total = _loop_triplet_alignment(d_a, d_b)
    result = alignment.triplet_alignment(d_a, d_b, block=5)
    assert result.value == pytest.approx(expected)
    assert result.n == total == alignment.n_triplets(n)


def test_identical_and_reversed_agents():
    d = _dissimilarities(10, 0)
    assert alignment.triplet_alignment(d, d).value == 1.0
    assert alignment.triplet_alignment(d, -d).value == 0.0


def test_sampled_estimate_brackets_the_exhaustive_value():
    d_a, d_b = _dissimilarities(40, 0), _dissimilarities(40, 1)
    exact = alignment.triplet_alignment(d_a, d_b).value
    estimate = alignment.triplet_alignment(d_a, d_b, samples=20_000, seed=3)
    assert not estimate.exhaustive
    assert estimate.ci_low <= exact <= estimate.ci_high
    assert estimate.ci_high - estimate.ci_low < 0.02
    again = alignment.triplet_alignment(d_a, d_b, samples=20_000, seed=3)
    assert again == estimate


def test_sampled_triplets_never_repeat_an_item():
    # The agents differ only on the diagonal, which a triplet of distinct items never reads.
    d_a = _dissimilarities(5, 0)
    d_b = d_a.copy()
    np.fill_diagonal(d_b, 100.0)
    assert alignment.triplet_alignment(d_a, d_b).value == 1.0
    assert alignment.triplet_alignment(d_a, d_b, samples=5000).value == 1.0


def test_pairwise_alignment_uses_the_upper_triangle():
    s_a, s_b = -_dissimilarities(15, 0), -_dissimilarities(15, 1)
    iu = np.triu_indices(15, k=1)
    assert alignment.pairwise_alignment(s_a, s_b).value == pytest.approx(stats.pearsonr(s_a[iu], s_b[iu])[0])
    assert alignment.pairwise_alignment(s_a, s_b, "spearman").value == pytest.approx(
        stats.spearmanr(s_a[iu], s_b[iu])[0]
    )
    assert alignment.pairwise_alignment(s_a, s_b).n == 105
    with pytest.raises(ValueError, match="different items"):
        alignment.pairwise_alignment(s_a, s_b[:5, :5])


def test_partial_correlation_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    z = rng.normal(size=50)
    x, y = z + rng.normal(size=50), z + rng.normal(size=50)
    r_xy, r_xz, r_yz = (np.corrcoef(a, b)[0, 1] for a, b in ((x, y), (x, z), (y, z)))
    textbook = (r_xy - r_xz * r_yz) / math.sqrt((1 - r_xz**2) * (1 - r_yz**2))
    result = alignment.partial_correlation(x, y, z)
    assert result.value == pytest.approx(textbook)
    assert result.value < r_xy  # the shared cause is removed
    assert 0 <= result.p_value <= 1


def test_z_squared_high_mid_low_and_capacity():
    scores = np.array([1.0, 2.0, 3.0])
    assert alignment.z_squared(scores) == pytest.approx([1.5, 0.0, 1.5])
    a = np.arange(15.0)
    groups = alignment.high_mid_low(a, a * 10, k=5)
    assert groups == {"high": 120.0, "mid": 70.0, "low": 20.0}
    assert alignment.channel_capacity(0.0) == 1.0
    assert alignment.channel_capacity(0.5) == 0.0
    assert alignment.channel_capacity(0.1) == pytest.approx(alignment.channel_capacity(0.9))
    assert alignment.channel_capacity(0.1) == pytest.approx(1 + 0.1 * math.log2(0.1) + 0.9 * math.log2(0.9))
    assert alignment.triplet_queries(d=3, n=100, e=0.5) == math.inf


def test_a_tie_against_a_strict_answer_counts_half():
    d_a = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 2.0], [1.0, 2.0, 0.0]])  # item 0 is equidistant
    d_b = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
    # Triplets: (0; 1, 2) tie vs strict -> 1/2; (1; 0, 2) agree; (2; 0, 1): A 1<2 yes, B 3<2 no -> 0.
    assert alignment.triplet_alignment(d_a, d_b).value == pytest.approx(1.5 / 3)
    assert alignment.triplet_alignment(d_a, d_a).value == 1.0


def test_fleiss_kappa_matches_the_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories -> kappa 0.210.
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert alignment.fleiss_kappa(np.array(counts)) == pytest.approx(0.210, abs=5e-4)
    assert alignment.fleiss_kappa(np.array([[3, 0], [0, 3]])) == 1.0


def test_the_noise_ceiling_is_rsatoolboxs_leave_one_out_bounds():
    rsatoolbox = pytest.importorskip("rsatoolbox")
    _, people = noisy_people(noise=1.0)
    low, high = rsatoolbox.inference.boot_noise_ceiling(rsatoolbox.rdm.RDMs(people), method="spearman")
    ceiling = HumanJudgements(people.mean(0), people=people).ceiling("person")
    # rsatoolbox pools ranked matrices where we average the matrices: the same bounds to rounding.
    assert ceiling["spearman"] == pytest.approx((low, high), abs=0.01)
    assert ceiling["spearman"][0] < ceiling["spearman"][1] < 1


def test_the_bootstrap_interval_holds_the_value_and_narrows_with_more_images():
    _, people = noisy_people(n=60, p=4, noise=1.0)
    model = zoo.dissimilarity(made_points(60, seed=0) + np.random.default_rng(5).normal(scale=0.5, size=(60, 6)))
    small = bootstrap_correlation(model[:20, :20], people.mean(0)[:20, :20], method="spearman", n_boot=300)
    large = bootstrap_correlation(model, people.mean(0), method="spearman", n_boot=300)
    for e in (small, large):
        assert e.ci_low < e.value < e.ci_high
    assert large.ci_high - large.ci_low < small.ci_high - small.ci_low


def test_permuting_images_and_people_together_changes_no_figure():
    _, people = noisy_people(n=24)
    model = zoo.dissimilarity(made_points(24, seed=0) + np.random.default_rng(9).normal(scale=0.7, size=(24, 6)))
    keys = np.array([f"{i:03d}" for i in range(24)])
    perm = np.random.default_rng(3).permutation(24)
    human = HumanJudgements(people.mean(0), people=people)
    moved = HumanJudgements(people.mean(0)[np.ix_(perm, perm)], people=people[:, perm][:, :, perm])
    before = human.alignment(model, n_boot=200, order=np.argsort(keys)).row()
    after = moved.alignment(model[np.ix_(perm, perm)], n_boot=200, order=np.argsort(keys[perm])).row()
    assert after == pytest.approx(before, abs=1e-12)
    for comparison in ("group", "person"):
        before, after = human.ceiling(comparison), moved.ceiling(comparison)
        for method in ("pearson", "spearman", "triplet"):
            assert after[method] == pytest.approx(before[method], abs=1e-12)


def test_a_monotone_transform_of_the_human_matrix_changes_no_rank_figure():
    _, people = noisy_people(n=24)
    model = zoo.dissimilarity(made_points(24, seed=0) + np.random.default_rng(9).normal(scale=0.7, size=(24, 6)))
    group = people.mean(0)
    plain = matrix_alignment(model, group, n_boot=200)
    squashed = matrix_alignment(model, np.log1p(5 * group) ** 3, n_boot=200)
    assert squashed.spearman == plain.spearman
    assert squashed.triplet == plain.triplet
    assert squashed.pearson.value != pytest.approx(plain.pearson.value)


def test_a_random_human_matrix_gives_no_alignment():
    rng = np.random.default_rng(0)
    noise = rng.random((80, 80))
    noise = (noise + noise.T) / 2
    np.fill_diagonal(noise, 0)
    result = matrix_alignment(zoo.dissimilarity(made_points(80, 10)), noise, n_boot=200)
    assert abs(result.spearman.value) < 0.05
    assert result.spearman.ci_low < 0 < result.spearman.ci_high
    assert result.triplet.value == pytest.approx(0.5, abs=0.01)


def test_human_triplets_are_scored_on_the_answers_people_gave():
    truth = zoo.dissimilarity(made_points(15))
    from science.similarity import sample_triplets, triplet_answers

    t = sample_triplets(15, 400, seed=1)
    answers = triplet_answers(truth, t)
    human = HumanJudgements(truth, triplets=t, answers=answers, workers=np.array(["a", "b"] * 200))
    exact = human.alignment(truth, n_boot=50)
    assert exact.triplet.value == 1.0 and exact.triplet.n == 400
    flipped = human.alignment(truth.max() - truth + np.eye(15) * 0, n_boot=50)
    assert flipped.triplet.value < 0.1
