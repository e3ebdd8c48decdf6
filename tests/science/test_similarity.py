import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform

from science import similarity as sim
from science.alignment import n_triplets


def _points(n=20, dim=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim))


def _people(base: np.ndarray, n_people: int, noise: float, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_people):
        e = rng.normal(0, noise, base.shape)
        out.append(np.abs(base + (e + e.T) / 2) * (1 - np.eye(len(base))))
    return np.stack(out)


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.zeros((3, 4)), "3×4: a dissimilarity matrix is square"),
        (np.zeros((4, 4)), "4×4 but the image set has 5 images"),
        (np.array([[0, np.nan], [np.nan, 0]]), "2 missing or infinite entries"),
        (np.array([[0, -1.0], [-1.0, 0]]), "negative dissimilarities"),
        (np.array([[0, 1.0], [2.0, 0]]), "not symmetric"),
    ],
)
def test_bad_matrices_are_refused_saying_what_to_fix(matrix, message):
    n = 5 if matrix.shape == (4, 4) else None
    with pytest.raises(ValueError, match=message):
        sim.check_dissimilarity(matrix, n_items=n)


def test_rounding_asymmetry_is_accepted_and_made_exact():
    d = squareform(pdist(_points(6)))
    d[0, 1] += 1e-9
    clean = sim.check_dissimilarity(d)
    assert (clean == clean.T).all() and (np.diag(clean) == 0).all()


def test_all_triplets_are_the_distinct_ones():
    t = sim.all_triplets(6)
    assert len(t) == n_triplets(6) == 60
    assert len({tuple(r) for r in t}) == 60
    assert (t[:, 1] < t[:, 2]).all() and (t[:, 0] != t[:, 1]).all() and (t[:, 0] != t[:, 2]).all()


def test_sampled_triplets_are_valid_and_cover_every_distinct_triplet():
    t = sim.sample_triplets(5, 20_000, seed=1)
    assert (t[:, 1] < t[:, 2]).all() and (t[:, 0] != t[:, 1]).all() and (t[:, 0] != t[:, 2]).all()
    counts = np.unique(t, axis=0, return_counts=True)[1]
    assert len(counts) == n_triplets(5)
    assert counts.min() > 0.7 * counts.mean()  # roughly uniform


def test_triplet_alignment_is_invariant_to_monotone_transforms_and_to_reordering():
    d = squareform(pdist(_points()))
    t = sim.all_triplets(len(d))
    a = sim.triplet_answers(d, t)
    assert sim.triplet_agreement(a, sim.triplet_answers(np.exp(d) - 1, t)) == 1.0
    perm = np.random.default_rng(0).permutation(len(d))
    inverse = np.argsort(perm)
    permuted = d[np.ix_(perm, perm)]
    assert sim.triplet_agreement(a, sim.triplet_answers(permuted, inverse[t])) == 1.0


def test_a_random_matrix_agrees_with_a_real_one_on_about_half_the_triplets():
    d = squareform(pdist(_points(30)))
    noise = squareform(np.random.default_rng(3).random(len(sim.upper(d))))
    t = sim.sample_triplets(30, 20_000, seed=0)
    assert abs(sim.triplet_agreement(sim.triplet_answers(d, t), sim.triplet_answers(noise, t)) - 0.5) < 0.02


def test_reliability_falls_with_noise_and_spearman_brown_raises_it():
    base = squareform(pdist(_points(25)))
    tight = sim.split_half_reliability(_people(base, 16, 0.2), splits=50)
    loose = sim.split_half_reliability(_people(base, 16, 3.0), splits=50)
    assert tight["split_half_r"] > loose["split_half_r"]
    assert tight["spearman_brown"] > tight["split_half_r"]
    assert sim.spearman_brown(0.5) == pytest.approx(2 / 3)
    items = sim.item_reliability(_people(base, 16, 0.2), splits=5)
    assert items.shape == (25,) and np.nanmin(items) > 0.5


def test_an_embedding_fitted_to_triplets_recovers_the_distances_it_was_not_asked_about():
    points = _points(20, dim=3)
    d = squareform(pdist(points))
    t = sim.sample_triplets(20, 3000, seed=0)
    x = sim.fit_embedding(
        t, sim.triplet_answers(d, t), 20, dim=3, steps=300, generator=torch.Generator().manual_seed(0)
    )
    held_out = sim.all_triplets(20)
    agreement = sim.triplet_agreement(
        sim.triplet_answers(d, held_out), sim.triplet_answers(sim.embedding_dissimilarity(x), held_out)
    )
    assert agreement > 0.9


def test_a_simulated_participant_agrees_with_its_own_network_and_less_with_noise():
    a, b = _points(20, dim=16, seed=1), _points(20, dim=16, seed=2)
    t = sim.all_triplets(20)
    own = 1 - (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (a / np.linalg.norm(a, axis=1, keepdims=True)).T
    truth = sim.triplet_answers(own, t)
    scores = [sim.triplet_agreement(truth, sim.simulated_answers(a, t, noise=s)) for s in (0.0, 0.1, 1.0)]
    assert scores[0] == 1.0 and scores[0] > scores[1] > 0.9 > scores[2]
    other = 1 - (b / np.linalg.norm(b, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    person = sim.simulated_answers(a, t, noise=0.1)
    assert sim.triplet_agreement(person, truth) > sim.triplet_agreement(person, sim.triplet_answers(other, t)) + 0.2


def test_the_adaptive_sampler_picks_unasked_uncertain_triplets():
    x = _points(200, dim=5)
    asked = {tuple(r) for r in sim.sample_triplets(200, 100, seed=9)}
    chosen = sim.most_uncertain_triplets(x, 10, exclude=asked)
    assert len(chosen) == 10 and not {tuple(r) for r in chosen} & asked
    p = sim._tste_probability(torch.as_tensor(x), torch.as_tensor(chosen), 4.0).numpy()
    random_p = sim._tste_probability(torch.as_tensor(x), torch.as_tensor(sim.sample_triplets(200, 1000)), 4.0).numpy()
    assert np.abs(p - 0.5).max() < np.median(np.abs(random_p - 0.5))


@pytest.mark.parametrize(
    ("triplets", "answers", "message"),
    [
        ([[0, 1, 9]], [1], "row 1 names image"),
        ([[0, 0, 1]], [1], "repeats an image"),
        ([[0, 1, 2]], [2], "each choice is 1"),
        ([[0, 1]], [1], "rows of three"),
    ],
)
def test_bad_triplet_lists_are_refused(triplets, answers, message):
    with pytest.raises(ValueError, match=message):
        sim.check_triplets(np.array(triplets), np.array(answers), n_items=5)


def test_an_odd_one_out_answer_is_two_triplets():
    assert sim.odd_one_out_triplets(0, 1, 2) == [(0, 1, 2), (1, 0, 2)]


def test_a_participant_simulated_from_a_network_comes_out_best_aligned_with_that_network(shared_dir):
    """Two real networks' penultimate features on the 92 object images: a participant who judges
    by one network's features (with noise) agrees with that network above 0.9 at low noise, less
    as noise grows, and always more than with the other network."""
    from scipy.io import loadmat
    from torchvision.transforms.functional import resize

    from science.networks import BUILTINS, LayerRepresentation, build_network, default_layer

    stimuli = loadmat(
        shared_dir / "data" / "kriegeskorte92" / "Kriegeskorte_Neuron2008_supplementalData.mat",
        squeeze_me=True,
        struct_as_record=False,
    )["stimuli_92objs"][::4]
    images = resize(torch.stack([torch.as_tensor(s.image).permute(2, 0, 1) / 255.0 for s in stimuli]), 128)
    features = {}
    for name in ("alexnet-imagenet", "efficientnet-lite0-imagenet"):
        net = build_network("builtin", name)
        g = LayerRepresentation(net, default_layer(net), BUILTINS[name].mean, BUILTINS[name].std)
        with torch.no_grad():
            features[name] = g(images).flatten(1).numpy()
    t = sim.all_triplets(len(images))

    def own(f):
        f = f / np.linalg.norm(f, axis=1, keepdims=True)
        return sim.triplet_answers(1 - f @ f.T, t)

    alex, lite = own(features["alexnet-imagenet"]), own(features["efficientnet-lite0-imagenet"])
    scores = []
    for noise in (0.05, 0.5, 2.0):
        person = sim.simulated_answers(features["alexnet-imagenet"], t, noise=noise, seed=1)
        scores.append(sim.triplet_agreement(person, alex))
        assert sim.triplet_agreement(person, alex) > sim.triplet_agreement(person, lite)
    assert scores[0] > 0.9 and scores[0] > scores[1] > scores[2]


def test_triplet_reliability_is_high_for_consistent_people_and_chance_for_coin_flips():
    d = squareform(pdist(_points(12)))
    t = sim.all_triplets(12)
    rng = np.random.default_rng(0)
    workers = np.repeat([f"w{n}" for n in range(6)], len(t))
    triplets = np.tile(t, (6, 1))
    swapped = triplets[:, [0, 2, 1]]  # the same triplets shown the other way round to half the people
    flip = rng.random(len(triplets)) < 0.5
    shown = np.where(flip[:, None], swapped, triplets)
    truth = sim.triplet_answers(d, shown)
    careful = np.where(rng.random(len(shown)) < 0.95, truth, 1 - truth)
    consistent = sim.triplet_reliability(shown, careful, workers, splits=20)
    assert consistent["split_half_agreement"] > 0.95 and consistent["noise_ceiling"] > 0.9
    assert consistent["people"] == 6 and consistent["triplets_asked_twice"] == len(t)
    coins = sim.triplet_reliability(shown, rng.integers(0, 2, len(shown)), workers, splits=20)
    assert abs(coins["noise_ceiling"] - 0.5) < 0.05 and abs(coins["split_half_agreement"] - 0.5) < 0.1
    alone = sim.triplet_reliability(t, sim.triplet_answers(d, t), np.array(["w"] * len(t)))
    assert alone["split_half_agreement"] is None and alone["noise_ceiling"] is None
