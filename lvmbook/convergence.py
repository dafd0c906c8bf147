"""How fast EM converges, and how to make it faster (chapter 9 (09_em_convergence)).

EM is a fixed-point iteration ``theta_{t+1} = M(theta_t)``. Near a maximum
``theta*`` the error shrinks by the Jacobian of ``M`` at ``theta*`` each step,
so the rate of convergence is its largest eigenvalue -- the fraction of
missing information. This module writes the EM map on one unconstrained
parameter vector (so that finite differences and extrapolation never leave
the set of valid mixtures), differentiates it numerically, and accelerates it
with SQUAREM (Varadhan and Roland, 2008).

The parameter vector ``theta`` of a C-component mixture in D dimensions has
``k = (C - 1) + C D + C D (D + 1) / 2`` entries, in this order:

- the logits ``log(pi_c / pi_C)`` of the first ``C - 1`` weights;
- the means ``mu`` (C, D), row by row;
- per component, the lower triangle (row by row) of the Cholesky factor
  ``L_c`` of ``Sigma_c = L_c L_c^T``, with the log of its diagonal entries.

Every real vector of that length is a valid mixture, and every mixture with
positive weights and positive definite covariances has exactly one vector.
"""

from dataclasses import dataclass, field

import numpy as np

from .fast_em import m_step_from_stats
from .suffstats import sufficient_statistics
from .validation import validate_positive_int

__all__ = [
    "pack_params",
    "unpack_params",
    "n_params",
    "em_step",
    "em_map",
    "numerical_jacobian",
    "spectral_radius",
    "SquaremResult",
    "squarem",
]


def n_params(C, D):
    """Length ``k`` of the parameter vector of a C-component, D-dimensional mixture.

    Chapter 9 (09_em_convergence)."""
    C, D = validate_positive_int(C, "C"), validate_positive_int(D, "D")
    return (C - 1) + C * D + C * D * (D + 1) // 2


def _check_theta(theta, C, D):
    theta = np.asarray(theta, dtype=float)
    k = n_params(C, D)
    if theta.shape != (k,):
        raise ValueError(
            f"theta must have shape ({k},) for C = {C}, D = {D}; got {theta.shape}"
        )
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta must be finite; it contains NaN or infinity")
    return theta


def pack_params(pi, mu, sigma):
    """Parameters ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D) as one vector (k,).

    Chapter 9 (09_em_convergence).

    Raises ``ValueError`` for a weight that is not positive or a covariance
    that is not positive definite (they have no unconstrained coordinates).
    """
    pi = np.asarray(pi, dtype=float)
    mu = np.asarray(mu, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if mu.ndim != 2:
        raise ValueError(f"mu must have shape (C, D); got {mu.shape}")
    C, D = mu.shape
    if pi.shape != (C,) or not np.all(pi > 0):
        raise ValueError(f"pi must have shape ({C},) and positive entries; got {pi!r}")
    if sigma.shape != (C, D, D):
        raise ValueError(f"sigma must have shape ({C}, {D}, {D}); got {sigma.shape}")
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        raise ValueError("sigma must hold positive definite covariances") from None
    rows, cols = np.tril_indices(D)
    B = chol.copy()
    B[:, np.arange(D), np.arange(D)] = np.log(np.diagonal(chol, axis1=1, axis2=2))
    logits = np.log(pi[:-1]) - np.log(pi[-1])
    return np.concatenate([logits, mu.ravel(), B[:, rows, cols].ravel()])


def unpack_params(theta, C, D):
    """The mixture ``(pi, mu, sigma, chol)`` of ``theta`` (k,).

    Chapter 9 (09_em_convergence).

    Shapes (C,), (C, D), (C, D, D), (C, D, D); ``chol`` holds the lower Cholesky
    factors of ``sigma``.
    """
    C, D = validate_positive_int(C, "C"), validate_positive_int(D, "D")
    theta = _check_theta(theta, C, D)
    logits = np.append(theta[: C - 1], 0.0)
    pi = np.exp(logits - logits.max())
    pi /= pi.sum()
    mu = theta[C - 1 : C - 1 + C * D].reshape(C, D).copy()
    rows, cols = np.tril_indices(D)
    chol = np.zeros((C, D, D))
    chol[:, rows, cols] = theta[C - 1 + C * D :].reshape(C, -1)
    diag = np.arange(D)
    chol[:, diag, diag] = np.exp(chol[:, diag, diag])
    sigma = chol @ np.swapaxes(chol, 1, 2)
    return pi, mu, sigma, chol


def em_step(theta, X, C):
    """One EM iteration on the vector ``theta`` (k,): ``(M(theta), log p(X | theta))``.

    Chapter 9 (09_em_convergence) iterates, differentiates and accelerates it.

    One pass over ``X`` (N, D): the E-step (equation (6)) and the sums of the
    M-step, then the M-step (equations (16)-(18)), with the library's
    ``sufficient_statistics`` (``lvmbook.suffstats``) and ``m_step_from_stats``
    (``lvmbook.fast_em``). The log likelihood
    (equation (9)) at the *input* ``theta`` comes with the pass for free.
    Raises the library's ``CollapsedComponentError`` if a component collapses.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D); got {X.shape}")
    pi, mu, _, chol = unpack_params(theta, C, X.shape[1])
    stats = sufficient_statistics(X, pi, mu, chol)
    pi_new, mu_new, sigma_new, _ = m_step_from_stats(stats)
    return pack_params(pi_new, mu_new, sigma_new), float(stats.log_likelihood)


def em_map(theta, X, C):
    """The EM map ``M(theta)`` (k,): one E-step and M-step from ``theta`` (k,).

    Chapter 9 (09_em_convergence)."""
    return em_step(theta, X, C)[0]


def numerical_jacobian(f, theta, h=1e-6):
    """Jacobian ``J[j, l] = d f_j / d theta_l`` (m, k) of ``f`` at ``theta`` (k,).

    Chapter 9 (09_em_convergence) differentiates the EM map with it; its spectral radius at a
    maximum is EM's rate of convergence.

    Central differences ``(f(theta + h e_l) - f(theta - h e_l)) / 2h``: 2 k
    calls of ``f``, error of order ``h**2`` plus rounding of order ``eps / h``.
    """
    theta = np.asarray(theta, dtype=float)
    if theta.ndim != 1 or not np.all(np.isfinite(theta)):
        raise ValueError(f"theta must be a finite vector; got shape {theta.shape}")
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a positive number; got {h!r}")
    columns = []
    for e in np.eye(theta.size):
        columns.append(
            (np.asarray(f(theta + h * e)) - np.asarray(f(theta - h * e))) / (2 * h)
        )
    return np.stack(columns, axis=1)


def spectral_radius(J):
    """Largest absolute eigenvalue of a square matrix ``J`` (k, k).

    Chapter 9 (09_em_convergence)."""
    J = np.asarray(J, dtype=float)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(f"J must be a square matrix; got shape {J.shape}")
    return float(np.abs(np.linalg.eigvals(J)).max())


@dataclass
class SquaremResult:
    """Outcome of :func:`squarem`. Chapter 9 (09_em_convergence).

    Attributes
    ----------
    theta : array, shape (k,)
        The last iterate.
    objective : list of float
        The objective (for EM: ``log p(X | theta)``) at each accepted iterate,
        starting with ``theta0``.
    passes : list of int
        Calls of ``step`` made when each iterate of ``objective`` was reached.
    n_fallbacks : int
        Extrapolations rejected by the monotonicity safeguard.
    rejected_at : list of int
        The number of calls of ``step`` made when each of them was rejected.
        Near convergence the safeguard compares objectives that differ by
        rounding only, so count rejections up to a tolerance, not to the end.
    converged : bool
        Whether ``||theta_{t+1} - theta_t|| < tol`` was reached.
    """

    theta: np.ndarray
    objective: list = field(default_factory=list)
    passes: list = field(default_factory=list)
    n_fallbacks: int = 0
    rejected_at: list = field(default_factory=list)
    converged: bool = False


def squarem(step, theta0, tol=1e-10, max_passes=1000, step_max0=1.0, mstep=4.0):
    """SQUAREM, scheme SqS3 (Varadhan and Roland, 2008), with a monotonicity safeguard.

    Chapter 9 (09_em_convergence) uses it to accelerate EM (``step`` = :func:`em_step`).

    Parameters
    ----------
    step : callable
        ``step(theta) -> (M(theta), objective(theta))`` for ``theta`` (k,):
        one fixed-point update that does not decrease the objective (an EM
        iteration, :func:`em_step`) and the objective at its input. One call
        is one pass.
    theta0 : array, shape (k,)
    tol : float
        Stop when an iteration moves ``theta`` by less than ``tol`` (2-norm).
    max_passes : int
        Stop after about this many calls of ``step``.
    step_max0, mstep : float
        Step-length clamp: ``alpha`` is kept in ``[-step_max, -1]``;
        ``step_max`` starts at ``step_max0``, is multiplied by ``mstep`` each
        time ``alpha`` is clamped to it, and divided by ``mstep`` after a fallback.

    Each iteration takes two steps ``theta1 = M(theta0)``, ``theta2 =
    M(theta1)``, forms ``r = theta1 - theta0``, ``v = theta2 - 2 theta1 +
    theta0`` and ``alpha = -||r|| / ||v||``, extrapolates to ``theta' =
    theta0 - 2 alpha r + alpha**2 v`` and takes one stabilising step from
    there. With ``alpha = -1`` the scheme is two plain steps. If the objective
    at ``theta'`` is below the objective at ``theta0`` (or ``step`` raises
    ``ValueError``, ``ArithmeticError`` or ``LinAlgError``, as when a
    component collapses), the extrapolation is dropped and the
    iteration ends at ``theta2``: the objective never decreases.

    Returns
    -------
    SquaremResult
    """
    if not callable(step):
        raise ValueError(f"step must be callable; got {type(step).__name__}")
    theta = np.asarray(theta0, dtype=float).copy()
    if theta.ndim != 1 or not np.all(np.isfinite(theta)):
        raise ValueError(f"theta0 must be a finite vector; got shape {theta.shape}")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number; got {tol!r}")
    max_passes = validate_positive_int(max_passes, "max_passes")
    if not (step_max0 >= 1 and mstep > 1):
        raise ValueError(
            f"need step_max0 >= 1 and mstep > 1; got {step_max0!r}, {mstep!r}"
        )
    step_max = float(step_max0)
    result = SquaremResult(theta)
    used = 0
    theta1, obj = step(theta)
    used += 1
    result.objective.append(float(obj))
    result.passes.append(0)
    while used < max_passes:
        theta2, _ = step(theta1)
        used += 1
        r = theta1 - theta
        v = theta2 - theta1 - r
        norm_v = np.linalg.norm(v)
        alpha = -1.0 if norm_v == 0 else -np.linalg.norm(r) / norm_v
        alpha = min(-1.0, max(alpha, -step_max))
        at_clamp = alpha == -step_max
        new = None
        if alpha != -1.0:
            candidate = theta - 2 * alpha * r + alpha**2 * v
            used += 1
            try:
                new, cand_obj = step(candidate)  # the stabilising EM step
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                # e.g. a collapsed component: fall back to plain EM
                new, cand_obj = None, -np.inf
            if not cand_obj >= obj:  # the safeguard; also catches NaN
                new, at_clamp = None, False
                result.n_fallbacks += 1
                result.rejected_at.append(used)
                step_max = max(step_max0, step_max / mstep)
        if at_clamp:  # the clamp bit: allow longer steps
            step_max *= mstep
        if new is None:  # two plain EM steps
            new = theta2
        moved = np.linalg.norm(new - theta)
        theta = new
        theta1, obj = step(theta)
        used += 1
        result.objective.append(float(obj))
        result.passes.append(used - 1)
        if moved < tol:
            result.converged = True
            break
    result.theta = theta
    return result
