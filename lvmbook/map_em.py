"""MAP-EM: EM for a Gaussian mixture with an inverse-Wishart prior on the covariances.

The likelihood of a Gaussian mixture has no maximum: a component that shrinks onto
one data point sends it to infinity (chapter 7 (07_failure_modes), "When EM goes wrong"). A conjugate
inverse-Wishart prior on every covariance,

    p(Sigma_c) = IW(Sigma_c | Psi, nu)
               ∝ |Sigma_c|^{-(nu + D + 1) / 2} exp(-tr(Psi Sigma_c^{-1}) / 2),

turns maximum likelihood into maximum a posteriori (MAP) estimation. EM carries
over unchanged except for one line of the M-step, the covariance update

    Sigma_c = (Psi + N_c S_c) / (N_c + nu + D + 1),

where N_c = sum_i q_ic and S_c is the article's maximum-likelihood covariance,
equation (18). Every covariance is then at least Psi / (N + nu + D + 1), the log
posterior is bounded above, and EM increases it at every iteration. The weights
and means keep their flat priors, so their updates are equations (16) and (17).

scikit-learn's ``reg_covar`` adds eps * I to the maximum-likelihood covariance.
That is the same update with ``Psi = eps * N_c * I`` and ``nu = -(D + 1)``
(:func:`reg_covar_prior`): an improper prior, rescaled at every iteration by the
component's own soft count -- a regulariser, not a fixed prior.

Shapes: X (N, D) data, q (N, C) responsibilities, pi (C,), mu (C, D),
sigma (C, D, D); psi (D, D) shared by all components, or (C, D, D).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .densities import _gaussian_logpdf_chol
from .validation import (
    validate_data,
    validate_mixture,
    validate_nonnegative,
    validate_positive_int,
    validate_responsibilities,
)

__all__ = [
    "MapEMResult",
    "fit_map_em",
    "inverse_wishart_logpdf",
    "map_e_step",
    "map_log_posterior",
    "map_m_step",
    "reg_covar_prior",
    "weak_covariance_prior",
]


# ----------------------------------------------------------------------------
# Checks of the arguments
# ----------------------------------------------------------------------------


def _nu(nu, D, proper):
    if not isinstance(nu, numbers.Real) or not np.isfinite(nu):
        raise ValueError(f"nu must be a finite real number; got {nu!r}")
    if proper and nu <= D - 1:
        raise ValueError(f"nu must exceed D - 1 = {D - 1} for a proper prior; got {nu}")
    if not proper and nu < -(D + 1):
        raise ValueError(f"nu must be at least -(D + 1) = {-(D + 1)}; got {nu}")
    return float(nu)


def _scale(psi, C, D):
    psi = np.asarray(psi, dtype=float)
    if psi.shape == (D, D):
        psi = np.broadcast_to(psi, (C, D, D))
    if psi.shape != (C, D, D):
        raise ValueError(
            f"psi must have shape (D, D) = ({D}, {D}) or (C, D, D) = ({C}, {D}, {D}); "
            f"got shape {psi.shape}"
        )
    if not np.all(np.isfinite(psi)) or not np.allclose(
        psi, np.swapaxes(psi, 1, 2), rtol=1e-12, atol=1e-12
    ):
        raise ValueError("psi must be finite and symmetric")
    if np.linalg.eigvalsh(psi).min() <= 0:
        raise ValueError("psi must be positive definite")
    return psi


def _cholesky(sigma):
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        raise ValueError(
            "every covariance in sigma must be positive definite"
        ) from None


# ----------------------------------------------------------------------------
# The prior
# ----------------------------------------------------------------------------


def inverse_wishart_logpdf(sigma, psi, nu):
    """log IW(Sigma_c | Psi, nu) of each covariance, shape (C,); chapter 7 (07_failure_modes).

    ``sigma`` (C, D, D) or (D, D); ``psi`` (D, D) or (C, D, D), positive definite;
    ``nu > D - 1``. The density is
    |Psi|^{nu/2} / (2^{nu D / 2} Gamma_D(nu / 2)) |Sigma|^{-(nu + D + 1)/2}
    exp(-tr(Psi Sigma^{-1}) / 2), the same as ``scipy.stats.invwishart``.
    """
    sigma = np.asarray(sigma, dtype=float)
    if sigma.ndim == 2:
        sigma = sigma[None]
    if sigma.ndim != 3 or sigma.shape[1] != sigma.shape[2]:
        raise ValueError(f"sigma must have shape (C, D, D); got {sigma.shape}")
    C, D, _ = sigma.shape
    psi = _scale(psi, C, D)
    nu = _nu(nu, D, proper=True)
    L = _cholesky(sigma)
    log_det_sigma = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    log_det_psi = np.linalg.slogdet(psi)[1]
    trace = np.trace(np.linalg.solve(sigma, psi), axis1=1, axis2=2)  # tr(Sigma^-1 Psi)
    return (
        0.5 * nu * log_det_psi
        - 0.5 * nu * D * np.log(2.0)
        - _multigammaln(0.5 * nu, D)
        - 0.5 * (nu + D + 1) * log_det_sigma
        - 0.5 * trace
    )


def weak_covariance_prior(X, C):
    """A weak inverse-Wishart prior for C components on data X (N, D); chapter 7 (07_failure_modes).

    Returns ``(psi, nu)`` with ``nu = D + 2`` (the smallest integer for which the
    prior has a mean) and ``psi = cov(X) / C^(2/D)``: each component's covariance
    is expected to be of the size of a C-th share of the data's volume, a choice
    in the spirit of Fraley and Raftery's Bayesian regularisation of mixtures.
    With so few prior degrees of freedom the prior is overwhelmed by any component
    that explains more than a handful of points.
    """
    X = validate_data(X)
    N, D = X.shape
    if not isinstance(C, numbers.Integral) or C < 1:
        raise ValueError(f"C must be a positive integer; got {C!r}")
    if N < 2:
        raise ValueError("X needs at least 2 rows to estimate its covariance")
    psi = np.atleast_2d(np.cov(X.T, bias=True)) / C ** (2.0 / D)
    if np.linalg.eigvalsh(psi).min() <= 0:
        raise ValueError("the covariance of X is singular: no default prior scale")
    return psi, float(D + 2)


def reg_covar_prior(q, reg_covar, D):
    """The "prior" whose MAP M-step is scikit-learn's ``reg_covar``; chapter 7 (07_failure_modes).

    ``q`` (N, C) responsibilities, ``reg_covar`` > 0, ``D`` the dimension.
    Returns ``(psi, nu)``: ``psi`` of shape (C, D, D) with
    ``psi_c = reg_covar * N_c * I`` and ``nu = -(D + 1)``. With them
    :func:`map_m_step` gives Sigma_c = (eps N_c I + N_c S_c) / N_c = S_c + eps I,
    scikit-learn's covariance update. The prior is improper (a proper
    inverse-Wishart needs nu > D - 1) and its scale follows N_c, which changes
    at every iteration: ``reg_covar`` is a regulariser, not a fixed prior.
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 2:
        raise ValueError(f"q must have shape (N, C); got shape {q.shape}")
    if not isinstance(D, numbers.Integral) or D < 1:
        raise ValueError(f"D must be a positive integer; got {D!r}")
    q = validate_responsibilities(q, q.shape[0])
    if not isinstance(reg_covar, numbers.Real) or not (
        np.isfinite(reg_covar) and reg_covar > 0
    ):
        raise ValueError(
            f"reg_covar must be a positive finite number; got {reg_covar!r}"
        )
    n_c = q.sum(axis=0)
    if np.any(n_c <= 0):
        raise ValueError("every component needs a positive total responsibility N_c")
    psi = reg_covar * n_c[:, None, None] * np.eye(D)
    return psi, float(-(D + 1))


# ----------------------------------------------------------------------------
# E-step, M-step, objective, loop
# ----------------------------------------------------------------------------


def _log_joint(X, pi, mu, chol):
    """log pi_c + log N(x_i | mu_c, L_c L_c^T), shape (N, C), from Cholesky factors ``chol``."""
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    return log_pi + np.column_stack(
        [_gaussian_logpdf_chol(X, mu[c], chol[c]) for c in range(len(pi))]
    )


def map_e_step(X, pi, mu, sigma):
    """Responsibilities q_ic, shape (N, C): equation (6), in log space; chapter 7 (07_failure_modes).

    The prior does not enter the E-step: q is the posterior of the labels given
    the current parameters, as in maximum-likelihood EM.
    """
    X = validate_data(X)
    pi, mu, sigma, chol = validate_mixture(pi, mu, sigma, n_features=X.shape[1])
    log_joint = _log_joint(X, pi, mu, chol)
    return np.exp(log_joint - _logsumexp(log_joint, axis=1, keepdims=True))


def map_m_step(X, q, psi, nu):
    """MAP M-step with an inverse-Wishart(psi, nu) prior on each covariance; chapter 7 (07_failure_modes).

    ``X`` (N, D), ``q`` (N, C), ``psi`` (D, D) or (C, D, D) positive definite,
    ``nu >= -(D + 1)``. Returns ``(pi, mu, sigma)`` of shapes (C,), (C, D),
    (C, D, D): pi_c = N_c / N and mu_c = sum_i q_ic x_i / N_c (equations (16)
    and (17), flat priors), and

        Sigma_c = (Psi_c + N_c S_c) / (N_c + nu + D + 1),

    with N_c S_c = sum_i q_ic (x_i - mu_c)(x_i - mu_c)^T (equation (18) times
    N_c). Raises ``ValueError`` when a component has N_c = 0 (its mean is
    undefined under a flat prior).
    """
    X = validate_data(X)
    N, D = X.shape
    q = validate_responsibilities(q, N)
    C = q.shape[1]
    psi = _scale(psi, C, D)
    nu = _nu(nu, D, proper=False)
    n_c = q.sum(axis=0)  # (C,)
    if np.any(n_c <= 0):
        empty = int(np.flatnonzero(n_c <= 0)[0])
        raise ValueError(
            f"component {empty} (counting from 0) has total responsibility 0: its "
            "mean is undefined"
        )
    pi = n_c / N  # Equation (16)
    mu = (q.T @ X) / n_c[:, None]  # Equation (17)
    diff = X[:, None, :] - mu[None, :, :]  # (N, C, D)
    scatter = np.einsum("nc,ncd,nce->cde", q, diff, diff)  # N_c S_c, equation (18)
    sigma = (psi + scatter) / (n_c + nu + D + 1)[:, None, None]  # the MAP update
    return pi, mu, 0.5 * (sigma + np.swapaxes(sigma, 1, 2))


def map_log_posterior(X, pi, mu, sigma, psi, nu):
    """log p(X | theta) + sum_c log IW(Sigma_c | psi, nu), a scalar; chapter 7 (07_failure_modes).

    The objective that MAP-EM never decreases (up to the constant log p(X)
    and the flat priors on the weights and means). ``nu > D - 1``.
    """
    X = validate_data(X)
    pi, mu, sigma, chol = validate_mixture(pi, mu, sigma, n_features=X.shape[1])
    log_lik = _logsumexp(_log_joint(X, pi, mu, chol), axis=1).sum()
    return float(log_lik + inverse_wishart_logpdf(sigma, psi, nu).sum())


@dataclass(frozen=True)
class MapEMResult:
    """Result of :func:`fit_map_em`; chapter 7 (07_failure_modes).

    ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D): the last parameters;
    ``history``: the log posterior of the start and after every iteration,
    shape (n_iter + 1,); ``n_iter``: iterations run; ``converged``: whether the
    last gain was below ``tol``.
    """

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    history: np.ndarray
    n_iter: int
    converged: bool


def fit_map_em(X, init, psi, nu, max_iter=500, tol=1e-8):
    """MAP-EM from ``init = (pi, mu, sigma)`` with an IW(psi, nu) prior; chapter 7 (07_failure_modes).

    Alternates :func:`map_e_step` and :func:`map_m_step` until the log posterior
    (:func:`map_log_posterior`) gains less than ``tol`` in one iteration, or for
    ``max_iter`` iterations. ``psi`` (D, D) or (C, D, D), ``nu > D - 1``.
    Returns a :class:`MapEMResult`. Raises ``RuntimeError`` if the log posterior
    ever falls by more than round-off, which would be a bug.
    """
    X = validate_data(X)
    D = X.shape[1]
    pi, mu, sigma, _ = validate_mixture(*init, n_features=D)
    _nu(nu, D, proper=True)
    validate_positive_int(max_iter, "max_iter")
    validate_nonnegative(tol, "tol")
    history = [map_log_posterior(X, pi, mu, sigma, psi, nu)]
    converged = False
    for _ in range(max_iter):
        q = map_e_step(X, pi, mu, sigma)  # Equation (6)
        pi, mu, sigma = map_m_step(X, q, psi, nu)  # (16), (17) and the MAP update
        history.append(map_log_posterior(X, pi, mu, sigma, psi, nu))
        gain = history[-1] - history[-2]
        if gain < -1e-9 * max(1.0, abs(history[-2])):
            raise RuntimeError(f"MAP-EM lowered the log posterior by {-gain:.3g}")
        if gain < tol:
            converged = True
            break
    return MapEMResult(pi, mu, sigma, np.array(history), len(history) - 1, converged)


def _logsumexp(a, axis=None, keepdims=False):
    from scipy.special import logsumexp  # scipy is imported on first use only

    return logsumexp(a, axis=axis, keepdims=keepdims)


def _multigammaln(a, d):
    from scipy.special import multigammaln

    return multigammaln(a, d)
