"""Choosing C (lvmbook.model_selection, .variational, .gibbs): BIC/AIC, the variational Bayesian GMM and the Gibbs sampler.

The variational GMM is pinned down three ways: its bound never decreases, it
equals the exact log evidence where that is known (C = 1), and its parameters
and bound equal scikit-learn's BayesianGaussianMixture run from the same
responsibilities (bound up to a constant that is computed exactly).
"""

import warnings

import numpy as np
import pytest
from scipy.special import multigammaln
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

import latent_variable_models_util as lvm


@pytest.fixture(scope="module")
def data():
    X, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=2024)
    return X


# --- information criteria ----------------------------------------------------

@pytest.mark.parametrize("C, D, expected", [(1, 1, 2), (1, 2, 5), (3, 2, 17), (7, 2, 41), (2, 3, 19)])
def test_free_parameter_count(C, D, expected):
    # (C - 1) weights + C D means + C D (D + 1) / 2 covariance entries
    assert lvm.n_free_parameters(C, D) == expected


@pytest.mark.parametrize("C", [1, 2, 3, 5])
def test_bic_and_aic_equal_scikit_learn(data, C):
    gm = GaussianMixture(C, covariance_type="full", random_state=0).fit(data)
    ours_bic = lvm.bic(data, gm.weights_, gm.means_, gm.covariances_)
    ours_aic = lvm.aic(data, gm.weights_, gm.means_, gm.covariances_)
    assert ours_bic == pytest.approx(gm.bic(data), rel=1e-12, abs=1e-8)
    assert ours_aic == pytest.approx(gm.aic(data), rel=1e-12, abs=1e-8)
    # scikit-learn counts the same parameters: BIC - AIC = p (ln N - 2)
    p_sklearn = (gm.bic(data) - gm.aic(data)) / (np.log(len(data)) - 2.0)
    assert p_sklearn == pytest.approx(lvm.n_free_parameters(C, 2), abs=1e-8)


# --- variational Bayesian GMM ------------------------------------------------

@pytest.mark.parametrize("C", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vb_bound_never_decreases(data, C, seed):
    fit = lvm.fit_vb_gmm(data, C, alpha0=1.0, seed=seed, max_iter=300, tol=0.0)
    steps = np.diff(fit.history)
    assert steps.min() >= -1e-9 * np.abs(fit.history).max(), steps.min()
    assert fit.history.shape == (fit.n_iter + 1,)
    assert fit.lower_bound == fit.history[-1]


def test_vb_bound_never_decreases_from_soft_random_start_with_small_alpha0(data):
    resp = np.random.default_rng(5).dirichlet(np.ones(6), size=len(data))
    fit = lvm.fit_vb_gmm(data, 6, alpha0=1e-3, beta0=0.1, nu0=5.0, init_resp=resp, max_iter=400, tol=0.0)
    assert np.diff(fit.history).min() >= -1e-9 * np.abs(fit.history).max()
    # and it really moved: the first bound is far below the last
    assert fit.history[-1] - fit.history[0] > 100.0


def test_vb_bound_with_one_component_is_the_exact_log_evidence(data):
    # C = 1: q(Z) is exact and q(mu, Lambda) is the exact Gauss-Wishart posterior,
    # so the bound equals ln p(X) of the conjugate model (PRML 2.3.6 / Murphy 4.6.3.7).
    X = data
    N, D = X.shape
    prior = lvm.bayesian_gmm_prior(X, 1, beta0=0.5, nu0=3.0)
    fit = lvm.fit_vb_gmm(X, 1, beta0=0.5, nu0=3.0, max_iter=1)
    beta_n, nu_n = prior.beta0 + N, prior.nu0 + N
    xbar = X.mean(axis=0)
    scatter = (X - xbar).T @ (X - xbar)
    W0_inv = np.linalg.inv(prior.W0)
    Wn_inv = W0_inv + scatter + prior.beta0 * N / beta_n * np.outer(xbar - prior.m0, xbar - prior.m0)
    log_evidence = (-0.5 * N * D * np.log(np.pi) + multigammaln(nu_n / 2, D) - multigammaln(prior.nu0 / 2, D)
                    + 0.5 * prior.nu0 * np.linalg.slogdet(W0_inv)[1] - 0.5 * nu_n * np.linalg.slogdet(Wn_inv)[1]
                    + 0.5 * D * np.log(prior.beta0 / beta_n))
    assert fit.lower_bound == pytest.approx(log_evidence, abs=1e-8)


class _FromResponsibilities(BayesianGaussianMixture):
    """scikit-learn's VB GMM started from given responsibilities (set ``init_resp_`` before fit)."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.init_resp_)


@pytest.fixture(scope="module")
def paired_fits(data):
    """Our VB fit and scikit-learn's, with the same non-default prior and initial responsibilities."""
    C, n_iter = 4, 40
    D = data.shape[1]
    m0 = np.array([7.0, 6.5])
    W0 = np.array([[0.4, 0.1], [0.1, 0.3]])
    kw = dict(alpha0=0.3, beta0=2.0, m0=m0, W0=W0, nu0=4.0)
    resp = np.random.default_rng(11).dirichlet(np.ones(C), size=len(data))
    ours = lvm.fit_vb_gmm(data, C, init_resp=resp, max_iter=n_iter, tol=0.0, **kw)
    theirs = _FromResponsibilities(
        n_components=C, covariance_type="full", weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=0.3, mean_precision_prior=2.0, mean_prior=m0, degrees_of_freedom_prior=4.0,
        covariance_prior=np.linalg.inv(W0),            # scikit-learn's covariance_prior is W0^{-1}
        reg_covar=0.0, max_iter=n_iter, tol=0.0, n_init=1)
    theirs.init_resp_ = resp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # tol = 0: all n_iter iterations run
        theirs.fit(data)
    assert theirs.n_iter_ == n_iter and ours.n_iter == n_iter
    assert D == 2
    return ours, theirs


def test_vb_parameters_equal_scikit_learn(paired_fits):
    ours, theirs = paired_fits
    post = ours.posterior
    np.testing.assert_allclose(post.alpha, theirs.weight_concentration_, rtol=1e-6)
    np.testing.assert_allclose(post.beta, theirs.mean_precision_, rtol=1e-6)
    np.testing.assert_allclose(post.m, theirs.means_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(post.nu, theirs.degrees_of_freedom_, rtol=1e-6)
    # scikit-learn stores W_k^{-1} / nu_k as covariances_
    np.testing.assert_allclose(np.linalg.inv(post.W) / post.nu[:, None, None], theirs.covariances_,
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.pi, theirs.weights_, rtol=1e-6, atol=1e-9)


def test_vb_bound_equals_scikit_learn_plus_an_exact_constant(paired_fits, data):
    ours, theirs = paired_fits
    # ours.history[0] is the bound of the initial M-step, which scikit-learn does not record
    sk = np.asarray(theirs.lower_bounds_)
    diff = ours.history[1:] - sk
    offset = lvm.sklearn_lower_bound_offset(ours.prior, len(data), 4)
    np.testing.assert_allclose(diff, offset, rtol=0, atol=1e-6)
    assert ours.lower_bound - offset == pytest.approx(theirs.lower_bound_, abs=1e-6)
    # scikit-learn's bound is a total over the N points, not a per-point mean: it is
    # of the same order as ours (thousands), and the offset is about -N D/2 ln(2 pi) + O(C)
    assert abs(theirs.lower_bound_) > 100.0
    assert offset == pytest.approx(-0.5 * len(data) * 2 * np.log(2 * np.pi), abs=60.0)


def test_vb_default_prior_is_scikit_learns_default(data):
    prior = lvm.bayesian_gmm_prior(data, 5)
    sk = BayesianGaussianMixture(n_components=5, max_iter=1)
    sk._check_parameters(data)
    assert prior.alpha0 == pytest.approx(sk.weight_concentration_prior_)
    assert prior.beta0 == pytest.approx(sk.mean_precision_prior_)
    np.testing.assert_allclose(prior.m0, sk.mean_prior_)
    assert prior.nu0 == pytest.approx(sk.degrees_of_freedom_prior_)
    np.testing.assert_allclose(np.linalg.inv(prior.W0), sk.covariance_prior_, rtol=1e-12)


def test_vb_e_step_rows_sum_to_one_and_far_points_stay_finite(data):
    fit = lvm.fit_vb_gmm(data, 3, alpha0=1.0, seed=0)
    far = np.array([[1e4, -1e4], [5.0, 5.0]])
    resp = lvm.vb_e_step(far, fit.posterior)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)


def test_vb_surplus_components_empty_and_bound_prefers_three(data):
    bounds = {}
    for C in (2, 3, 4, 7):
        fits = [lvm.fit_vb_gmm(data, C, alpha0=1.0, seed=s, max_iter=2000, tol=1e-10) for s in range(3)]
        best = max(fits, key=lambda f: f.lower_bound)
        bounds[C] = best.lower_bound
        if C == 7:
            w = np.sort(best.pi)[::-1]
            assert w[:3].sum() > 0.99, w
            assert w[3:].max() < 0.005, w
            np.testing.assert_allclose(np.sort(best.pi)[-3:], np.sort(lvm.pi_true), atol=0.03)
    assert bounds[3] > bounds[2] + 50.0
    assert bounds[3] > bounds[4] + 1.0
    assert bounds[4] > bounds[7]


def test_vb_fit_is_deterministic_for_a_seed(data):
    a = lvm.fit_vb_gmm(data, 4, seed=3, max_iter=50)
    b = lvm.fit_vb_gmm(data, 4, seed=3, max_iter=50)
    np.testing.assert_array_equal(a.history, b.history)


# --- Gibbs sampler -----------------------------------------------------------

def test_gibbs_draws_with_one_component_have_the_conjugate_posterior_means():
    # With C = 1 every label is fixed, so the sweeps are independent draws from the Gauss-Wishart
    # posterior; their covariances (inverse Wishart draws, Bartlett's decomposition) and means must
    # average to the posterior means that the variational M-step computes in closed form.
    X = np.random.default_rng(3).normal(size=(20, 2)) @ np.array([[1.0, 0.0], [0.6, 0.5]])
    samples = lvm.gibbs_gmm(X, 1, 20000, seed=4)
    post = lvm.vb_m_step(X, np.ones((20, 1)), lvm.bayesian_gmm_prior(X, 1))
    np.testing.assert_allclose(samples.sigma.mean(axis=0), post.sigma, rtol=0.03, atol=0.01)
    np.testing.assert_allclose(samples.mu.mean(axis=0), post.m, atol=0.02)
    np.testing.assert_allclose(samples.pi, 1.0, rtol=1e-12)


@pytest.fixture(scope="module")
def gibbs_and_vb(data):
    vb = lvm.fit_vb_gmm(data, 3, alpha0=1.0, seed=0, max_iter=2000, tol=1e-10)
    samples = lvm.gibbs_gmm(data, 3, 700, seed=1, alpha0=1.0)
    return samples, vb


def test_gibbs_shapes_and_valid_draws(gibbs_and_vb, data):
    s, _ = gibbs_and_vb
    assert s.pi.shape == (700, 3) and s.mu.shape == (700, 3, 2) and s.sigma.shape == (700, 3, 2, 2)
    assert s.counts.shape == (700, 3) and s.log_likelihood.shape == (700,) and s.z.shape == (len(data),)
    np.testing.assert_allclose(s.pi.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(s.counts.sum(axis=1) == len(data))
    assert np.all(np.linalg.eigvalsh(s.sigma) > 0)
    # the log likelihood of a draw is that of its parameters
    k = 500
    expected = lvm.gmm_log_density(data, s.pi[k], s.mu[k], s.sigma[k]).sum()
    assert s.log_likelihood[k] == pytest.approx(expected, rel=1e-10)


def test_gibbs_posterior_means_agree_with_vb_within_their_uncertainty(gibbs_and_vb):
    s, vb = gibbs_and_vb
    rel, _ = lvm.relabel_samples(s[200:], vb.mu)
    for ours, sd, reference in [(rel.mu.mean(0), rel.mu.std(0), vb.mu),
                                (rel.pi.mean(0), rel.pi.std(0), vb.pi),
                                (rel.sigma.mean(0), rel.sigma.std(0), vb.sigma)]:
        z = np.abs(ours - reference) / sd
        assert z.max() < 2.0, z


def test_gibbs_is_deterministic_for_a_seed(data):
    a = lvm.gibbs_gmm(data, 2, 20, seed=9)
    b = lvm.gibbs_gmm(data, 2, 20, seed=9)
    np.testing.assert_array_equal(a.mu, b.mu)


def test_relabel_undoes_a_permutation(gibbs_and_vb):
    s, vb = gibbs_and_vb
    rel, _ = lvm.relabel_samples(s[300:310], vb.mu)
    perm = np.array([2, 0, 1])
    shuffled = lvm.GibbsSamples(rel.pi[:, perm], rel.mu[:, perm], rel.sigma[:, perm], rel.counts[:, perm],
                                rel.log_likelihood, rel.z)
    back, perms = lvm.relabel_samples(shuffled, vb.mu)
    np.testing.assert_array_equal(back.mu, rel.mu)
    assert np.all(perms == np.argsort(perm))


# --- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(C=0), "C must be a positive integer"),
    (dict(C=2.0), "C must be a positive integer"),
    (dict(C=5000), "C must be at most the number of points N"),
    (dict(C=3, alpha0=0.0), "alpha0 must be"),
    (dict(C=3, beta0=-1.0), "beta0 must be"),
    (dict(C=3, nu0=1.0), "nu0 must be a finite number greater than 1"),
    (dict(C=3, m0=[1.0, 2.0, 3.0]), "m0 must have shape"),
    (dict(C=3, W0=[[1.0, 2.0], [2.0, 1.0]]), "W0.*positive definite"),
    (dict(C=3, max_iter=0), "max_iter must be a positive integer"),
    (dict(C=3, tol=-1.0), "tol must be"),
    (dict(C=3, init_resp=np.full((1000, 2), 0.5)), "init_resp must have C = 3 columns"),
    (dict(C=2, init_resp=np.full((1000, 2), 0.4)), "init_resp must sum to 1"),
    (dict(C=2, seed=-1), "seed must be"),
])
def test_fit_vb_gmm_rejects_bad_input(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lvm.fit_vb_gmm(data, **kwargs)


def test_fit_vb_gmm_rejects_bad_data():
    with pytest.raises(ValueError, match="X must hold only finite values"):
        lvm.fit_vb_gmm(np.array([[0.0, np.nan], [1.0, 2.0]]), 1)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        lvm.fit_vb_gmm(np.arange(5.0), 1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(C=3, n_iter=0), "n_iter must be a positive integer"),
    (dict(C=3, n_iter=5, init_z=np.full(1000, 3)), "init_z must be an integer array"),
    (dict(C=3, n_iter=5, init_z=np.zeros(10, dtype=int)), "init_z must be an integer array"),
    (dict(C=3, n_iter=5, alpha0=-2.0), "alpha0 must be"),
])
def test_gibbs_rejects_bad_input(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lvm.gibbs_gmm(data, **kwargs)


def test_criteria_and_relabel_reject_bad_input(data, gibbs_and_vb):
    with pytest.raises(ValueError, match="pi must sum to 1"):
        lvm.bic(data, [0.5, 0.6], lvm.mu_true[:2], lvm.sigma_true[:2])
    with pytest.raises(ValueError, match="sigma"):
        lvm.aic(data, lvm.pi_true, lvm.mu_true, -lvm.sigma_true)
    with pytest.raises(ValueError, match="D must be a positive integer"):
        lvm.n_free_parameters(2, 0)
    s, _ = gibbs_and_vb
    with pytest.raises(ValueError, match="reference_means must have 3 rows"):
        lvm.relabel_samples(s[:5], lvm.mu_true[:2])
    with pytest.raises(ValueError, match="prior must be a BayesianGMMPrior"):
        lvm.vb_m_step(data, np.full((1000, 2), 0.5), prior={"alpha0": 1.0})
