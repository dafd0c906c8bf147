"""The conjugate prior of the Bayesian GMM and what variational Bayes (``lvmbook.variational``)
and Gibbs sampling (``lvmbook.gibbs``) share: ``BayesianGMMPrior`` and ``bayesian_gmm_prior``
(a symmetric Dirichlet prior Dir(pi | alpha0) on the weights and, per component, a Gauss-Wishart
prior N(mu_c | m0, (beta0 Lambda_c)^-1) W(Lambda_c | W0, nu0) on the mean and precision, PRML
10.39-10.40), the normalisers Z_Dir(alpha) and Z_W(W, nu), and the conjugate update of the
Gauss-Wishart factors from (soft or hard) counts. Chapter 11 (11_choosing_components) develops it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import (as_float_array, validate_covariances, validate_data, validate_positive_int,
                         validate_positive_number)

__all__ = ["BayesianGMMPrior", "bayesian_gmm_prior"]


@dataclass(frozen=True)
class BayesianGMMPrior:
    """Conjugate prior of a Bayesian GMM (PRML 10.39-10.40).

    ``alpha0`` Dirichlet concentration of each weight; ``beta0`` scale of the
    mean's precision; ``m0`` (D,) prior mean; ``W0`` (D, D) Wishart scale
    matrix (a *precision*-like matrix: E[Lambda] = nu0 W0); ``nu0`` Wishart
    degrees of freedom (> D - 1). ``W0_inv_chol`` is the lower Cholesky factor
    of ``W0^{-1}``, kept for numerically careful computations.

    Chapter 11 (11_choosing_components).
    """

    alpha0: float
    beta0: float
    m0: np.ndarray
    W0: np.ndarray
    nu0: float
    W0_inv_chol: np.ndarray


def bayesian_gmm_prior(X, C, alpha0=None, beta0=1.0, m0=None, W0=None, nu0=None):
    """Validated prior of a Bayesian GMM for data ``X`` (N, D) and ``C`` components.

    The defaults are scikit-learn's ``BayesianGaussianMixture`` defaults:
    ``alpha0 = 1 / C``, ``beta0 = 1``, ``m0`` the data mean, ``W0`` the inverse
    of the sample covariance of ``X`` (scikit-learn's ``covariance_prior`` is
    ``W0^{-1}``) and ``nu0 = D``. Returns a :class:`BayesianGMMPrior`.

    Chapter 11 (11_choosing_components).
    """
    X = validate_data(X)
    N, D = X.shape
    C = validate_positive_int(C, "C", at_most=N)
    alpha0 = 1.0 / C if alpha0 is None else validate_positive_number(alpha0, "alpha0")
    beta0 = validate_positive_number(beta0, "beta0")
    if m0 is None:
        m0 = X.mean(axis=0)
    else:
        m0 = as_float_array(m0, "m0", 1)
        if m0.shape != (D,):
            raise ValueError(f"m0 must have shape ({D},) to match X; got {m0.shape}")
    if W0 is None:
        if N < 2:
            raise ValueError("X must have at least 2 rows to set the default W0 from its covariance")
        W0_inv = np.atleast_2d(np.cov(X.T))
        _, chol = validate_covariances(W0_inv[None], 1, D, "sample covariance of X (the default W0^-1)")
        W0 = np.linalg.inv(W0_inv)
        W0 = 0.5 * (W0 + W0.T)
    else:
        W0, _ = validate_covariances(np.asarray(W0, dtype=float)[None], 1, D, "W0")
        W0 = W0[0]
        W0_inv = np.linalg.inv(W0)
        _, chol = validate_covariances((0.5 * (W0_inv + W0_inv.T))[None], 1, D, "W0^-1")
    nu0 = float(D) if nu0 is None else validate_positive_number(nu0, "nu0", lower=D - 1.0)
    return BayesianGMMPrior(alpha0, beta0, m0, W0, nu0, chol[0])


def _wishart_log_norm(W_inv_chol, nu):
    """ln B(W, nu) of the Wishart normaliser, PRML B.79, from the Cholesky factor of W^{-1}.

    ``W_inv_chol`` (..., D, D), ``nu`` (...,); returns (...,).
    """
    from scipy.special import gammaln

    D = W_inv_chol.shape[-1]
    log_det_W = -2.0 * np.log(np.diagonal(W_inv_chol, axis1=-2, axis2=-1)).sum(axis=-1)
    nu = np.asarray(nu, dtype=float)
    return (-0.5 * nu * log_det_W - 0.5 * nu * D * np.log(2.0) - 0.25 * D * (D - 1) * np.log(np.pi)
            - gammaln(0.5 * (nu[..., None] - np.arange(D))).sum(axis=-1))


def _dirichlet_log_norm(alpha):
    """ln C(alpha) = ln Gamma(sum alpha) - sum ln Gamma(alpha_k), PRML B.23."""
    from scipy.special import gammaln

    return gammaln(alpha.sum()) - gammaln(alpha).sum()


def _gauss_wishart_update(X, counts, weighted_sum, weighted_scatter, prior):
    """Conjugate Gauss-Wishart update shared by VB (soft counts) and Gibbs (hard counts).

    ``counts`` (C,) = N_k; ``weighted_sum`` (C, D) = sum_n r_nk x_n;
    ``weighted_scatter`` (C, D, D) = sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T = N_k S_k.
    Returns beta (C,), m (C, D), nu (C,), W_inv (C, D, D) -- PRML 10.60-10.63
    (with nu_k = nu0 + N_k, the corrected 10.63).
    """
    beta = prior.beta0 + counts                                          # (10.60)
    m = (prior.beta0 * prior.m0 + weighted_sum) / beta[:, None]          # (10.61)
    nu = prior.nu0 + counts                                              # (10.63)
    xbar = weighted_sum / np.maximum(counts, np.finfo(float).tiny)[:, None]
    diff = xbar - prior.m0
    shrink = prior.beta0 * counts / beta
    W0_inv = prior.W0_inv_chol @ prior.W0_inv_chol.T
    W_inv = (W0_inv + weighted_scatter                                   # (10.62)
             + shrink[:, None, None] * np.einsum("cd,ce->cde", diff, diff))
    return beta, m, nu, 0.5 * (W_inv + np.swapaxes(W_inv, 1, 2))


def _soft_count_statistics(X, resp):
    """N_k (C,), sum_n r_nk x_n (C, D) and sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T (C, D, D)."""
    counts = resp.sum(axis=0)
    weighted_sum = resp.T @ X
    xbar = weighted_sum / np.maximum(counts, np.finfo(float).tiny)[:, None]
    scatter = np.empty((resp.shape[1], X.shape[1], X.shape[1]))
    for k in range(resp.shape[1]):
        centred = X - xbar[k]
        scatter[k] = (resp[:, k, None] * centred).T @ centred
    return counts, weighted_sum, scatter


def _random_hard_resp(X, C, rng):
    """One-hot responsibilities (N, C): each point to the nearest of C distinct random data points."""
    centres = X[rng.choice(X.shape[0], size=C, replace=False)]
    d2 = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    resp = np.zeros((X.shape[0], C))
    resp[np.arange(X.shape[0]), d2.argmin(axis=1)] = 1.0
    return resp
