"""Made-up people and points for the science tests: a ground truth and noisy copies of it."""

import numpy as np

from science import zoo


def made_points(n=30, dim=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim))


def noisy_people(n=20, p=6, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    truth = zoo.dissimilarity(made_points(n, seed=seed))
    people = []
    for _ in range(p):
        m = truth + rng.normal(scale=noise * truth.std(), size=truth.shape)
        m = np.abs((m + m.T) / 2)
        np.fill_diagonal(m, 0)
        people.append(m)
    return truth, np.stack(people)
