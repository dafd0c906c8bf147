"""lvmbook.map_em: MAP-EM with an inverse-Wishart prior on the covariances (chapter 7).

Pins down the prior's density (against scipy), the MAP M-step (it maximises its
objective; it reduces to scikit-learn's reg_covar for the matching improper
prior), the monotone log posterior, the floor on the covariances that stops a
collapse, and clear errors for bad input.
"""

import warnings

import numpy as np
import pytest
from scipy.stats import invwishart
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from lvmbook import map_em
from lvmbook.densities import gaussian_logpdf

MU = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
SIGMA = np.array(
    [[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]], [[2.0, 0.0], [0.0, 0.3]]]
)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(77)
    parts = [
        rng.multivariate_normal(m, s, size=n)
        for m, s, n in zip(MU, SIGMA, (120, 80, 100))
    ]
    return np.vstack(parts)


def start(X):
    """Equal weights, the true means moved a little, identity covariances."""
    return np.full(3, 1 / 3), MU + 0.3, np.tile(np.eye(2), (3, 1, 1))


def ml_m_step(X, q):
    """Equations (16)-(18), written out independently."""
    n_c = q.sum(axis=0)
    mu = q.T @ X / n_c[:, None]
    sigma = np.array(
        [
            ((q[:, c, None] * (X - mu[c])).T @ (X - mu[c])) / n_c[c]
            for c in range(q.shape[1])
        ]
    )
    return n_c / len(X), mu, sigma


def test_inverse_wishart_logpdf_equals_scipy():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 3, 3))
    sigma = A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(3)
    psi = np.array([[2.0, 0.4, 0.0], [0.4, 1.0, 0.2], [0.0, 0.2, 0.7]])
    for nu in (2.5, 5.0, 11.0):
        ours = map_em.inverse_wishart_logpdf(sigma, psi, nu)
        ref = [invwishart(df=nu, scale=psi).logpdf(s) for s in sigma]
        assert ours.shape == (4,)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-10)


def test_e_step_rows_are_the_posterior(X):
    from scipy.stats import multivariate_normal

    pi, mu, sigma = start(X)
    q = map_em.map_e_step(X, pi, mu, sigma)
    joint = np.column_stack(
        [p * multivariate_normal(m, s).pdf(X) for p, m, s in zip(pi, mu, sigma)]
    )
    np.testing.assert_allclose(
        q, joint / joint.sum(axis=1, keepdims=True), rtol=1e-10, atol=1e-14
    )


def test_map_m_step_covariance_is_the_closed_form(X):
    q = map_em.map_e_step(X, *start(X))
    psi, nu = np.diag([0.8, 0.3]), 6.0
    pi, mu, sigma = map_em.map_m_step(X, q, psi, nu)
    pi_ml, mu_ml, sigma_ml = ml_m_step(X, q)
    n_c = q.sum(axis=0)
    np.testing.assert_allclose(pi, pi_ml, rtol=1e-13)
    np.testing.assert_allclose(mu, mu_ml, rtol=1e-12)
    expected = (psi + n_c[:, None, None] * sigma_ml) / (n_c + nu + 2 + 1)[:, None, None]
    np.testing.assert_allclose(sigma, expected, rtol=1e-12)


def test_map_m_step_maximises_expected_log_joint_plus_log_prior(X):
    """No symmetric perturbation of the MAP covariances raises Q(theta) + log p(theta)."""
    q = map_em.map_e_step(X, *start(X))
    psi, nu = np.array([[0.5, 0.1], [0.1, 0.4]]), 4.0
    pi, mu, sigma = map_em.map_m_step(X, q, psi, nu)

    def objective(s):
        log_joint = np.log(pi) + np.column_stack(
            [gaussian_logpdf(X, mu[c], s[c]) for c in range(len(pi))]
        )
        return float(
            (q * log_joint).sum() + map_em.inverse_wishart_logpdf(s, psi, nu).sum()
        )

    best = objective(sigma)
    rng = np.random.default_rng(3)
    for _ in range(30):
        E = rng.normal(size=(3, 2, 2))
        assert objective(sigma + 1e-3 * (E + np.swapaxes(E, 1, 2))) < best


def test_reg_covar_prior_reproduces_scikit_learn(X):
    """MAP-EM with psi_c = eps N_c I, nu = -(D + 1) is GaussianMixture(reg_covar=eps)."""
    eps, n_iter = 0.05, 12
    pi0, mu0, sigma0 = start(X)
    gm = GaussianMixture(
        3,
        max_iter=n_iter,
        tol=0.0,
        reg_covar=eps,
        weights_init=pi0,
        means_init=mu0,
        precisions_init=np.linalg.inv(sigma0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    params = (pi0, mu0, sigma0)
    for _ in range(n_iter):
        q = map_em.map_e_step(X, *params)
        psi, nu = map_em.reg_covar_prior(q, eps, 2)
        assert nu == -3.0 and psi.shape == (3, 2, 2)
        params = map_em.map_m_step(X, q, psi, nu)
        np.testing.assert_allclose(
            params[2], ml_m_step(X, q)[2] + eps * np.eye(2), rtol=1e-12, atol=1e-14
        )
    np.testing.assert_allclose(gm.weights_, params[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(gm.means_, params[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_, params[2], rtol=0, atol=1e-10)


def test_fit_map_em_survives_the_collapse_that_stops_ml_em(X):
    """A small component started on a stray point: ML EM collapses it, MAP-EM does not."""
    X_stray = np.vstack([X, [[12.0, -6.0]]])
    init = (
        np.array([0.33, 0.33, 0.33, 0.01]),
        np.vstack([MU, [[11.0, -5.0]]]),
        np.tile(np.eye(2), (4, 1, 1)),
    )
    params = init
    with (
        pytest.raises(ValueError, match="positive definite"),
        np.errstate(all="ignore"),
    ):
        for _ in range(5):  # ML EM: the fourth covariance collapses to zero
            params = ml_m_step(X_stray, map_em.map_e_step(X_stray, *params))
    assert np.linalg.eigvalsh(params[2][3]).min() < 1e-12
    psi, nu = map_em.weak_covariance_prior(X_stray, 4)
    fit = map_em.fit_map_em(X_stray, init, psi, nu)
    assert fit.converged and fit.history.shape == (fit.n_iter + 1,)
    assert np.all(np.diff(fit.history) > -1e-9 * np.abs(fit.history[1:]))
    floor = np.linalg.eigvalsh(psi).min() / (len(X_stray) + nu + 2 + 1)
    assert np.linalg.eigvalsh(fit.sigma).min() >= floor
    assert (
        np.linalg.eigvalsh(fit.sigma[3]).min() > 0.01
    )  # the stray component keeps a real size
    np.testing.assert_allclose(fit.mu[3], [12.0, -6.0], atol=1e-6)


def test_weak_covariance_prior_shapes(X):
    psi, nu = map_em.weak_covariance_prior(X, 3)
    assert psi.shape == (2, 2) and nu == 4.0
    np.testing.assert_allclose(psi, np.cov(X.T, bias=True) / 3, rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda X, q: map_em.map_m_step(X[:, 0], q, np.eye(2), 4.0),
            "X must be a 2-D array",
        ),
        (
            lambda X, q: map_em.map_m_step(
                np.where(X > 3, np.nan, X), q, np.eye(2), 4.0
            ),
            "finite",
        ),
        (
            lambda X, q: map_em.map_m_step(X, q[:-1], np.eye(2), 4.0),
            "q must have 300 rows",
        ),
        (lambda X, q: map_em.map_m_step(X, 0.5 * q, np.eye(2), 4.0), "sum to 1"),
        (lambda X, q: map_em.map_m_step(X, q, -np.eye(2), 4.0), "positive definite"),
        (lambda X, q: map_em.map_m_step(X, q, np.eye(3), 4.0), "psi must have shape"),
        (lambda X, q: map_em.map_m_step(X, q, np.eye(2), -3.5), "nu must be at least"),
        (
            lambda X, q: map_em.map_m_step(
                X, np.eye(3)[np.zeros(len(q), int)], np.eye(2), 4.0
            ),
            "total responsibility 0",
        ),
        (
            lambda X, q: map_em.inverse_wishart_logpdf(
                np.tile(np.eye(2), (3, 1, 1)), np.eye(2), 1.0
            ),
            "exceed D - 1",
        ),
        (
            lambda X, q: map_em.reg_covar_prior(q, 0.0, 2),
            "reg_covar must be a positive",
        ),
        (
            lambda X, q: map_em.fit_map_em(X, start(X), np.eye(2), 4.0, max_iter=0),
            "max_iter",
        ),
        (lambda X, q: map_em.fit_map_em(X, start(X), np.eye(2), 0.5), "exceed D - 1"),
        (
            lambda X, q: map_em.weak_covariance_prior(X, 0),
            "C must be a positive integer",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(X, call, match):
    q = map_em.map_e_step(X, *start(X))
    with pytest.raises(ValueError, match=match):
        call(X, q)
