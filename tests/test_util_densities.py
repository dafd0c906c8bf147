"""Densities: Gaussian log density and the mixture density of Eq. (2)."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import latent_variable_models_util as lvm


def test_gaussian_logpdf_equals_scipy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    mean = np.array([0.5, -1.0, 2.0])
    A = rng.normal(size=(3, 3))
    cov = A @ A.T + 0.5 * np.eye(3)
    np.testing.assert_allclose(lvm.gaussian_logpdf(X, mean, cov),
                               multivariate_normal(mean, cov).logpdf(X), rtol=1e-12)


def test_gaussian_logpdf_stays_finite_far_from_the_mean():
    far = np.array([[1e4, -1e4]])
    value = lvm.gaussian_logpdf(far, [0.0, 0.0], np.eye(2))[0]
    assert np.isfinite(value)
    np.testing.assert_allclose(value, -np.log(2 * np.pi) - 1e8, rtol=1e-12)


def test_mixture_density_is_the_weighted_sum_of_component_densities():
    X, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=3)
    expected = sum(lvm.pi_true[c] * multivariate_normal(lvm.mu_true[c], lvm.sigma_true[c]).pdf(X) for c in range(3))
    np.testing.assert_allclose(lvm.gmm_density(X, lvm.pi_true, lvm.mu_true, lvm.sigma_true), expected, rtol=1e-12)


def test_mixture_density_integrates_to_one():
    g1, g2 = np.meshgrid(np.linspace(-5, 20, 401), np.linspace(-10, 25, 561))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    area = (g1[0, 1] - g1[0, 0]) * (g2[1, 0] - g2[0, 0])
    total = lvm.gmm_density(grid, lvm.pi_true, lvm.mu_true, lvm.sigma_true).sum() * area
    assert abs(total - 1) < 1e-5


def test_mixture_log_density_is_finite_where_every_component_underflows():
    far = np.array([[300.0, 300.0]])
    assert lvm.gmm_density(far, lvm.pi_true, lvm.mu_true, lvm.sigma_true)[0] == 0.0
    assert np.isfinite(lvm.gmm_log_density(far, lvm.pi_true, lvm.mu_true, lvm.sigma_true)[0])


def test_zero_weight_components_are_allowed():
    pi = np.array([0.5, 0.5, 0.0])
    X = lvm.mu_true[:2]
    assert np.all(np.isfinite(lvm.gmm_log_density(X, pi, lvm.mu_true, lvm.sigma_true)))


@pytest.mark.parametrize("pi, match", [
    ([0.5, 0.5], r"pi must have shape \(3,\)"),
    ([0.5, 0.6, -0.1], "pi must be non-negative"),
    ([0.2, 0.2, 0.2], "pi must sum to 1"),
])
def test_bad_weights_are_rejected(pi, match):
    with pytest.raises(ValueError, match=match):
        lvm.gmm_density(lvm.mu_true, pi, lvm.mu_true, lvm.sigma_true)


def test_bad_data_are_rejected():
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        lvm.gmm_density(np.zeros(2), lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    with pytest.raises(ValueError, match="X must hold only finite values"):
        lvm.gmm_density([[np.inf, 0.0]], lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    with pytest.raises(ValueError, match="mu must have 3 columns"):
        lvm.gmm_density(np.zeros((4, 3)), lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    with pytest.raises(ValueError, match="X must not be empty"):
        lvm.gmm_density(np.zeros((0, 2)), lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    with pytest.raises(ValueError, match="mean must have shape"):
        lvm.gaussian_logpdf(np.zeros((4, 2)), [0.0, 0.0, 0.0], np.eye(2))
