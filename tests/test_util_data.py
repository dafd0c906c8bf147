"""lvmbook.data: the article's mixture and its sampler."""

import numpy as np
import pytest

import latent_variable_models_util as lvm


def test_article_parameters_have_the_article_values():
    assert lvm.n_true.tolist() == [320, 170, 510]
    assert lvm.mu_true.shape == (3, 2) and lvm.sigma_true.shape == (3, 2, 2)
    np.testing.assert_array_equal(lvm.mu_true[1], [6.5, 8.0])
    np.testing.assert_array_equal(lvm.sigma_true[2], [[0.7, 0.9], [0.9, 5.0]])
    np.testing.assert_allclose(lvm.pi_true, [0.32, 0.17, 0.51])


def test_generate_data_returns_points_and_one_hot_labels_component_by_component():
    X, T = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=0)
    assert X.shape == (1000, 2) and T.shape == (1000, 3)
    assert set(np.unique(T)) == {0, 1} and np.all(T.sum(axis=1) == 1)
    assert T.sum(axis=0).tolist() == [320, 170, 510]
    assert np.all(T[:320, 0] == 1) and np.all(T[-510:, 2] == 1)


def test_same_seed_gives_identical_data_and_generators_are_accepted():
    a, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=7)
    b, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=7)
    c, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=np.random.default_rng(7))
    d, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.allclose(a, d)


def test_unseeded_draws_differ():
    a, _ = lvm.generate_data([5], [[0.0]], [[[1.0]]])
    b, _ = lvm.generate_data([5], [[0.0]], [[[1.0]]])
    assert not np.array_equal(a, b)


def test_sample_moments_match_the_parameters():
    n = np.array([40_000, 40_000])
    mu = np.array([[0.0, 1.0, 2.0], [-3.0, 0.0, 5.0]])
    sigma = np.array([np.eye(3), [[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 0.5]]])
    X, T = lvm.generate_data(n, mu, sigma, seed=1)
    for c in range(2):
        pts = X[T[:, c] == 1]
        np.testing.assert_allclose(pts.mean(axis=0), mu[c], atol=0.03)
        np.testing.assert_allclose(np.cov(pts.T), sigma[c], atol=0.04)


def test_zero_count_components_are_allowed():
    X, T = lvm.generate_data([0, 4, 0], lvm.mu_true, lvm.sigma_true, seed=0)
    assert X.shape == (4, 2) and T[:, 1].sum() == 4


@pytest.mark.parametrize("n, match", [
    ([320, -1, 5], "n must be non-negative"),
    ([1.5, 2, 3], "n must hold whole numbers"),
    ([0, 0, 0], "positive total"),
    ([[1, 2, 3]], "1-D"),
    (["a", "b", "c"], "integers"),
])
def test_bad_counts_are_rejected(n, match):
    with pytest.raises(ValueError, match=match):
        lvm.generate_data(n, lvm.mu_true, lvm.sigma_true, seed=0)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="mu must have 2 rows"):
        lvm.generate_data([1, 2], lvm.mu_true, lvm.sigma_true, seed=0)
    with pytest.raises(ValueError, match="sigma must hold 2x2 matrices"):
        lvm.generate_data(lvm.n_true, lvm.mu_true, np.stack([np.eye(3)] * 3), seed=0)


def test_bad_covariances_are_rejected():
    asym = lvm.sigma_true.copy()
    asym[0, 0, 1] = 0.5
    with pytest.raises(ValueError, match=r"sigma\[0\] must be symmetric"):
        lvm.generate_data(lvm.n_true, lvm.mu_true, asym, seed=0)
    indefinite = lvm.sigma_true.copy()
    indefinite[1] = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(ValueError, match=r"sigma\[1\] must be positive definite"):
        lvm.generate_data(lvm.n_true, lvm.mu_true, indefinite, seed=0)


def test_non_finite_parameters_are_rejected():
    mu = lvm.mu_true.copy()
    mu[0, 0] = np.nan
    with pytest.raises(ValueError, match="mu must hold only finite values"):
        lvm.generate_data(lvm.n_true, mu, lvm.sigma_true, seed=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "x", True])
def test_bad_seeds_are_rejected(seed):
    with pytest.raises(ValueError, match="seed must be"):
        lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=seed)
