"""The article's EM (lvmbook.article_em): E-step, M-step, lower bound, initialisation, training."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import latent_variable_models_util as lvm
import lvmbook.article_em


@pytest.fixture(scope="module")
def data():
    X, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=11)
    return X


def _posterior_by_scipy(X, pi, mu, sigma):
    dens = np.column_stack([pi[c] * multivariate_normal(mu[c], sigma[c]).pdf(X) for c in range(len(pi))])
    return dens / dens.sum(axis=1, keepdims=True)


# --- E-step, Eq. (6) ---------------------------------------------------------

def test_e_step_shape_and_rows_sum_to_one(data):
    q = lvm.e_step(data, lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    assert q.shape == (1000, 3)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(q >= 0)


def test_e_step_equals_the_normalised_joint_densities(data):
    q = lvm.e_step(data, lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    np.testing.assert_allclose(q, _posterior_by_scipy(data, lvm.pi_true, lvm.mu_true, lvm.sigma_true),
                               rtol=1e-9, atol=1e-14)


def test_e_step_far_point_gets_finite_probabilities():
    far = np.array([[1e3, 1e3], [-1e3, 5.0]])
    # in linear space every density underflows to 0, so the article's normalisation is 0 / 0
    assert np.all(multivariate_normal(lvm.mu_true[0], lvm.sigma_true[0]).pdf(far) == 0)
    q = lvm.e_step(far, lvm.pi_true, lvm.mu_true, lvm.sigma_true)
    assert np.all(np.isfinite(q))
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-12)
    # the component with the largest log joint takes the point
    log_joint = np.log(lvm.pi_true) + np.column_stack(
        [lvm.gaussian_logpdf(far, lvm.mu_true[c], lvm.sigma_true[c]) for c in range(3)])
    np.testing.assert_array_equal(q.argmax(axis=1), log_joint.argmax(axis=1))
    np.testing.assert_allclose(q.max(axis=1), 1.0, atol=1e-12)


def test_e_step_gives_zero_responsibility_to_a_zero_weight_component(data):
    pi = np.array([0.5, 0.0, 0.5])
    q = lvm.e_step(data, pi, lvm.mu_true, lvm.sigma_true)
    assert np.all(q[:, 1] == 0.0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-12)


# --- M-step, Eqs. (16)-(18) ---------------------------------------------------

def test_m_step_one_dimensional_hand_computed():
    X = np.array([[0.0], [1.0], [3.0]])
    q = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    pi, mu, sigma = lvm.m_step(X, q)
    # N_c = (1.5, 1.5); mu_1 = 0.5 / 1.5; mu_2 = 3.5 / 1.5
    np.testing.assert_allclose(pi, [0.5, 0.5], rtol=1e-15)
    np.testing.assert_allclose(mu[:, 0], [1 / 3, 7 / 3], rtol=1e-14)
    # sigma_1 = (1 * (1/3)^2 + 0.5 * (2/3)^2) / 1.5 = 2/9; sigma_2 = (0.5 * (4/3)^2 + (2/3)^2) / 1.5 = 8/9
    np.testing.assert_allclose(sigma[:, 0, 0], [2 / 9, 8 / 9], rtol=1e-14)


def test_m_step_two_dimensional_hand_computed_covariance():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 3.0]])
    q = np.ones((3, 1))
    pi, mu, sigma = lvm.m_step(X, q)
    np.testing.assert_allclose(pi, [1.0])
    np.testing.assert_allclose(mu[0], [1.0, 4 / 3], rtol=1e-14)
    np.testing.assert_allclose(sigma[0], [[2 / 3, 1.0], [1.0, 14 / 9]], rtol=1e-14)


def test_m_step_weighted_estimates_on_random_soft_assignments(data):
    q = np.random.default_rng(1).dirichlet(np.ones(3), size=data.shape[0])
    pi, mu, sigma = lvm.m_step(data, q)
    assert pi.shape == (3,) and mu.shape == (3, 2) and sigma.shape == (3, 2, 2)
    for c in range(3):
        w = q[:, c]
        np.testing.assert_allclose(pi[c], w.mean(), rtol=1e-12)
        np.testing.assert_allclose(mu[c], np.average(data, axis=0, weights=w), rtol=1e-12)
        np.testing.assert_allclose(sigma[c], np.cov(data.T, aweights=w, bias=True), rtol=1e-10)


def test_m_step_dead_component_raises_instead_of_nan(data):
    q = np.zeros((data.shape[0], 3))
    q[:, 0] = 0.4
    q[:, 2] = 0.6
    with pytest.raises(lvm.DegenerateComponentError, match=r"component 1 \(counting from 0\) has total responsibility 0"):
        lvm.m_step(data, q)


def test_m_step_component_on_a_single_point_raises_singular(data):
    q = np.zeros((data.shape[0], 2))
    q[:, 0] = 1.0
    q[0] = [0.0, 1.0]
    with pytest.raises(lvm.DegenerateComponentError, match=r"covariance of component 1 \(counting from 0\) is singular"):
        lvm.m_step(data, q)


def test_degenerate_component_error_is_a_value_error():
    assert issubclass(lvm.DegenerateComponentError, ValueError)


# --- lower bound, Eq. (19) ----------------------------------------------------

def test_lower_bound_equals_log_likelihood_at_the_posterior(data):
    pi, mu, sigma = lvm.random_init_params(data, 3, seed=4)
    q = lvm.e_step(data, pi, mu, sigma)
    log_lik = lvm.gmm_log_density(data, pi, mu, sigma).sum()
    np.testing.assert_allclose(lvm.lower_bound(data, pi, mu, sigma, q), log_lik, rtol=1e-9)


def test_lower_bound_is_below_log_likelihood_by_the_kl_divergence(data):
    pi, mu, sigma = lvm.pi_true, lvm.mu_true, lvm.sigma_true
    posterior = lvm.e_step(data, pi, mu, sigma)
    log_lik = lvm.gmm_log_density(data, pi, mu, sigma).sum()
    rng = np.random.default_rng(2)
    for q in (rng.dirichlet(np.ones(3), size=1000), np.full((1000, 3), 1 / 3), np.eye(3)[rng.integers(0, 3, 1000)]):
        lb = lvm.lower_bound(data, pi, mu, sigma, q)
        kl = np.sum(q * (np.log(np.where(q > 0, q, 1.0)) - np.log(posterior)))
        assert lb < log_lik
        np.testing.assert_allclose(log_lik - lb, kl, rtol=1e-9)


def test_lower_bound_counts_zero_q_terms_as_zero():
    X = np.array([[0.0, 0.0], [3.0, 1.0]])
    pi = np.array([0.0, 1.0])  # weight 0 and q 0: 0 log 0 = 0 as well
    mu = np.array([[0.0, 0.0], [1.0, 1.0]])
    sigma = np.array([np.eye(2), 2 * np.eye(2)])
    q = np.array([[0.0, 1.0], [0.0, 1.0]])
    expected = lvm.gaussian_logpdf(X, mu[1], sigma[1]).sum()
    lb = lvm.lower_bound(X, pi, mu, sigma, q)
    np.testing.assert_allclose(lb, expected, rtol=1e-14)


def test_lower_bound_entropy_term_for_soft_q():
    X = np.array([[0.5, -0.5]])
    pi = np.array([0.25, 0.75])
    mu = np.zeros((2, 2))
    sigma = np.array([np.eye(2), np.eye(2)])
    q = np.array([[0.2, 0.8]])
    log_pdf = lvm.gaussian_logpdf(X, mu[0], sigma[0])[0]
    expected = log_pdf + 0.2 * np.log(0.25) + 0.8 * np.log(0.75) - 0.2 * np.log(0.2) - 0.8 * np.log(0.8)
    np.testing.assert_allclose(lvm.lower_bound(X, pi, mu, sigma, q), expected, rtol=1e-14)


def test_bound_never_decreases_over_em_iterations(data):
    pi, mu, sigma = lvm.random_init_params(data, 3, seed=5)
    bounds = []
    for _ in range(40):
        q = lvm.e_step(data, pi, mu, sigma)
        pi, mu, sigma = lvm.m_step(data, q)
        bounds.append(lvm.lower_bound(data, pi, mu, sigma, q))
    steps = np.diff(bounds)
    assert np.all(steps >= -1e-9 * abs(bounds[-1])), steps.min()
    assert bounds[-1] - bounds[0] > 10  # and it does climb


# --- initialisation -----------------------------------------------------------

@pytest.mark.parametrize("D", [1, 2, 5])
def test_random_init_params_shapes_for_any_dimension(D):
    X = np.random.default_rng(0).normal(size=(200, D)) * np.arange(1, D + 1)
    pi, mu, sigma = lvm.random_init_params(X, 4, seed=0)
    assert pi.shape == (4,) and mu.shape == (4, D) and sigma.shape == (4, D, D)
    np.testing.assert_allclose(pi, 0.25)
    np.testing.assert_array_equal(sigma, np.tile(np.eye(D), (4, 1, 1)))


def test_random_init_means_follow_the_data_mean_and_variances():
    X = np.random.default_rng(0).normal([10.0, -3.0, 0.0], [1.0, 4.0, 0.1], size=(5000, 3))
    _, mu, _ = lvm.random_init_params(X, 4000, seed=1)
    np.testing.assert_allclose(mu.mean(axis=0), X.mean(axis=0), atol=0.2)
    np.testing.assert_allclose(mu.std(axis=0), X.std(axis=0), rtol=0.05)


def test_random_init_params_is_seeded(data):
    a = lvm.random_init_params(data, 3, seed=9)
    b = lvm.random_init_params(data, 3, seed=9)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# --- training -----------------------------------------------------------------

def test_train_returns_shapes_and_a_consistent_bound(data):
    pi, mu, sigma, q, lb = lvm.train(data, 3, seed=0)
    assert pi.shape == (3,) and mu.shape == (3, 2) and sigma.shape == (3, 2, 2) and q.shape == (1000, 3)
    np.testing.assert_allclose(lb, lvm.lower_bound(data, pi, mu, sigma, q), rtol=1e-12)
    assert lb <= lvm.gmm_log_density(data, pi, mu, sigma).sum()


def test_train_is_deterministic_for_a_seed(data):
    first = lvm.train(data, 3, n_restarts=4, seed=123)
    second = lvm.train(data, 3, n_restarts=4, seed=123)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_train_keeps_the_best_restart(data):
    *_, lb, info = lvm.train(data, 3, n_restarts=6, seed=3, return_info=True)
    assert len(info["restart_bounds"]) == 6
    assert lb == np.nanmax(info["restart_bounds"])
    assert info["history"][-1] == lb
    assert np.all(np.diff(info["history"]) >= -1e-9 * abs(lb))


def test_train_finds_the_components_of_well_separated_five_dimensional_data():
    rng = np.random.default_rng(7)
    mu_5d = np.array([[0.0] * 5, [8.0, 0, 0, 0, 0], [0, 0, 8.0, 0, 0]])
    sigma_5d = np.tile(np.eye(5), (3, 1, 1))
    X, _ = lvm.generate_data([300, 200, 100], mu_5d, sigma_5d, seed=rng)
    pi, mu, sigma, q, lb = lvm.train(X, 3, n_restarts=10, max_iter=100, rtol=1e-8, seed=0)
    order = [int(np.argmin(np.linalg.norm(mu - m, axis=1))) for m in mu_5d]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(mu[order], mu_5d, atol=0.3)
    np.testing.assert_allclose(pi[order], [0.5, 1 / 3, 1 / 6], atol=1e-3)


def test_bound_converged_handles_a_previous_bound_of_zero():
    assert lvm.bound_converged(0.0, 0.0, 1e-3)      # the article's `if prev_lb and ...` skipped this
    assert not lvm.bound_converged(0.0, 1.0, 1e-3)
    assert not lvm.bound_converged(None, -5.0, 1e-3)
    assert lvm.bound_converged(-1000.0, -1000.5, 1e-3)
    assert not lvm.bound_converged(-1000.0, -998.0, 1e-3)


def test_train_stops_when_the_bound_stays_exactly_zero(data, monkeypatch):
    calls = []

    def zero_bound(*args):
        calls.append(1)
        return 0.0

    monkeypatch.setattr(lvmbook.article_em, "lower_bound", zero_bound)
    *_, lb, info = lvm.train(data, 2, n_restarts=3, max_iter=50, seed=0, return_info=True)
    assert lb == 0.0
    assert info["n_iter"] == [2, 2, 2]   # converged at the second iteration, not after 50
    assert len(calls) == 6


def test_train_abandons_a_restart_whose_component_collapses(data, monkeypatch):
    real_m_step = lvm.m_step
    calls = []

    def failing_first(X, q):
        calls.append(1)
        if len(calls) == 1:
            raise lvm.DegenerateComponentError("collapsed")
        return real_m_step(X, q)

    monkeypatch.setattr(lvmbook.article_em, "m_step", failing_first)
    *_, lb, info = lvm.train(data, 3, n_restarts=3, seed=0, return_info=True)
    assert info["n_failed"] == 1
    assert np.isnan(info["restart_bounds"][0]) and np.all(np.isfinite(info["restart_bounds"][1:]))
    assert np.isfinite(lb)


def test_train_raises_when_every_restart_collapses():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])  # collinear: every covariance is singular
    with pytest.raises(RuntimeError, match="all 4 restarts were abandoned"):
        lvm.train(X, 1, n_restarts=4, seed=0)


# --- bad input ----------------------------------------------------------------

GOOD = dict(pi=lvm.pi_true, mu=lvm.mu_true, sigma=lvm.sigma_true)


@pytest.mark.parametrize("name, value, match", [
    ("X", np.array([[np.nan, 1.0]]), "X must hold only finite values"),
    ("X", np.ones(3), "X must be a 2-D array"),
    ("pi", np.array([0.5, 0.5, 0.5]), "pi must sum to 1"),
    ("pi", np.array([0.5, 0.5]), r"pi must have shape \(3,\)"),
    ("mu", np.ones((3, 3)), "mu must have 2 columns"),
    ("sigma", np.tile(np.eye(2), (2, 1, 1)), "sigma must hold 3 matrices"),
    ("sigma", np.array([np.eye(2), np.eye(2), -np.eye(2)]), r"sigma\[2\] must be positive definite"),
])
def test_e_step_and_lower_bound_reject_bad_input(data, name, value, match):
    args = dict(X=data, **GOOD)
    args[name] = value
    with pytest.raises(ValueError, match=match):
        lvm.e_step(args["X"], args["pi"], args["mu"], args["sigma"])
    q = np.full((args["X"].shape[0] if args["X"].ndim == 2 else 3, 3), 1 / 3)
    with pytest.raises(ValueError, match=match):
        lvm.lower_bound(args["X"], args["pi"], args["mu"], args["sigma"], q)


def test_lower_bound_rejects_q_of_the_wrong_shape(data):
    with pytest.raises(ValueError, match="q must have 3 columns"):
        lvm.lower_bound(data, lvm.pi_true, lvm.mu_true, lvm.sigma_true, np.full((1000, 2), 0.5))
    with pytest.raises(ValueError, match="q must have 1000 rows"):
        lvm.lower_bound(data, lvm.pi_true, lvm.mu_true, lvm.sigma_true, np.full((10, 3), 1 / 3))


@pytest.mark.parametrize("q, match", [
    (np.full((1000, 3), 0.5), "every row of q must sum to 1"),
    (np.full((999, 3), 1 / 3), "q must have 1000 rows"),
    (-np.ones((1000, 1)), r"q must hold probabilities in \[0, 1\]"),
])
def test_m_step_rejects_bad_q(data, q, match):
    with pytest.raises(ValueError, match=match):
        lvm.m_step(data, q)


@pytest.mark.parametrize("kwargs, match", [
    (dict(C=0), "C must be a positive integer"),
    (dict(C=2.5), "C must be a positive integer"),
    (dict(C=True), "C must be a positive integer"),
    (dict(C=2, seed=-1), "seed must be None, a non-negative integer"),
])
def test_random_init_params_rejects_bad_input(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lvm.random_init_params(data, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(C=0), "C must be a positive integer"),
    (dict(C=2, n_restarts=0), "n_restarts must be a positive integer"),
    (dict(C=2, max_iter=0), "max_iter must be a positive integer"),
    (dict(C=2, rtol=0.0), "rtol must be a positive finite number"),
    (dict(C=2, rtol=float("nan")), "rtol must be a positive finite number"),
    (dict(C=2, seed="x"), "seed must be None"),
])
def test_train_rejects_bad_input(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lvm.train(data, **kwargs)
