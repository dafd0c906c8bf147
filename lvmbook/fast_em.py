"""EM for full-covariance Gaussian mixtures that is exact, robust and fast: ``fit_gmm`` with
restarts (random or k-means++ starts), the M-step from summed statistics ``m_step_from_stats``
(equations (16)-(18)), the result ``GMMFit``, the errors and warnings it raises, and the progress
callback ``print_progress``. Chapter 10 (10_robust_fast_em) develops it on top of the one-pass
statistics of ``lvmbook.suffstats``; ``lvmbook.dask_em`` runs the same EM loop (``run_em``) with
each pass distributed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .article_em import DegenerateComponentError
from .suffstats import (SuffStats, _resolve_n_threads, _sufficient_statistics, _task_bounds, _TaskRunner,
                        log_responsibilities, sufficient_statistics)
from .validation import (make_rng, validate_covariances, validate_data, validate_means, validate_nonnegative,
                         validate_positive_int, validate_weights)

__all__ = [
    "CollapsedComponentError", "EMConvergenceWarning", "GMMFit", "m_step_from_stats", "fit_gmm", "print_progress",
]


class CollapsedComponentError(DegenerateComponentError):
    """A component has no data left, or its covariance has collapsed (is not positive definite).

    Raised by :func:`m_step_from_stats`; :func:`fit_gmm` catches it and
    abandons that restart. ``component`` is the index of the offending
    component. It subclasses :class:`DegenerateComponentError` (and so
    ``ValueError``), so code written for the article's EM (``lvmbook.article_em``) catches it too.

    Chapter 10 (10_robust_fast_em).
    """

    def __init__(self, message, component=None):
        super().__init__(message)
        self.component = component


class EMConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood change fell below ``tol``.

    Chapter 10 (10_robust_fast_em).
    """


@dataclass(frozen=True, eq=False)
class GMMFit:
    """Result of :func:`fit_gmm`: the best restart's parameters and how it got there.

    Attributes
    ----------
    pi : array, shape (C,)
    mu : array, shape (C, D)
    sigma : array, shape (C, D, D)
    sigma_chol : array, shape (C, D, D)
        Lower Cholesky factors of ``sigma``.
    log_likelihood : float
        ``log p(X | theta)`` of the returned parameters (equation (9)), which
        is the lower bound (19) at the posterior.
    lower_bound_history : list of float
        The lower bound (= log-likelihood) at the start and after every
        M-step of the best restart; never decreases (up to rounding).
    n_iter : int
        Number of M-steps of the best restart.
    converged : bool
        Whether the per-point change of the log-likelihood fell below ``tol``.
    n_failed_restarts : int
        Restarts abandoned because a component collapsed.
    restart_log_likelihoods : list of float
        Final log-likelihood of every restart, ``-inf`` for an abandoned one.

    Chapter 10 (10_robust_fast_em).
    """

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    sigma_chol: np.ndarray
    log_likelihood: float
    lower_bound_history: list
    n_iter: int
    converged: bool
    n_failed_restarts: int
    restart_log_likelihoods: list

    def responsibilities(self, X):
        """Posterior probabilities ``q`` (N, C) of the fitted components for the rows of ``X`` (N, D)."""
        log_q, _ = log_responsibilities(X, self.pi, self.mu, self.sigma_chol)
        return np.exp(log_q)


def _singular_components(mu, sigma):
    """Indices of numerically singular covariances, and their extreme eigenvalues (C,), (C,).

    A covariance accumulated in float64 carries rounding errors of about
    ``eps`` times its largest eigenvalue, so an eigenvalue at most
    ``16 D eps`` times the largest is indistinguishable from 0 (the matrix is
    singular: the component lies on fewer than D + 1 distinct points). A
    spread below the spacing of float64 numbers at the component's mean,
    ``sqrt(lambda_min) <= 16 eps max_j |mu_j|``, is a single point.
    """
    eps = np.finfo(float).eps
    D = mu.shape[1]
    eig = np.linalg.eigvalsh(sigma)
    low, high = eig[:, 0], eig[:, -1]
    floor = np.maximum(16.0 * D * eps * high, (16.0 * eps * np.abs(mu).max(axis=1)) ** 2)
    return np.flatnonzero(~(low > floor)), low, high


def m_step_from_stats(stats, reg_covar=0.0):
    """M-step, equations (16)-(18), from summed sufficient statistics.

    Parameters
    ----------
    stats : SuffStats
        Statistics summed over all the data.
    reg_covar : float
        Non-negative number added to the diagonal of every covariance (0 by
        default, as in the article). It bounds every variance from below, so
        that a component cannot collapse onto one point; scikit-learn's
        ``GaussianMixture`` uses 1e-6 by default. A value that is not small
        next to the data's variances changes the fit: scale it to the data.

    Returns
    -------
    pi : array, shape (C,)
        Equation (16): ``sum_q / n``.
    mu : array, shape (C, D)
        Equation (17): ``center + sum_qx / sum_q``.
    sigma : array, shape (C, D, D)
        Equation (18): ``sum_qxx / sum_q - delta delta^T`` with
        ``delta = mu - center`` (the moments were taken about ``center``),
        plus ``reg_covar`` times the identity.
    sigma_chol : array, shape (C, D, D)
        Lower Cholesky factors of ``sigma``.

    Raises
    ------
    CollapsedComponentError
        If a component's total responsibility is at most ``n`` times machine
        epsilon (no data are left to it: equations (17)-(18) would be 0 / 0),
        or if its covariance is numerically singular or not positive
        definite: smallest eigenvalue at most ``16 D eps`` times the largest
        (rounding level), or a standard deviation below the spacing of float64
        numbers at the mean -- the component sits on a single point, on
        identical points, or on fewer than D + 1 distinct points. Covariances
        that are merely ill-conditioned (condition numbers up to about
        1e14 / D) are accepted; the article's ``m_step`` stops at 1e6 eps.

    Chapter 10 (10_robust_fast_em), equations (16)-(18).
    """
    if not isinstance(stats, SuffStats):
        raise ValueError(f"stats must be a SuffStats; got {type(stats).__name__}")
    validate_nonnegative(reg_covar, "reg_covar")
    n, sum_q = stats.n, stats.sum_q
    C, D = stats.center.shape
    dead = np.flatnonzero(~(sum_q > n * np.finfo(float).eps))
    if dead.size:
        c = int(dead[0])
        raise CollapsedComponentError(
            f"component {c} has total responsibility {sum_q[c]:.3g}: no data are left to it, so its mean "
            f"and covariance (equations (17) and (18)) are undefined; restart, or use fewer components", c)
    pi = sum_q / n                                               # Equation (16)
    delta = stats.sum_qx / sum_q[:, None]
    mu = stats.center + delta                                    # Equation (17)
    # Equation (18), from moments about the center: E[(x - mu)(x - mu)^T] = E[(x - c)(x - c)^T] - delta delta^T
    sigma = stats.sum_qxx / sum_q[:, None, None] - delta[:, :, None] * delta[:, None, :]
    sigma = 0.5 * (sigma + np.swapaxes(sigma, 1, 2))
    if reg_covar > 0:
        sigma += reg_covar * np.eye(D)
    singular, low, high = _singular_components(mu, sigma)
    if singular.size:
        c = int(singular[0])
        raise CollapsedComponentError(
            f"the covariance of component {c} has collapsed: it is numerically singular (eigenvalues "
            f"{low[c]:.3g} to {high[c]:.3g}); the component sits on a single point or on fewer than D + 1 "
            f"distinct points; restart, or use reg_covar > 0", c)
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        c = next(c for c in range(C) if not _is_positive_definite(sigma[c]))
        raise CollapsedComponentError(
            f"the covariance of component {c} is not positive definite: the component has collapsed onto "
            f"fewer than D + 1 distinct points; restart, or use reg_covar > 0", c) from None
    return pi, mu, sigma, chol


def _is_positive_definite(a):
    try:
        np.linalg.cholesky(a)
        return True
    except np.linalg.LinAlgError:
        return False


def _random_start(X, C, rng):
    """Equal weights, means drawn around the data mean with its per-dimension spread,
    covariances diag(variances of the data): like the article's ``random_init_params``
    but scaled to the data, so data in any units start sensibly."""
    mean, var = X.mean(axis=0), X.var(axis=0)
    var = np.where(var > 0, var, 1.0)
    mu = mean + np.sqrt(var) * rng.standard_normal((C, X.shape[1]))
    return np.full(C, 1.0 / C), mu, np.tile(np.diag(var), (C, 1, 1))


def _kmeans_start(X, C, rng, n_lloyd=10):
    """k-means++ seeding and a few Lloyd iterations; weights from the cluster sizes,
    every covariance the pooled within-cluster diagonal variance."""
    N, D = X.shape
    Xc = X - X.mean(axis=0)                      # centred: squared distances without cancellation
    sq = np.einsum("nd,nd->n", Xc, Xc)
    centers = np.empty((C, D))
    centers[0] = Xc[rng.integers(N)]
    d2 = np.maximum(sq - 2 * Xc @ centers[0] + centers[0] @ centers[0], 0)
    for k in range(1, C):
        total = d2.sum()
        idx = rng.choice(N, p=d2 / total) if total > 0 else rng.integers(N)
        centers[k] = Xc[idx]
        d2 = np.minimum(d2, np.maximum(sq - 2 * Xc @ centers[k] + centers[k] @ centers[k], 0))
    for _ in range(n_lloyd):
        labels = np.argmin(-2 * Xc @ centers.T + np.einsum("cd,cd->c", centers, centers), axis=1)
        counts = np.bincount(labels, minlength=C)
        sums = np.zeros((C, D))
        np.add.at(sums, labels, Xc)
        full = counts > 0
        centers[full] = sums[full] / counts[full, None]
    var = ((Xc - centers[labels]) ** 2).mean(axis=0)
    var = np.where(var > 0, var, np.where(X.var(axis=0) > 0, X.var(axis=0), 1.0))
    pi = np.maximum(counts, 1) / np.maximum(counts, 1).sum()
    return pi, centers + X.mean(axis=0), np.tile(np.diag(var), (C, 1, 1))


def validate_em_options(max_iter, tol, reg_covar, callback):
    """Validate the options :func:`run_em` shares with its callers; return ``max_iter`` as an int."""
    max_iter = validate_positive_int(max_iter, "max_iter")
    validate_nonnegative(tol, "tol")
    validate_nonnegative(reg_covar, "reg_covar")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None; got {type(callback).__name__}")
    return max_iter


def run_em(one_pass, N, pi, mu, sigma, chol, max_iter, tol, reg_covar, callback=None, restart=0):
    """The EM loop of :func:`fit_gmm` and ``lvmbook.dask_em.fit_gmm_dask``, whatever reads the data.

    ``one_pass(pi, mu, chol)`` returns the :class:`SuffStats` of all ``N``
    points at those parameters (E-step, equation (6), and log-likelihood,
    equation (9)); :func:`m_step_from_stats` (equations (16)-(18)) turns them
    into new parameters, until the log-likelihood per point changes by less
    than ``tol`` or ``max_iter`` M-steps have run. Returns ``(pi, mu, sigma,
    chol, history, n_iter, converged)``. Chapter 10 (10_robust_fast_em).
    """
    stats = one_pass(pi, mu, chol)                                 # E-step at the start
    history = [float(stats.log_likelihood)]
    if callback is not None:
        callback(restart, 0, history[-1], pi, mu, sigma)
    n_iter, converged = 0, False
    while n_iter < max_iter:
        pi, mu, sigma, chol = m_step_from_stats(stats, reg_covar)  # Equations (16)-(18)
        n_iter += 1
        stats = one_pass(pi, mu, chol)                             # Equation (6) and the bound (19)
        history.append(float(stats.log_likelihood))
        if callback is not None:
            callback(restart, n_iter, history[-1], pi, mu, sigma)
        if abs(history[-1] - history[-2]) / N < tol:
            converged = True
            break
    return pi, mu, sigma, chol, history, n_iter, converged


def warn_if_not_converged(converged, history, N, max_iter, tol):
    """Warn :class:`EMConvergenceWarning` (at the caller of the fit) if a run of :func:`run_em` did not converge."""
    if not converged:
        warnings.warn(EMConvergenceWarning(
            f"EM did not converge in max_iter = {max_iter} M-steps: the last change of the log-likelihood "
            f"per point was {abs(history[-1] - history[-2]) / N:.3g} >= tol = {tol:g}; increase max_iter or tol"),
            stacklevel=3)


def fit_gmm(X, C, n_restarts=10, max_iter=100, tol=1e-6, reg_covar=0.0, init="random", seed=None,
            callback=None, n_threads=None):
    """Fit a C-component full-covariance Gaussian mixture by EM: exact, robust and fast.

    Each restart alternates one pass of :func:`sufficient_statistics`
    (E-step, equation (6), and log-likelihood) and :func:`m_step_from_stats`
    (equations (16)-(18)) until the log-likelihood per point changes by less
    than ``tol`` (the criterion of scikit-learn's ``GaussianMixture``) or
    ``max_iter`` M-steps have run. A restart in which a component collapses
    (:class:`CollapsedComponentError`) is abandoned; the restart with the
    highest final log-likelihood is returned.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
        Number of components, 1 <= C <= N.
    n_restarts : int
        Number of starts (ignored, i.e. 1, when ``init`` gives the parameters).
    max_iter : int
        Maximum number of M-steps per restart.
    tol : float
        Convergence threshold on ``|Delta log p(X | theta)| / N`` (>= 0; 0 runs
        exactly ``max_iter`` M-steps).
    reg_covar : float
        Added to every covariance's diagonal in each M-step; see
        :func:`m_step_from_stats`. 0 by default, as in the article.
    init : "random", "kmeans" or (pi, mu, sigma)
        "random": equal weights, means drawn from a Gaussian with the data's
        mean and per-dimension variances, covariances diag(data variances).
        "kmeans": k-means++ seeds refined by 10 Lloyd iterations. A tuple of
        arrays (C,), (C, D), (C, D, D) starts from those parameters.
    seed : None, int or numpy.random.Generator
        The restarts draw from independent generators spawned from it: an
        integer seed gives the same result every time.
    callback : callable, optional
        Called as ``callback(restart, iteration, log_likelihood, pi, mu, sigma)``
        at the start and after every M-step.
    n_threads : int or None
        Threads for the E-step passes; ``None`` uses as many as the BLAS is
        set to use (``OPENBLAS_NUM_THREADS``). The result does not depend on it.

    Returns
    -------
    GMMFit

    Raises
    ------
    CollapsedComponentError
        If every restart collapsed.

    Warns
    -----
    EMConvergenceWarning
        If the returned restart stopped at ``max_iter`` without converging.

    Chapter 10 (10_robust_fast_em).
    """
    X = validate_data(X)
    N, D = X.shape
    C = validate_positive_int(C, "C", at_most=N)
    n_restarts = validate_positive_int(n_restarts, "n_restarts")
    max_iter = validate_em_options(max_iter, tol, reg_covar, callback)
    n_threads = _resolve_n_threads(n_threads)
    if isinstance(init, str):
        if init not in ("random", "kmeans"):
            raise ValueError(f"init must be 'random', 'kmeans' or a tuple (pi, mu, sigma); got {init!r}")
        starter = _random_start if init == "random" else _kmeans_start
        rngs = make_rng(seed).spawn(n_restarts)
        starts = [lambda rng=rng: starter(X, C, rng) for rng in rngs]
    elif isinstance(init, (tuple, list)) and len(init) == 3:
        pi0 = validate_weights(init[0], C, "init[0] (pi)")
        mu0 = validate_means(init[1], C, D, "init[1] (mu)")
        sigma0, _ = validate_covariances(init[2], C, D, "init[2] (sigma)")
        starts = [lambda: (pi0, mu0, sigma0)]
    else:
        raise ValueError(f"init must be 'random', 'kmeans' or a tuple (pi, mu, sigma); got {type(init).__name__}")

    best, failures, finals = None, [], []
    with _TaskRunner(min(n_threads, len(_task_bounds(N, C, D)[1]))) as runner:
        for restart, start in enumerate(starts):
            pi, mu, sigma = start()
            chol = np.linalg.cholesky(sigma)
            sigma = chol @ np.swapaxes(chol, 1, 2)
            try:
                run = run_em(lambda pi, mu, chol: _sufficient_statistics(X, pi, mu, chol, runner), N,
                             pi, mu, sigma, chol, max_iter, tol, reg_covar, callback, restart)
            except CollapsedComponentError as exc:
                failures.append(exc)
                finals.append(-np.inf)
                continue
            finals.append(run[4][-1])
            if best is None or run[4][-1] > best[4][-1]:
                best = run
    if best is None:
        raise CollapsedComponentError(
            f"every one of the {len(starts)} restarts collapsed (the last: {failures[-1]}). Try reg_covar > 0 "
            f"(small next to the data's variances), fewer components than C = {C}, or init='kmeans'",
            failures[-1].component)
    pi, mu, sigma, chol, history, n_iter, converged = best
    warn_if_not_converged(converged, history, N, max_iter, tol)
    return GMMFit(pi, mu, sigma, chol, history[-1], history, n_iter, converged, len(failures),
                  [float(f) for f in finals])


def print_progress(restart, iteration, log_likelihood, pi, mu, sigma):
    """A ready-made progress callback for :func:`fit_gmm` and :func:`fit_gmm_dask`: one line per iteration.

    Chapter 13 (13_em_at_scale).
    """
    print(f"restart {restart}, iteration {iteration:4d}: log-likelihood {log_likelihood:.6f}", flush=True)
