"""A Gibbs sampler for the Bayesian GMM with the conjugate prior of ``lvmbook.conjugate_prior``:
``gibbs_gmm`` returns its draws as ``GibbsSamples``, and ``relabel_samples`` undoes label
switching by matching each draw's components to a reference (``lvmbook.data.match_components``).
Chapter 12 (12_gibbs_sampling) develops them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conjugate_prior import _gauss_wishart_update, _random_hard_resp, _soft_count_statistics, bayesian_gmm_prior
from .data import match_components
from .validation import make_rng, validate_data, validate_means, validate_positive_int

__all__ = ["GibbsSamples", "gibbs_gmm", "relabel_samples"]


@dataclass(frozen=True)
class GibbsSamples:
    """Draws of a Gibbs sampler for the Bayesian GMM (:func:`gibbs_gmm`).

    ``pi`` (S, C), ``mu`` (S, C, D), ``sigma`` (S, C, D, D) the parameters
    after each sweep; ``counts`` (S, C) points per component; ``log_likelihood``
    (S,) ln p(X | theta) at each draw; ``z`` (N,) the last assignment.

    Chapter 12 (12_gibbs_sampling).
    """

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    counts: np.ndarray
    log_likelihood: np.ndarray
    z: np.ndarray

    def __getitem__(self, index):
        """The draws selected by ``index`` (a slice or index array over S); ``z`` is kept."""
        return GibbsSamples(self.pi[index], self.mu[index], self.sigma[index], self.counts[index],
                            self.log_likelihood[index], self.z)


def _sample_wishart_chol(W_chol, nu, rng):
    """Lower Cholesky factor of one draw Lambda ~ W(W, nu) by the Bartlett decomposition.

    ``W_chol`` (D, D) lower Cholesky factor of W; Lambda = (L A)(L A)^T with A
    lower triangular, A_ii = sqrt(chi2(nu - i)), i = 0..D-1, A_ij ~ N(0, 1) below.
    """
    D = W_chol.shape[0]
    A = np.tril(rng.standard_normal((D, D)), k=-1)
    A[np.diag_indices(D)] = np.sqrt(rng.chisquare(nu - np.arange(D)))
    return W_chol @ A


def gibbs_gmm(X, C, n_iter, seed=None, alpha0=None, beta0=1.0, m0=None, W0=None, nu0=None, init_z=None):
    """Gibbs sampler for the Bayesian GMM with the conjugate prior of :func:`bayesian_gmm_prior`.

    Each sweep draws (i) every label z_n from p(z_n = k | ...) proportional to
    pi_k N(x_n | mu_k, Lambda_k^{-1}); (ii) pi ~ Dir(alpha0 + n_k); (iii) for each
    component Lambda_k ~ W(W_k, nu_k) and mu_k ~ N(m_k, (beta_k Lambda_k)^{-1})
    with the hard-count version of PRML 10.60-10.63. numpy only.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
    n_iter : int
        Number of sweeps (all are returned; drop a burn-in yourself).
    seed : None, int or numpy.random.Generator
    alpha0, beta0, m0, W0, nu0
        The prior (defaults as in :func:`bayesian_gmm_prior`).
    init_z : array of int, shape (N,), optional
        Initial labels in 0..C-1; by default each point goes to the nearest of
        C random data points.

    Returns
    -------
    :class:`GibbsSamples` with S = n_iter draws.

    Chapter 12 (12_gibbs_sampling).
    """
    from scipy.linalg import cho_solve, solve_triangular
    from scipy.special import logsumexp

    X = validate_data(X)
    N, D = X.shape
    C = validate_positive_int(C, "C", at_most=N)
    n_iter = validate_positive_int(n_iter, "n_iter")
    prior = bayesian_gmm_prior(X, C, alpha0, beta0, m0, W0, nu0)
    rng = make_rng(seed)
    if init_z is None:
        z = _random_hard_resp(X, C, rng).argmax(axis=1)
    else:
        z = np.asarray(init_z)
        if z.shape != (N,) or z.dtype.kind not in "iu" or z.min() < 0 or z.max() >= C:
            raise ValueError(f"init_z must be an integer array of shape ({N},) with values in 0..{C - 1}")
    pis = np.empty((n_iter, C))
    mus = np.empty((n_iter, C, D))
    sigmas = np.empty((n_iter, C, D, D))
    counts_all = np.empty((n_iter, C), dtype=np.int64)
    log_liks = np.empty(n_iter)
    eye = np.eye(D)
    for s in range(n_iter):
        resp = np.zeros((N, C))
        resp[np.arange(N), z] = 1.0
        counts, weighted_sum, scatter = _soft_count_statistics(X, resp)
        pi = rng.dirichlet(prior.alpha0 + counts)
        beta, m, nu, W_inv = _gauss_wishart_update(X, counts, weighted_sum, scatter, prior)
        prec_chol = np.empty((C, D, D))
        for k in range(C):
            W_inv_chol = np.linalg.cholesky(W_inv[k])
            W_chol = np.linalg.cholesky(cho_solve((W_inv_chol, True), eye))
            prec_chol[k] = _sample_wishart_chol(W_chol, nu[k], rng)          # Lambda_k = P P^T
            # mu_k = m_k + (beta_k Lambda_k)^{-1/2} e: solve P^T y = e, so Cov(y) = Lambda_k^{-1}
            mus[s, k] = m[k] + solve_triangular(prec_chol[k].T, rng.standard_normal(D), lower=False) / np.sqrt(beta[k])
            P_inv = solve_triangular(prec_chol[k], eye, lower=True)
            sigmas[s, k] = P_inv.T @ P_inv
        # log pi_k + log N(x_n | mu_k, Lambda_k^{-1}) through the precision Cholesky factor, (N, C)
        log_joint = np.empty((N, C))
        for k in range(C):
            y = (X - mus[s, k]) @ prec_chol[k]
            log_det = 2.0 * np.log(np.diag(prec_chol[k])).sum()
            log_joint[:, k] = -0.5 * (D * np.log(2.0 * np.pi) - log_det + np.einsum("nd,nd->n", y, y))
        with np.errstate(divide="ignore"):
            log_joint += np.log(pi)
        log_norm = logsumexp(log_joint, axis=1, keepdims=True)
        log_liks[s] = log_norm.sum()
        cdf = np.cumsum(np.exp(log_joint - log_norm), axis=1)
        z = np.minimum((cdf < rng.random(N)[:, None] * cdf[:, -1:]).sum(axis=1), C - 1)
        pis[s], counts_all[s] = pi, counts
    return GibbsSamples(pis, mus, sigmas, counts_all, log_liks, z)


def relabel_samples(samples, reference_means):
    """Undo label switching: permute each draw's components to best match ``reference_means``.

    ``samples`` a :class:`GibbsSamples` (S draws, C components);
    ``reference_means`` (C, D), e.g. a VB or EM fit. For each draw the
    permutation minimising the summed squared distances between its means and
    the reference is found by :func:`lvmbook.data.match_components`. Returns ``(relabelled, perms)``
    with ``perms`` (S, C): component ``perms[s, k]`` of draw ``s`` becomes ``k``.

    Chapter 12 (12_gibbs_sampling).
    """
    S, C, D = samples.mu.shape
    reference_means = validate_means(reference_means, C, D, "reference_means")
    perms = np.array([match_components(mu, reference_means) for mu in samples.mu], dtype=np.int64).reshape(S, C)
    rows = np.arange(S)[:, None]
    relabelled = GibbsSamples(samples.pi[rows, perms], samples.mu[rows, perms], samples.sigma[rows, perms],
                              samples.counts[rows, perms], samples.log_likelihood, samples.z)
    return relabelled, perms
