"""The article's EM for Gaussian mixtures, with its names and signatures (``e_step``,
``m_step``, ``lower_bound``, ``random_init_params``, ``train``), written to read like the
equations: one Python loop over components. Chapter 2 (02_expectation_maximization) derives EM and
chapter 3 (03_em_for_gmms) develops these functions step by step; this is their library version.
Changes from the article: the E-step works in log space, a dying or collapsing component raises
``DegenerateComponentError`` instead of producing NaN, the lower bound treats 0 log 0 as 0
exactly, initialisation works for any D, the convergence test also works when the previous bound
is 0, and every random draw comes from a seed. ``train`` keeps the article's ``rtol`` (a relative
tolerance on the bound); everywhere else the package's tolerance is called ``tol``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .densities import _gaussian_logpdf_chol
from .validation import make_rng, validate_data, validate_mixture, validate_positive_int, validate_responsibilities

__all__ = [
    "DegenerateComponentError", "e_step", "m_step", "lower_bound", "random_init_params", "bound_converged", "train",
]


class DegenerateComponentError(ValueError):
    """A mixture component has (numerically) no responsibility, or a singular covariance.

    Raised by :func:`m_step`; :func:`train` catches it and abandons that
    restart. It subclasses ``ValueError`` so callers that catch bad input
    catch it too.

    Chapter 3 (03_em_for_gmms).
    """


#: A covariance whose smallest eigenvalue is at most this fraction of its largest
#: counts as singular (the cut-off scipy.stats.multivariate_normal uses in float64).
_SINGULAR_RCOND = 1e6 * np.finfo(float).eps


def _component_log_densities(X, mu, chol):
    """log N(x_i | mu_c, L_c L_c^T) for every point and component, shape (N, C).

    ``X`` (N, D), ``mu`` (C, D), ``chol`` (C, D, D) lower Cholesky factors.
    """
    return np.column_stack([_gaussian_logpdf_chol(X, mu[c], chol[c]) for c in range(mu.shape[0])])


def e_step(X, pi, mu, sigma):
    """E-step: posterior probabilities of the components, equation (6).

    Parameters
    ----------
    X : array, shape (N, D)
    pi : array, shape (C,)
        Mixture weights (non-negative, summing to 1; a weight may be 0).
    mu : array, shape (C, D)
    sigma : array, shape (C, D, D)
        Symmetric positive definite covariances.

    Returns
    -------
    q : array, shape (N, C)
        ``q[i, c] = p(t_ic = 1 | x_i, theta)``; every row sums to 1.

    The joint ``log pi_c + log N(x_i | mu_c, Sigma_c)`` is normalised over
    components with log-sum-exp, so a point far from every component (whose
    densities all underflow to 0) still gets finite probabilities instead of
    0 / 0.

    Chapter 3 (03_em_for_gmms), equation (6).
    """
    from scipy.special import logsumexp

    X = validate_data(X)
    pi, mu, _, chol = validate_mixture(pi, mu, sigma, X.shape[1])
    with np.errstate(divide="ignore"):  # log(0) = -inf for a weight of exactly 0 is intended
        log_joint = np.log(pi) + _component_log_densities(X, mu, chol)
    # Equation (6): joint over its sum across components, in log space
    log_q = log_joint - logsumexp(log_joint, axis=1, keepdims=True)
    return np.exp(log_q)


def m_step(X, q):
    """M-step: the parameters that maximise Q for responsibilities ``q``, equations (16)-(18).

    Parameters
    ----------
    X : array, shape (N, D)
    q : array, shape (N, C)
        Responsibilities from :func:`e_step` (rows summing to 1).

    Returns
    -------
    pi : array, shape (C,)
    mu : array, shape (C, D)
    sigma : array, shape (C, D, D)

    Raises
    ------
    DegenerateComponentError
        If a component's total responsibility ``N_c = sum_i q[i, c]`` is at
        most ``N`` times machine epsilon (its mean and covariance would be
        0 / 0), or if its covariance is singular: smallest eigenvalue at most
        ``1e6 * eps`` times the largest, the cut-off of
        ``scipy.stats.multivariate_normal`` (the component has collapsed onto
        points that span fewer than D dimensions, e.g. a single point).

    Chapter 3 (03_em_for_gmms), equations (16)-(18).
    """
    X = validate_data(X)
    N, D = X.shape
    q = validate_responsibilities(q, N)
    C = q.shape[1]
    n_c = q.sum(axis=0)  # effective number of points per component, shape (C,)
    dead = np.flatnonzero(n_c <= N * np.finfo(float).eps)
    if dead.size:
        raise DegenerateComponentError(
            f"component {dead[0]} (counting from 0) has total responsibility {n_c[dead[0]]:.3g}: it explains no data, "
            f"so its mean and covariance (equations (17) and (18)) are undefined")
    # Equation (16): pi_c = N_c / N. Dividing by sum(N_c), which is N when the rows
    # of q sum to 1, keeps the weights summing to 1 to rounding.
    pi = n_c / n_c.sum()
    mu = np.empty((C, D))
    sigma = np.empty((C, D, D))
    for c in range(C):
        # Equation (17): responsibility-weighted mean
        mu[c] = q[:, c] @ X / n_c[c]
        # Equation (18): responsibility-weighted covariance around the new mean
        diff = X - mu[c]
        sigma[c] = (q[:, c, None] * diff).T @ diff / n_c[c]
        eig = np.linalg.eigvalsh(sigma[c])
        if eig[0] <= _SINGULAR_RCOND * eig[-1]:
            raise DegenerateComponentError(
                f"the covariance of component {c} (counting from 0) is singular (eigenvalues {eig[0]:.3g} to {eig[-1]:.3g}): "
                f"the component has collapsed onto too few points")
    return pi, mu, sigma


def lower_bound(X, pi, mu, sigma, q):
    """The lower bound L(theta, q) of the log likelihood, equation (19).

    Parameters
    ----------
    X : array, shape (N, D)
    pi, mu, sigma : arrays, shapes (C,), (C, D), (C, D, D)
    q : array, shape (N, C)
        Any soft assignments (rows summing to 1).

    Returns
    -------
    float
        ``sum_i sum_c q_ic {log N(x_i | mu_c, Sigma_c) + log pi_c - log q_ic}``;
        equal to ``log p(X | theta)`` when ``q`` is the posterior of ``theta``
        and smaller otherwise.

    Terms with ``q_ic = 0`` contribute exactly 0, the limit of ``q log q`` and
    of ``q log pi`` as ``q -> 0`` (``scipy.special.xlogy``). The article added
    1e-8 inside the logarithm instead, which slightly changes every term with
    a small non-zero ``q_ic``; ``xlogy`` needs no such constant.

    Chapter 3 (03_em_for_gmms), equation (19).
    """
    from scipy.special import xlogy

    X = validate_data(X)
    pi, mu, _, chol = validate_mixture(pi, mu, sigma, X.shape[1])
    q = validate_responsibilities(q, X.shape[0])
    if q.shape[1] != mu.shape[0]:
        raise ValueError(f"q must have {mu.shape[0]} columns (one per component); got shape {q.shape}")
    log_pdf = _component_log_densities(X, mu, chol)
    # Equation (19): q {log p(x | t_c = 1) + log p(t_c = 1) - log q}, summed over i and c
    return float(np.sum(q * log_pdf) + np.sum(xlogy(q, pi)) - np.sum(xlogy(q, q)))


def random_init_params(X, C, seed=None):
    """Random starting parameters for EM, for data of any dimension D.

    Equal weights ``1 / C``; means drawn from a Gaussian centred on the data
    mean with the per-dimension data variances on its diagonal; identity
    covariances.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
        Number of components.
    seed : None, int or numpy.random.Generator

    Returns
    -------
    pi : array, shape (C,)
    mu : array, shape (C, D)
    sigma : array, shape (C, D, D)

    Chapter 3 (03_em_for_gmms).
    """
    X = validate_data(X)
    C = validate_positive_int(C, "C")
    rng = make_rng(seed)
    D = X.shape[1]
    pi = np.full(C, 1.0 / C)
    mu = X.mean(axis=0) + np.sqrt(X.var(axis=0)) * rng.standard_normal((C, D))
    sigma = np.tile(np.eye(D), (C, 1, 1))
    return pi, mu, sigma


def bound_converged(prev_lb, lb, rtol):
    """True if the bound changed by at most ``rtol`` relative to the previous value.

    ``|lb - prev_lb| <= rtol * |prev_lb|``. Unlike the article's
    ``if prev_lb and ...``, a previous bound of exactly 0 is tested too (it
    counts as converged only if the bound stayed exactly 0); ``prev_lb=None``
    (no previous iteration) is never converged.

    Chapter 3 (03_em_for_gmms).
    """
    if prev_lb is None:
        return False
    return abs(lb - prev_lb) <= rtol * abs(prev_lb)


def train(X, C, n_restarts=10, max_iter=50, rtol=1e-3, seed=None, return_info=False):
    """Fit a C-component Gaussian mixture by EM, keeping the best of several random restarts.

    Each restart starts from :func:`random_init_params` and alternates
    :func:`e_step` (equation (6)) and :func:`m_step` (equations (16)-(18)),
    evaluating :func:`lower_bound` (equation (19)) after each M-step with the
    new parameters and the responsibilities that produced them, until the
    bound changes by less than ``rtol`` relative to the previous iteration
    (:func:`bound_converged`) or ``max_iter`` iterations have run. A restart
    in which a component dies or collapses (``DegenerateComponentError``) is
    abandoned. The restarts draw from independent generators spawned from
    ``seed``, so a given integer seed always gives the same result.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
        Number of components.
    n_restarts : int
    max_iter : int
        Maximum number of E/M iterations per restart.
    rtol : float
        Relative tolerance of the convergence test (> 0).
    seed : None, int or numpy.random.Generator
    return_info : bool
        Also return a dict with ``"restart_bounds"`` (final bound of each
        restart, ``nan`` if abandoned), ``"n_iter"`` (iterations of each
        restart), ``"n_failed"`` (abandoned restarts) and ``"history"`` (the
        bound after every iteration of the best restart).

    Returns
    -------
    pi : array, shape (C,)
    mu : array, shape (C, D)
    sigma : array, shape (C, D, D)
    q : array, shape (N, C)
        The responsibilities used in the best run's last M-step.
    lb : float
        Its lower bound, ``lower_bound(X, pi, mu, sigma, q)``.
    info : dict, only if ``return_info``

    Raises
    ------
    RuntimeError
        If every restart was abandoned.

    Chapter 3 (03_em_for_gmms), equations (6) and (16)-(19).
    """
    X = validate_data(X)
    C = validate_positive_int(C, "C")
    n_restarts = validate_positive_int(n_restarts, "n_restarts")
    max_iter = validate_positive_int(max_iter, "max_iter")
    if not isinstance(rtol, numbers.Real) or not np.isfinite(rtol) or rtol <= 0:
        raise ValueError(f"rtol must be a positive finite number; got {rtol!r}")
    rngs = make_rng(seed).spawn(n_restarts)
    best = None
    info = {"restart_bounds": [], "n_iter": [], "n_failed": 0, "history": []}
    for rng in rngs:
        pi, mu, sigma = random_init_params(X, C, seed=rng)
        prev_lb, history = None, []
        try:
            for _ in range(max_iter):
                q = e_step(X, pi, mu, sigma)                # Equation (6)
                pi, mu, sigma = m_step(X, q)                # Equations (16)-(18)
                lb = lower_bound(X, pi, mu, sigma, q)       # Equation (19)
                history.append(lb)
                if bound_converged(prev_lb, lb, rtol):
                    break
                prev_lb = lb
        except DegenerateComponentError:
            info["n_failed"] += 1
            info["restart_bounds"].append(np.nan)
            info["n_iter"].append(len(history))
            continue
        info["restart_bounds"].append(lb)
        info["n_iter"].append(len(history))
        if best is None or lb > best[4]:
            best = (pi, mu, sigma, q, lb)
            info["history"] = history
    if best is None:
        raise RuntimeError(
            f"all {n_restarts} restarts were abandoned because a component died or collapsed; "
            f"try fewer components (C = {C}) or more restarts")
    return (*best, info) if return_info else best
