"""The fast EM (lvmbook.suffstats and lvmbook.fast_em) is exact.

It must agree with the article-style functions of lvmbook.article_em to about 1e-12
relative, with a direct scipy computation of equations (6), (9), (16)-(19), and
with scikit-learn's GaussianMixture started from the same parameters to about
1e-10 in the parameters and the per-point log-likelihood.
"""

import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

import latent_variable_models_util as lvm

RTOL_ARTICLE = 1e-12
TOL_SKLEARN = 1e-10


@pytest.fixture(scope="module")
def article_data():
    X, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=6)
    return X


@pytest.fixture(scope="module")
def start(article_data):
    """A random start with sensible spread: equal weights, means near the data mean."""
    rng = np.random.default_rng(61)
    X = article_data
    mu = X.mean(axis=0) + np.sqrt(X.var(axis=0)) * rng.standard_normal((3, 2))
    sigma = np.tile(np.diag(X.var(axis=0)), (3, 1, 1))
    return np.full(3, 1 / 3), mu, sigma


def rel_err(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b))


def scipy_reference_iteration(X, pi, mu, sigma):
    """Equations (6), (9), (16)-(18) written directly with scipy.stats, for comparison."""
    log_joint = np.column_stack([np.log(pi[c]) + multivariate_normal(mu[c], sigma[c]).logpdf(X)
                                 for c in range(len(pi))])
    log_px = np.logaddexp.reduce(log_joint, axis=1)
    q = np.exp(log_joint - log_px[:, None])
    n_c = q.sum(axis=0)
    new_pi = n_c / X.shape[0]
    new_mu = q.T @ X / n_c[:, None]
    new_sigma = np.stack([(q[:, c, None] * (X - new_mu[c])).T @ (X - new_mu[c]) / n_c[c] for c in range(len(pi))])
    return q, log_px, new_pi, new_mu, new_sigma


def sklearn_fit(X, pi, mu, sigma, n_iter):
    gm = GaussianMixture(len(pi), covariance_type="full", weights_init=pi, means_init=mu,
                         precisions_init=np.linalg.inv(sigma), reg_covar=0.0, tol=0.0, max_iter=n_iter, n_init=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # tol=0 never converges: sklearn warns
        return gm.fit(X)


def fast_fit(X, pi, mu, sigma, n_iter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lvm.EMConvergenceWarning)
        return lvm.fit_gmm(X, len(pi), init=(pi, mu, sigma), max_iter=n_iter, tol=0.0)


def test_one_iteration_equals_scipy_reference(article_data, start):
    X = article_data
    pi, mu, sigma = start
    q_ref, log_px_ref, pi_ref, mu_ref, sigma_ref = scipy_reference_iteration(X, pi, mu, sigma)
    chol = np.linalg.cholesky(sigma)
    log_q, log_px = lvm.log_responsibilities(X, pi, mu, chol)
    assert log_q.shape == (1000, 3) and log_px.shape == (1000,)
    assert np.allclose(np.exp(log_q), q_ref, rtol=0, atol=1e-13)
    assert rel_err(log_px, log_px_ref) < RTOL_ARTICLE
    new_pi, new_mu, new_sigma, new_chol = lvm.m_step_from_stats(lvm.sufficient_statistics(X, pi, mu, chol))
    assert rel_err(new_pi, pi_ref) < RTOL_ARTICLE
    assert rel_err(new_mu, mu_ref) < RTOL_ARTICLE
    assert rel_err(new_sigma, sigma_ref) < RTOL_ARTICLE
    assert np.allclose(new_chol @ np.swapaxes(new_chol, 1, 2), new_sigma, rtol=1e-13, atol=0)


@pytest.mark.skipif(not hasattr(lvm, "m_step"), reason="the article's EM is not in the package")
def test_one_iteration_equals_article_functions(article_data, start):
    X = article_data
    pi, mu, sigma = start
    chol = np.linalg.cholesky(sigma)
    q = lvm.e_step(X, pi, mu, sigma)
    log_q, log_px = lvm.log_responsibilities(X, pi, mu, chol)
    big = q > 1e-12
    assert np.max(np.abs(np.exp(log_q[big]) - q[big]) / q[big]) < RTOL_ARTICLE
    assert np.max(np.abs(np.exp(log_q) - q)) < 1e-14
    stats = lvm.sufficient_statistics(X, pi, mu, chol)
    assert rel_err(stats.log_likelihood, lvm.lower_bound(X, pi, mu, sigma, q)) < RTOL_ARTICLE
    for ours, theirs in zip(lvm.m_step_from_stats(stats)[:3], lvm.m_step(X, q)):
        assert rel_err(ours, theirs) < RTOL_ARTICLE


@pytest.mark.skipif(not hasattr(lvm, "lower_bound"), reason="the article's EM is not in the package")
def test_lower_bound_equals_article_lower_bound_for_any_q(article_data, start):
    X = article_data
    pi, mu, sigma = start
    chol = np.linalg.cholesky(sigma)
    q_other = np.random.default_rng(62).dirichlet(np.ones(3), size=X.shape[0])
    q_other[:10] = [1.0, 0.0, 0.0]                   # exact zeros: 0 log 0 counts as 0
    ours = lvm.fast_lower_bound(X, pi, mu, chol, q_other)
    assert rel_err(ours, lvm.lower_bound(X, pi, mu, sigma, q_other)) < RTOL_ARTICLE


def test_lower_bound_is_log_likelihood_at_the_posterior_and_less_elsewhere(article_data, start):
    X = article_data
    pi, mu, sigma = start
    chol = np.linalg.cholesky(sigma)
    log_q, log_px = lvm.log_responsibilities(X, pi, mu, chol)
    at_posterior = lvm.fast_lower_bound(X, pi, mu, chol, np.exp(log_q))
    assert rel_err(at_posterior, log_px.sum()) < RTOL_ARTICLE
    assert rel_err(lvm.fast_lower_bound(X, pi, mu, chol), log_px.sum()) < RTOL_ARTICLE
    q_other = np.full((X.shape[0], 3), 1 / 3)
    # Equation (13): the bound falls short of the log-likelihood by KL(q || posterior) > 0
    assert lvm.fast_lower_bound(X, pi, mu, chol, q_other) < log_px.sum() - 1.0


@pytest.mark.parametrize("n_iter", [1, 10, 60])
def test_fit_equals_sklearn_from_the_same_start(article_data, start, n_iter):
    X = article_data
    pi, mu, sigma = start
    gm = sklearn_fit(X, pi, mu, sigma, n_iter)
    fit = fast_fit(X, pi, mu, sigma, n_iter)
    assert fit.n_iter == n_iter == gm.n_iter_
    assert np.max(np.abs(fit.pi - gm.weights_)) < TOL_SKLEARN
    assert rel_err(fit.mu, gm.means_) < TOL_SKLEARN
    assert rel_err(fit.sigma, gm.covariances_) < TOL_SKLEARN
    _, log_px = lvm.log_responsibilities(X, fit.pi, fit.mu, fit.sigma_chol)
    assert np.max(np.abs(log_px - gm.score_samples(X))) < TOL_SKLEARN
    assert abs(fit.log_likelihood - log_px.sum()) < 1e-9


def test_fit_equals_sklearn_in_50_dimensions():
    rng = np.random.default_rng(63)
    D, C, N = 50, 3, 3000
    centers = 3.0 * rng.standard_normal((C, D))
    A = rng.standard_normal((C, D, D)) / np.sqrt(D)
    X = np.concatenate([centers[c] + rng.standard_normal((N // C, D)) @ (np.eye(D) + 0.5 * A[c]) for c in range(C)])
    pi = np.full(C, 1 / C)
    mu = X[rng.choice(N, C, replace=False)]
    sigma = np.tile(np.cov(X.T), (C, 1, 1))
    gm = sklearn_fit(X, pi, mu, sigma, 15)
    fit = fast_fit(X, pi, mu, sigma, 15)
    assert rel_err(fit.mu, gm.means_) < TOL_SKLEARN
    assert rel_err(fit.sigma, gm.covariances_) < TOL_SKLEARN
    assert np.max(np.abs(fit.pi - gm.weights_)) < TOL_SKLEARN
    _, log_px = lvm.log_responsibilities(X, fit.pi, fit.mu, fit.sigma_chol)
    assert np.max(np.abs(log_px - gm.score_samples(X))) < TOL_SKLEARN * np.max(np.abs(log_px))


def test_statistics_of_blocks_add_up_to_those_of_the_whole(article_data, start):
    X = article_data
    pi, mu, sigma = start
    chol = np.linalg.cholesky(sigma)
    whole = lvm.sufficient_statistics(X, pi, mu, chol)
    parts = [lvm.sufficient_statistics(block, pi, mu, chol) for block in np.array_split(X, 7)]
    total = sum(parts)
    assert total.n == whole.n == 1000
    for name in ("sum_q", "sum_qx", "sum_qxx"):
        assert rel_err(getattr(total, name), getattr(whole, name)) < RTOL_ARTICLE
    assert rel_err(total.log_likelihood, whole.log_likelihood) < RTOL_ARTICLE
    assert np.array_equal(total.center, mu)
    assert rel_err(whole.sum_q.sum(), 1000.0) < 1e-14


def test_adding_statistics_about_different_centers_is_an_error(article_data, start):
    X = article_data
    pi, mu, sigma = start
    chol = np.linalg.cholesky(sigma)
    a = lvm.sufficient_statistics(X[:500], pi, mu, chol)
    b = lvm.sufficient_statistics(X[500:], pi, mu + 1.0, chol)
    with pytest.raises(ValueError, match="same center"):
        a + b


def test_statistics_are_moments_about_the_current_means(article_data, start):
    X = article_data
    pi, mu, sigma = start
    chol = np.linalg.cholesky(sigma)
    stats = lvm.sufficient_statistics(X, pi, mu, chol)
    q = np.exp(lvm.log_responsibilities(X, pi, mu, chol)[0])
    diff = X[:, None, :] - mu[None]                      # (N, C, D)
    assert rel_err(stats.sum_qx, np.einsum("nc,ncd->cd", q, diff)) < RTOL_ARTICLE
    assert rel_err(stats.sum_qxx, np.einsum("nc,ncd,nce->cde", q, diff, diff)) < RTOL_ARTICLE


def test_reg_covar_adds_exactly_to_the_diagonal(article_data, start):
    X = article_data
    pi, mu, sigma = start
    stats = lvm.sufficient_statistics(X, pi, mu, np.linalg.cholesky(sigma))
    plain = lvm.m_step_from_stats(stats)[2]
    regularised = lvm.m_step_from_stats(stats, reg_covar=0.25)[2]
    assert np.allclose(regularised - plain, 0.25 * np.eye(2), rtol=0, atol=1e-14)


def test_lower_bound_history_never_decreases_and_ends_at_the_log_likelihood(article_data):
    fit = lvm.fit_gmm(article_data, 3, n_restarts=3, seed=64)
    history = np.array(fit.lower_bound_history)
    assert len(history) == fit.n_iter + 1
    assert np.all(np.diff(history) > -1e-9 * np.abs(history[1:]))
    assert fit.log_likelihood == history[-1]
    assert fit.converged and fit.n_failed_restarts == 0
    assert fit.log_likelihood == max(fit.restart_log_likelihoods)
    # the article's data: three well separated components are found
    order = np.argsort(fit.mu[:, 0])
    assert np.allclose(fit.mu[order], lvm.mu_true, atol=0.35)
    assert np.allclose(fit.pi[order], lvm.pi_true, atol=0.05)


def test_same_seed_same_fit_and_thread_count_does_not_matter():
    rng = np.random.default_rng(65)
    X = np.concatenate([rng.standard_normal((15000, 4)), 4 + rng.standard_normal((15000, 4))])
    a = lvm.fit_gmm(X, 2, n_restarts=2, max_iter=20, seed=7, n_threads=1)
    b = lvm.fit_gmm(X, 2, n_restarts=2, max_iter=20, seed=7, n_threads=2)
    assert np.array_equal(a.mu, b.mu) and np.array_equal(a.sigma, b.sigma)
    assert a.lower_bound_history == b.lower_bound_history
    c = lvm.fit_gmm(X, 2, n_restarts=2, max_iter=20, seed=8, n_threads=1)
    assert c.restart_log_likelihoods != a.restart_log_likelihoods


def test_kmeans_start_reaches_the_same_optimum(article_data):
    # This data set converges slowly along a flat ridge: a tight tol and many iterations.
    by_random = lvm.fit_gmm(article_data, 3, n_restarts=5, max_iter=2000, tol=1e-9, seed=66)
    by_kmeans = lvm.fit_gmm(article_data, 3, n_restarts=1, max_iter=2000, tol=1e-9, init="kmeans", seed=66)
    assert by_random.converged and by_kmeans.converged
    assert abs(by_kmeans.log_likelihood - by_random.log_likelihood) < 1e-3


def test_not_converging_in_max_iter_warns(article_data):
    with pytest.warns(lvm.EMConvergenceWarning, match="did not converge in max_iter = 2"):
        fit = lvm.fit_gmm(article_data, 3, n_restarts=1, max_iter=2, seed=67)
    assert not fit.converged and fit.n_iter == 2


def test_callback_sees_every_iteration(article_data):
    seen = []
    with pytest.warns(lvm.EMConvergenceWarning):
        fit = lvm.fit_gmm(article_data, 3, n_restarts=2, max_iter=5, tol=0.0, seed=68,
                          callback=lambda r, it, ll, pi, mu, sigma: seen.append((r, it, ll)))
    assert [(r, it) for r, it, _ in seen] == [(r, it) for r in range(2) for it in range(6)]
    assert fit.lower_bound_history in ([ll for r, _, ll in seen if r == 0], [ll for r, _, ll in seen if r == 1])


def test_responsibilities_of_a_fit_are_its_posterior(article_data):
    fit = lvm.fit_gmm(article_data, 3, n_restarts=1, seed=69)
    q = fit.responsibilities(article_data)
    assert q.shape == (1000, 3)
    assert np.allclose(q.sum(axis=1), 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("kwargs, message", [
    ({"C": 0}, "C must be a positive integer"),
    ({"C": 1001}, "C must be at most the number of points N = 1000"),
    ({"C": 3, "tol": -1.0}, "tol must be a non-negative finite number"),
    ({"C": 3, "reg_covar": -1e-6}, "reg_covar must be a non-negative finite number"),
    ({"C": 3, "init": "best"}, "init must be 'random', 'kmeans' or a tuple"),
    ({"C": 3, "max_iter": 0}, "max_iter must be a positive integer"),
    ({"C": 3, "n_threads": 0}, "n_threads must be None or a positive integer"),
])
def test_fit_rejects_bad_arguments(article_data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lvm.fit_gmm(article_data, **kwargs)


def test_statistics_reject_a_covariance_passed_as_cholesky_factor(article_data, start):
    pi, mu, sigma = start
    with pytest.raises(ValueError, match=r"sigma_chol must be lower triangular -- pass np.linalg.cholesky"):
        lvm.sufficient_statistics(article_data, pi, mu, sigma + 0.1)
    with pytest.raises(ValueError, match=r"sigma_chol must have shape \(3, 2, 2\)"):
        lvm.sufficient_statistics(article_data, pi, mu, np.linalg.cholesky(sigma)[:2])
    with pytest.raises(ValueError, match=r"stats must be a SuffStats"):
        lvm.m_step_from_stats((1, 2, 3))
