"""The variational Bayesian GMM of Bishop (PRML, §10.2): the posterior factors
``VBPosterior``, the variational E- and M-steps ``vb_e_step`` and ``vb_m_step``, the evidence
lower bound ``vb_lower_bound`` (all constants kept), the fit ``fit_vb_gmm`` and its result
``VBGMMFit``, and ``sklearn_lower_bound_offset``, which relates our bound to scikit-learn's.
Chapter 11 (11_choosing_components) develops them. Notation follows PRML, with the prior of
``lvmbook.conjugate_prior``; posterior factors carry the prior's names without the 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conjugate_prior import (BayesianGMMPrior, _dirichlet_log_norm, _gauss_wishart_update, _random_hard_resp,
                              _soft_count_statistics, _wishart_log_norm, bayesian_gmm_prior)
from .validation import make_rng, validate_data, validate_nonnegative, validate_positive_int, validate_responsibilities

__all__ = [
    "VBPosterior", "vb_e_step", "vb_m_step", "vb_lower_bound", "VBGMMFit", "fit_vb_gmm", "sklearn_lower_bound_offset",
]


@dataclass(frozen=True)
class VBPosterior:
    """Variational posterior q(pi) q(mu, Lambda) of a Bayesian GMM (PRML 10.57-10.63).

    ``alpha`` (C,) Dirichlet concentrations; ``beta`` (C,) mean-precision scales;
    ``m`` (C, D) means; ``nu`` (C,) degrees of freedom; ``W_inv_chol`` (C, D, D)
    lower Cholesky factors of ``W_k^{-1}``, the inverse Wishart scale matrices.

    Chapter 11 (11_choosing_components).
    """

    alpha: np.ndarray
    beta: np.ndarray
    m: np.ndarray
    nu: np.ndarray
    W_inv_chol: np.ndarray

    @property
    def W(self):
        """Wishart scale matrices ``W_k``, shape (C, D, D)."""
        W_inv = self.W_inv_chol @ np.swapaxes(self.W_inv_chol, 1, 2)
        return np.linalg.inv(W_inv)

    @property
    def pi(self):
        """Posterior mean of the weights, E[pi_k] = alpha_k / sum(alpha), shape (C,)."""
        return self.alpha / self.alpha.sum()

    @property
    def sigma(self):
        """Posterior mean of the covariances, E[Lambda_k^{-1}] = W_k^{-1} / (nu_k - D - 1), shape (C, D, D).

        Defined for ``nu_k > D + 1`` (NaN otherwise)."""
        D = self.m.shape[1]
        W_inv = self.W_inv_chol @ np.swapaxes(self.W_inv_chol, 1, 2)
        dof = self.nu - D - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(dof[:, None, None] > 0, W_inv / dof[:, None, None], np.nan)

    def expected_log_weights(self):
        """E[ln pi_k] = psi(alpha_k) - psi(sum alpha), PRML 10.66; shape (C,)."""
        from scipy.special import digamma

        return digamma(self.alpha) - digamma(self.alpha.sum())

    def expected_log_det_precision(self):
        """E[ln |Lambda_k|] = sum_i psi((nu_k + 1 - i) / 2) + D ln 2 + ln |W_k|, PRML 10.65; shape (C,)."""
        from scipy.special import digamma

        D = self.m.shape[1]
        log_det_W = -2.0 * np.log(np.diagonal(self.W_inv_chol, axis1=1, axis2=2)).sum(axis=1)
        psi = digamma(0.5 * (self.nu[:, None] - np.arange(D)[None, :])).sum(axis=1)
        return psi + D * np.log(2.0) + log_det_W


def _cholesky_or_error(A, name):
    """Lower Cholesky factors of a stack of SPD matrices (C, D, D), with a clear error."""
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite (numerically); check the prior and the data") from None


def vb_m_step(X, resp, prior):
    """Variational M-step: q(pi) q(mu, Lambda) given responsibilities, PRML 10.58 and 10.60-10.63.

    ``X`` (N, D), ``resp`` (N, C), ``prior`` a :class:`BayesianGMMPrior`.
    Returns a :class:`VBPosterior` with alpha_k = alpha0 + N_k (10.58).

    Chapter 11 (11_choosing_components).
    """
    X = validate_data(X)
    resp = validate_responsibilities(resp, X.shape[0], "resp")
    if not isinstance(prior, BayesianGMMPrior):
        raise ValueError(f"prior must be a BayesianGMMPrior (see bayesian_gmm_prior); got {type(prior).__name__}")
    if prior.m0.shape != (X.shape[1],):
        raise ValueError(f"prior is for {prior.m0.shape[0]}-dimensional data but X has {X.shape[1]} columns")
    return _vb_m_step(X, resp, prior)


def _vb_m_step(X, resp, prior):
    """:func:`vb_m_step` without argument checks (for the inner loop)."""
    counts, weighted_sum, scatter = _soft_count_statistics(X, resp)
    alpha = prior.alpha0 + counts                                        # (10.58)
    beta, m, nu, W_inv = _gauss_wishart_update(X, counts, weighted_sum, scatter, prior)
    return VBPosterior(alpha, beta, m, nu, _cholesky_or_error(W_inv, "W_k^-1"))


def _vb_expected_log_joint(X, post):
    """ln rho_nk = E[ln pi_k] + E[ln N(x_n | mu_k, Lambda_k^{-1})], PRML 10.46 with 10.64-10.66; (N, C).

    E[ln N] = E[ln|Lambda_k|]/2 - D/2 ln(2 pi) - (D / beta_k + nu_k (x - m_k)^T W_k (x - m_k)) / 2,
    the quadratic form computed as |L_k^{-1} (x - m_k)|^2 with W_k^{-1} = L_k L_k^T.
    """
    D = X.shape[1]
    L_inv = np.linalg.inv(post.W_inv_chol)                                   # (C, D, D), triangular
    z = (X[None, :, :] - post.m[:, None, :]) @ np.swapaxes(L_inv, 1, 2)      # (C, N, D)
    maha = (z * z).sum(axis=2).T                                             # (N, C)
    expected_maha = D / post.beta + post.nu * maha                                    # (10.64)
    log_gauss = 0.5 * post.expected_log_det_precision() - 0.5 * D * np.log(2.0 * np.pi) - 0.5 * expected_maha
    return post.expected_log_weights() + log_gauss                                    # (10.46)


def vb_e_step(X, post):
    """Variational E-step: responsibilities r_nk proportional to rho_nk, PRML 10.46-10.49.

    ``X`` (N, D), ``post`` a :class:`VBPosterior`; returns ``resp`` (N, C),
    normalised in log space (log-sum-exp), so no row is ever 0/0.

    Chapter 11 (11_choosing_components).
    """
    from scipy.special import logsumexp

    X = validate_data(X)
    if post.m.shape[1] != X.shape[1]:
        raise ValueError(f"post has {post.m.shape[1]}-dimensional components but X has {X.shape[1]} columns")
    log_rho = _vb_expected_log_joint(X, post)
    return np.exp(log_rho - logsumexp(log_rho, axis=1, keepdims=True))               # (10.49)


def vb_lower_bound(X, resp, post, prior):
    """Evidence lower bound L(q) of the variational Bayesian GMM, PRML 10.70-10.77 (all constants kept).

    ``X`` (N, D), ``resp`` (N, C), ``post`` a :class:`VBPosterior`, ``prior`` a
    :class:`BayesianGMMPrior`. Returns a float. Valid for any responsibilities
    and any posterior of this family; it never exceeds ln p(X).

    Chapter 11 (11_choosing_components).
    """
    X = validate_data(X)
    resp = validate_responsibilities(resp, X.shape[0], "resp")
    C, D = post.m.shape
    if resp.shape[1] != C:
        raise ValueError(f"resp must have {C} columns (one per component of post); got {resp.shape[1]}")
    if post.m.shape[1] != X.shape[1] or prior.m0.shape != (X.shape[1],):
        raise ValueError(f"post and prior must be for {X.shape[1]}-dimensional data like X")
    return _vb_lower_bound(X, resp, post, prior, _vb_expected_log_joint(X, post))


def _vb_lower_bound(X, resp, post, prior, log_rho):
    """:func:`vb_lower_bound` without argument checks; ``log_rho`` (N, C) from :func:`_vb_expected_log_joint`."""
    from scipy.special import xlogy

    C, D = post.m.shape
    log_pi = post.expected_log_weights()
    log_lam = post.expected_log_det_precision()
    # E[ln p(X | Z, mu, Lambda)] + E[ln p(Z | pi)], (10.71) + (10.72): sum_nk r_nk ln rho_nk
    e_log_lik = np.sum(resp * log_rho)
    # E[ln p(pi)], (10.73)
    e_log_p_pi = _dirichlet_log_norm(np.full(C, prior.alpha0)) + (prior.alpha0 - 1.0) * log_pi.sum()
    # E[ln p(mu, Lambda)], (10.74)
    L_inv = np.linalg.inv(post.W_inv_chol)                                   # W_k = L_inv^T L_inv
    maha_m = ((L_inv @ (post.m - prior.m0)[:, :, None]) ** 2).sum(axis=(1, 2))   # (m_k - m0)^T W_k (m_k - m0)
    trace_term = ((L_inv @ prior.W0_inv_chol) ** 2).sum(axis=(1, 2))            # Tr(W0^{-1} W_k)
    e_log_p_mu_lam = (0.5 * np.sum(D * np.log(prior.beta0 / (2.0 * np.pi)) + log_lam - D * prior.beta0 / post.beta
                                   - prior.beta0 * post.nu * maha_m)
                      + C * _wishart_log_norm(prior.W0_inv_chol, prior.nu0)
                      + 0.5 * (prior.nu0 - D - 1.0) * log_lam.sum()
                      - 0.5 * np.sum(post.nu * trace_term))
    # E[ln q(Z)], (10.75)
    e_log_q_z = np.sum(xlogy(resp, resp))
    # E[ln q(pi)], (10.76)
    e_log_q_pi = np.sum((post.alpha - 1.0) * log_pi) + _dirichlet_log_norm(post.alpha)
    # E[ln q(mu, Lambda)], (10.77), with the Wishart entropy H[q(Lambda_k)] of PRML B.82
    log_B = _wishart_log_norm(post.W_inv_chol, post.nu)
    entropy_lam = -log_B - 0.5 * (post.nu - D - 1.0) * log_lam + 0.5 * post.nu * D
    e_log_q_mu_lam = np.sum(0.5 * log_lam + 0.5 * D * np.log(post.beta / (2.0 * np.pi)) - 0.5 * D - entropy_lam)
    return float(e_log_lik + e_log_p_pi + e_log_p_mu_lam - e_log_q_z - e_log_q_pi - e_log_q_mu_lam)


@dataclass(frozen=True)
class VBGMMFit:
    """Result of :func:`fit_vb_gmm`.

    ``posterior`` the final :class:`VBPosterior`; ``resp`` (N, C) the
    responsibilities it was computed from; ``prior`` the
    :class:`BayesianGMMPrior`; ``history`` (n_iter + 1,) the lower bound after
    each M-step, the first entry from the initial responsibilities;
    ``lower_bound`` its last value; ``n_iter`` the number of E/M iterations
    after the initial M-step; ``converged`` whether the tolerance was met.

    Chapter 11 (11_choosing_components).
    """

    posterior: VBPosterior
    resp: np.ndarray
    prior: BayesianGMMPrior
    history: np.ndarray
    lower_bound: float
    n_iter: int
    converged: bool

    @property
    def pi(self):
        """E[pi_k], shape (C,)."""
        return self.posterior.pi

    @property
    def mu(self):
        """E[mu_k] = m_k, shape (C, D)."""
        return self.posterior.m

    @property
    def sigma(self):
        """E[Sigma_k], shape (C, D, D); see :attr:`VBPosterior.sigma`."""
        return self.posterior.sigma


def fit_vb_gmm(X, C, alpha0=None, beta0=1.0, m0=None, W0=None, nu0=None,
               seed=None, max_iter=1000, tol=1e-10, init_resp=None):
    """Fit a variational Bayesian GMM (PRML 10.2) by alternating variational M- and E-steps.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
        Number of components (an upper bound: surplus components may empty).
    alpha0, beta0, m0, W0, nu0
        The prior, see :func:`bayesian_gmm_prior` (defaults: scikit-learn's).
    seed : None, int or numpy.random.Generator
        Used only when ``init_resp`` is None: each point is then assigned to
        the nearest of C distinct random data points.
    max_iter : int
        Maximum number of E/M iterations after the initial M-step.
    tol : float
        Stop when the bound rose by less than ``tol * |bound|``.
    init_resp : array, shape (N, C), optional
        Initial responsibilities; the first M-step starts from them.

    Returns
    -------
    :class:`VBGMMFit`. ``history`` never decreases (up to rounding) -- the
    property that checks an implementation.

    Chapter 11 (11_choosing_components).
    """
    X = validate_data(X)
    N = X.shape[0]
    C = validate_positive_int(C, "C", at_most=N)
    max_iter = validate_positive_int(max_iter, "max_iter")
    validate_nonnegative(tol, "tol")
    prior = bayesian_gmm_prior(X, C, alpha0, beta0, m0, W0, nu0)
    if init_resp is None:
        resp = _random_hard_resp(X, C, make_rng(seed))
    else:
        resp = validate_responsibilities(init_resp, N, "init_resp")
        if resp.shape[1] != C:
            raise ValueError(f"init_resp must have C = {C} columns; got shape {resp.shape}")
    post = _vb_m_step(X, resp, prior)
    log_rho = _vb_expected_log_joint(X, post)
    history = [_vb_lower_bound(X, resp, post, prior, log_rho)]
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        shifted = log_rho - log_rho.max(axis=1, keepdims=True)                 # E-step, (10.49), in log space
        resp = np.exp(shifted)
        resp /= resp.sum(axis=1, keepdims=True)
        post = _vb_m_step(X, resp, prior)                                      # M-step
        log_rho = _vb_expected_log_joint(X, post)
        history.append(_vb_lower_bound(X, resp, post, prior, log_rho))
        if history[-1] - history[-2] <= tol * abs(history[-1]):
            converged = True
            break
    return VBGMMFit(post, resp, prior, np.array(history), history[-1], n_iter, converged)


def sklearn_lower_bound_offset(prior, N, C):
    """The constant by which scikit-learn's ``BayesianGaussianMixture.lower_bound_`` differs from the full ELBO.

    scikit-learn evaluates the bound right after an M-step, where q(pi, mu,
    Lambda) is optimal for the responsibilities, and drops every term that
    depends on the prior, N, C and D only. It is a total over the N points,
    not a per-point average (unlike ``GaussianMixture.lower_bound_``). With a
    Dirichlet-distribution prior:

        full ELBO - sklearn bound = ln C(alpha0 1_C) + C (D/2) ln beta0 + C ln B(W0, nu0)
                                    - N (D/2) ln(2 pi) + C D (D - 1)/4 ln pi,

    where ln C is the Dirichlet normaliser (PRML B.23) and ln B the Wishart
    normaliser (PRML B.79); the last term is the ln pi part of ln B(W_k, nu_k)
    that scikit-learn also omits. ``prior`` a :class:`BayesianGMMPrior`.

    Chapter 11 (11_choosing_components).
    """
    N = validate_positive_int(N, "N")
    C = validate_positive_int(C, "C", at_most=N)
    D = prior.m0.shape[0]
    return float(_dirichlet_log_norm(np.full(C, prior.alpha0)) + 0.5 * C * D * np.log(prior.beta0)
                 + C * _wishart_log_norm(prior.W0_inv_chol, prior.nu0) - 0.5 * N * D * np.log(2.0 * np.pi)
                 + 0.25 * C * D * (D - 1) * np.log(np.pi))
