"""Gaussian and Gaussian-mixture densities, equations (2) and (4) of chapter 1
(01_latent_variables_and_mle): ``gaussian_logpdf``, ``gmm_log_density`` and ``gmm_density``, all
computed through Cholesky factors and in log space, so that they stay finite far from the data.
"""

from __future__ import annotations

import numpy as np

from .validation import as_float_array, validate_covariances, validate_data, validate_means, validate_weights

__all__ = ["gaussian_logpdf", "gmm_log_density", "gmm_density"]


def gaussian_logpdf(X, mean, cov):
    """Log density of a multivariate normal N(x | mean, cov) at each row of ``X``.

    ``X`` is ``(N, D)``, ``mean`` is ``(D,)`` and ``cov`` is ``(D, D)``;
    returns shape ``(N,)``. Computed through the Cholesky factor of ``cov``, so
    it never forms an inverse and stays finite far from the mean.

    Chapter 1 (01_latent_variables_and_mle).
    """
    X = validate_data(X)
    mean = as_float_array(mean, "mean", 1)
    if mean.shape[0] != X.shape[1]:
        raise ValueError(f"mean must have shape ({X.shape[1]},) to match X; got {mean.shape}")
    _, chol = validate_covariances(np.asarray(cov, dtype=float)[None], 1, X.shape[1], "cov")
    return _gaussian_logpdf_chol(X, mean, chol[0])


def _gaussian_logpdf_chol(X, mean, L):
    """Log N(x | mean, L L^T) for rows of ``X`` (N, D) given a lower Cholesky factor ``L`` (D, D)."""
    from scipy.linalg import solve_triangular

    D = X.shape[1]
    z = solve_triangular(L, (X - mean).T, lower=True)           # (D, N)
    maha = np.einsum("dn,dn->n", z, z)
    log_det = 2.0 * np.log(np.diag(L)).sum()
    return -0.5 * (D * np.log(2.0 * np.pi) + log_det + maha)


def gmm_log_density(X, pi, mu, sigma):
    """Log of the mixture density, equation (2): log sum_c pi_c N(x | mu_c, Sigma_c).

    ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D); returns (N,).
    The sum is taken in log space (log-sum-exp), so it is finite wherever a
    point has non-zero density in exact arithmetic.

    Chapter 1 (01_latent_variables_and_mle), equation (2).
    """
    from scipy.special import logsumexp

    X = validate_data(X)
    mu = validate_means(mu, None, X.shape[1])
    C = mu.shape[0]
    pi = validate_weights(pi, C)
    sigma, chol = validate_covariances(sigma, C, X.shape[1])
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    log_joint = np.stack([log_pi[c] + _gaussian_logpdf_chol(X, mu[c], chol[c]) for c in range(C)], axis=1)
    return logsumexp(log_joint, axis=1)  # Equation (2), in log space


def gmm_density(X, pi, mu, sigma):
    """Mixture density p(x | theta), equation (2); shapes as in :func:`gmm_log_density`.

    Chapter 1 (01_latent_variables_and_mle), equation (2).
    """
    return np.exp(gmm_log_density(X, pi, mu, sigma))
