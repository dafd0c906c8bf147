"""The fast EM (lvmbook.suffstats and lvmbook.fast_em) never returns NaN or a silently wrong fit.

Each hard case either gives the right answer (checked against an exact
reference or a transformed problem with a known answer) or raises a clear,
specific error.
"""

import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import latent_variable_models_util as lvm


@pytest.fixture(scope="module")
def X():
    data, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=606)
    return data


def start_near_truth():
    return lvm.pi_true.copy(), lvm.mu_true + 0.5, lvm.sigma_true.copy()


def fixed_iterations(X, init, n_iter=30, **kwargs):
    """fit_gmm from given parameters for exactly n_iter M-steps (tol=0 never converges: no warning wanted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lvm.EMConvergenceWarning)
        return lvm.fit_gmm(X, len(init[0]), init=init, max_iter=n_iter, tol=0.0, **kwargs)


def assert_finite(fit):
    for value in (fit.pi, fit.mu, fit.sigma, fit.sigma_chol, fit.log_likelihood, fit.lower_bound_history):
        assert np.all(np.isfinite(value))


def test_point_far_from_every_component_gets_exact_finite_posterior(X):
    far = np.vstack([X, [[400.0, -300.0]]])
    pi, mu, sigma = start_near_truth()
    # In linear space every density of the far point underflows to 0: the article's 0 / 0
    dens = np.column_stack([pi[c] * multivariate_normal(mu[c], sigma[c]).pdf(far[-1:]) for c in range(3)])
    assert np.all(dens == 0.0)
    log_q, log_px = lvm.log_responsibilities(far, pi, mu, np.linalg.cholesky(sigma))
    assert np.all(np.isfinite(log_px)) and not np.any(np.isnan(log_q))
    log_joint = np.column_stack([np.log(pi[c]) + multivariate_normal(mu[c], sigma[c]).logpdf(far[-1])
                                 for c in range(3)])
    expected = log_joint - np.logaddexp.reduce(log_joint, axis=1, keepdims=True)
    assert np.allclose(log_q[-1], expected[0], rtol=1e-12, atol=1e-9)
    assert abs(np.exp(log_q[-1]).sum() - 1.0) < 1e-14
    fit = fixed_iterations(far, (pi, mu, sigma), n_iter=5)
    assert_finite(fit)


def test_overflowing_distance_is_a_clear_error(X):
    pi, mu, sigma = start_near_truth()
    huge = np.vstack([X, [[1e200, 1e200]]])
    with pytest.raises(ValueError, match=r"X\[1000\] has zero density under every component even in log space"):
        lvm.log_responsibilities(huge, pi, mu, np.linalg.cholesky(sigma))


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_rescaled_data_give_the_rescaled_fit(X, scale):
    plain = lvm.fit_gmm(X, 3, n_restarts=1, seed=607)
    scaled = lvm.fit_gmm(X * scale, 3, n_restarts=1, seed=607)
    assert scaled.n_iter == plain.n_iter
    assert np.allclose(scaled.mu, plain.mu * scale, rtol=1e-9, atol=0)
    assert np.allclose(scaled.sigma, plain.sigma * scale ** 2, rtol=1e-8, atol=1e-8 * scale ** 2)
    assert np.allclose(scaled.pi, plain.pi, rtol=1e-9, atol=0)
    # log p(s x) = log p(x) - D log s for every point
    assert abs(scaled.log_likelihood - (plain.log_likelihood - X.size * np.log(scale))) < 1e-6
    assert_finite(scaled)


def test_data_shifted_by_a_million_give_the_shifted_fit(X):
    shift = 1e6
    init = start_near_truth()
    plain = fixed_iterations(X, init)
    shifted = fixed_iterations(X + shift, (init[0], init[1] + shift, init[2]))
    # Adding 1e6 rounds every coordinate by up to 6e-11: that, not the algorithm, limits agreement.
    assert np.allclose(shifted.mu - shift, plain.mu, rtol=0, atol=1e-8)
    assert np.allclose(shifted.sigma, plain.sigma, rtol=1e-7, atol=1e-8)
    assert np.allclose(shifted.pi, plain.pi, rtol=0, atol=1e-8)
    assert abs(shifted.log_likelihood - plain.log_likelihood) < 1e-5


def test_duplicating_every_point_changes_only_the_log_likelihood(X):
    init = start_near_truth()
    once = fixed_iterations(X, init)
    twice = fixed_iterations(np.vstack([X, X]), init)
    assert np.allclose(twice.pi, once.pi, rtol=1e-12, atol=0)
    assert np.allclose(twice.mu, once.mu, rtol=1e-12, atol=0)
    assert np.allclose(twice.sigma, once.sigma, rtol=1e-11, atol=0)
    assert abs(twice.log_likelihood - 2 * once.log_likelihood) < 1e-9 * abs(once.log_likelihood)


def test_component_on_identical_points_collapses_clearly_and_reg_covar_fixes_it(X):
    copies = np.vstack([X, np.tile([[20.0, 20.0]], (30, 1))])
    pi = np.array([0.3, 0.17, 0.5, 0.03])
    mu = np.vstack([lvm.mu_true, [[19.0, 19.0]]])
    sigma = np.concatenate([lvm.sigma_true, np.eye(2)[None]])
    with pytest.raises(lvm.CollapsedComponentError, match=r"covariance of component 3 (is not positive definite|has collapsed)") as info:
        fixed_iterations(copies, (pi, mu, sigma))
    assert info.value.component == 3
    reg = 1e-4
    fit = fixed_iterations(copies, (pi, mu, sigma), reg_covar=reg)
    assert_finite(fit)
    # the component holds exactly the 30 copies, whose own covariance is 0: only reg_covar is left
    assert abs(fit.pi[3] - 30 / 1030) < 1e-12
    assert np.allclose(fit.mu[3], [20.0, 20.0], rtol=0, atol=1e-12)
    assert np.allclose(fit.sigma[3], reg * np.eye(2), rtol=1e-9, atol=1e-15)


def test_covariance_collapsing_onto_one_point_is_an_error_naming_the_component(X):
    pi = np.array([0.3, 0.3, 0.4])
    mu = np.array([[5.0, 5.0], X[17], [9.5, 7.5]])
    sigma = np.array([np.eye(2), 1e-3 * np.eye(2), np.eye(2)])
    history = []
    with pytest.raises(lvm.CollapsedComponentError, match=r"covariance of component 1 (is not positive definite|has collapsed).*reg_covar > 0") as info:
        lvm.fit_gmm(X, 3, init=(pi, mu, sigma), callback=lambda r, it, ll, *_: history.append(ll))
    assert info.value.component == 1
    assert all(np.isfinite(history))
    # the bound jumped up while the component shrank onto the point (it is unbounded there)
    assert len(history) >= 2 and history[-1] > history[0] + 500
    fit = fixed_iterations(X, (pi, mu, sigma), n_iter=100, reg_covar=1e-3)
    assert_finite(fit)
    assert np.linalg.eigvalsh(fit.sigma).min() >= 1e-3


def test_component_left_with_no_points_is_an_error_naming_it(X):
    pi = np.array([0.4, 0.3, 0.3])
    mu = np.array([[5.0, 5.0], [8.0, 7.5], [1e4, 1e4]])
    chol = np.tile(np.eye(2), (3, 1, 1))
    stats = lvm.sufficient_statistics(X, pi, mu, chol)
    assert stats.sum_q[2] == 0.0 and np.all(np.isfinite(stats.sum_qxx))
    with pytest.raises(lvm.CollapsedComponentError, match="component 2 has total responsibility 0: no data are left"):
        lvm.m_step_from_stats(stats)
    with pytest.raises(lvm.CollapsedComponentError, match="every one of the 1 restarts collapsed"):
        lvm.fit_gmm(X, 3, init=(pi, mu, chol))


def test_zero_weight_component_has_zero_posterior_not_nan(X):
    pi = np.array([0.5, 0.5, 0.0])
    log_q, log_px = lvm.log_responsibilities(X, pi, lvm.mu_true, np.linalg.cholesky(lvm.sigma_true))
    assert np.all(log_q[:, 2] == -np.inf) and np.all(np.isfinite(log_q[:, :2]))
    assert np.allclose(np.exp(log_q).sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.all(np.isfinite(log_px))


def test_covariance_of_points_on_a_line_is_not_positive_definite():
    line = np.column_stack([np.arange(10.0), 2 * np.arange(10.0)])
    stats = lvm.sufficient_statistics(line, np.ones(1), line.mean(axis=0, keepdims=True), np.eye(2)[None])
    with pytest.raises(lvm.CollapsedComponentError, match="component 0"):
        lvm.m_step_from_stats(stats)
    assert lvm.m_step_from_stats(stats, reg_covar=1e-6)[3].shape == (1, 2, 2)


@pytest.mark.parametrize("seed", range(5))
def test_points_on_a_plane_give_a_numerically_singular_covariance(seed):
    # In floating point the Cholesky factorisation of such a covariance may "succeed"
    # with a pivot at rounding level; the check on the pivot catches it.
    rng = np.random.default_rng(seed)
    plane = rng.standard_normal((50, 2)) @ rng.standard_normal((2, 3)) + 5.0
    stats = lvm.sufficient_statistics(plane, np.ones(1), plane.mean(axis=0, keepdims=True), np.eye(3)[None])
    with pytest.raises(lvm.CollapsedComponentError,
                       match="covariance of component 0 (is not positive definite|has collapsed)"):
        lvm.m_step_from_stats(stats)


def test_fifty_dimensions_recover_the_components():
    rng = np.random.default_rng(608)
    D, C = 50, 3
    centers = 4.0 * rng.standard_normal((C, D))
    X = np.concatenate([centers[c] + rng.standard_normal((1000, D)) for c in range(C)])
    fit = lvm.fit_gmm(X, C, n_restarts=2, init="kmeans", seed=609)
    assert_finite(fit)
    assert fit.converged
    order = [int(np.argmin(np.linalg.norm(fit.mu - centers[c], axis=1))) for c in range(C)]
    assert sorted(order) == [0, 1, 2]
    assert np.allclose(fit.mu[order], centers, atol=0.2)
    assert np.allclose(fit.pi, 1 / 3, atol=1e-3)


def test_as_many_components_as_points_fails_clearly_unless_regularised(X):
    few = X[:12]
    with pytest.raises(lvm.CollapsedComponentError, match="every one of the 10 restarts collapsed"):
        lvm.fit_gmm(few, 10, seed=610)
    fit = lvm.fit_gmm(few, 10, seed=610, reg_covar=1e-2)
    assert_finite(fit)
    assert fit.n_failed_restarts == 0 and np.all(fit.pi > 0)


def test_ill_conditioned_covariance_is_fitted_exactly():
    rng = np.random.default_rng(611)
    # a thin ellipse: standard deviations 1 and 1e-5 along rotated axes (condition number 1e10)
    R = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    X = rng.standard_normal((2000, 2)) * [1.0, 1e-5] @ R.T + 3.0
    fit = lvm.fit_gmm(X, 1, n_restarts=1, seed=612)
    # one component: the MLE is the sample mean and the (biased) sample covariance
    assert np.allclose(fit.mu[0], X.mean(axis=0), rtol=1e-12, atol=0)
    assert np.allclose(fit.sigma[0], np.cov(X.T, bias=True), rtol=1e-6, atol=1e-15)
    assert np.linalg.cond(fit.sigma[0]) > 1e9
