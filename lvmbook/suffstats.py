"""Sufficient statistics of a Gaussian mixture and the one-pass E-step that computes them:
``SuffStats`` (summable sums over points), ``sufficient_statistics``, ``log_responsibilities``
and ``fast_lower_bound``. Chapter 10 (10_robust_fast_em) develops them; chapter 13
(13_em_at_scale) sums them over chunks of data. The maths is that of equations (6), (9) and
(16)-(19); what changes is how it is computed:

* The E-step works in log space through the Cholesky factors L_c of the covariances (never an
  inverse covariance): with z = L_c^{-1} (x - mu_c), log N(x | mu_c, Sigma_c) =
  -(D log 2 pi + 2 sum log diag L_c + |z|^2) / 2, normalised with log-sum-exp, so no point is
  ever "too far" (the article's 0 / 0) and nothing overflows.
* All C triangular solves are one matrix product: the rows of every L_c^{-1} are stacked into one
  (C (D + 1), D + 1) matrix acting on [x - m, 1] (homogeneous coordinates fold the subtraction
  of mu_c into the product).
* The M-step only needs sums over points, taken about the current means so that they stay
  accurate when the data sit far from the origin; they are accumulated in the whitened
  coordinates z as one weighted product per component and mapped back with L_c at the end.
* Rows are processed in blocks small enough to stay in the CPU cache; blocks are grouped into
  fixed tasks whose partial sums are added in a fixed order, so the result does not depend on
  the number of threads. Only numpy's linear algebra runs in the hot loop (numpy and scipy ship
  separate OpenBLAS libraries; alternating between them with several threads is many times slower).
"""

from __future__ import annotations

import numbers
import threading
from dataclasses import dataclass

import numpy as np

from .validation import validate_data, validate_mixture, validate_responsibilities

__all__ = ["SuffStats", "sufficient_statistics", "log_responsibilities", "fast_lower_bound"]


@dataclass(frozen=True, eq=False)
class SuffStats:
    """Sufficient statistics of a Gaussian mixture's M-step, summed over a set of points.

    For points ``x_i`` with responsibilities ``q_ic`` (the E-step posterior,
    equation (6)) and a reference point ``center_c`` per component:

    Attributes
    ----------
    n : int
        Number of points summed.
    sum_q : array, shape (C,)
        ``sum_i q_ic`` -- the effective number of points of each component.
    sum_qx : array, shape (C, D)
        ``sum_i q_ic (x_i - center_c)``.
    sum_qxx : array, shape (C, D, D)
        ``sum_i q_ic (x_i - center_c)(x_i - center_c)^T``.
    log_likelihood : float
        ``sum_i log p(x_i | theta)`` under the parameters that produced ``q``
        (equation (9)); equal to the lower bound (19) at the posterior.
    center : array, shape (C, D)
        The reference points, normally the current means ``mu_c``: moments
        about a point near the data keep their accuracy when the data are far
        from the origin.

    Statistics of disjoint sets of points computed with the same parameters
    add up: ``stats_a + stats_b`` (and ``sum([...])``) are the statistics of
    the union. Adding statistics with different centers raises ``ValueError``.

    Chapter 10 (10_robust_fast_em).
    """

    n: int
    sum_q: np.ndarray
    sum_qx: np.ndarray
    sum_qxx: np.ndarray
    log_likelihood: float
    center: np.ndarray

    def recentered(self, center):
        """The same sums taken about a new reference point ``center`` (C, D) instead of ``self.center``.

        With x - m' = (x - m) + d and d = m - m':  sum q (x - m') = sum_qx + sum_q d, and
        sum q (x - m')(x - m')^T = sum_qxx + sum_qx d^T + d sum_qx^T + sum_q d d^T. Online EM
        (chapter 13 (13_em_at_scale)) moves its running sums to the new means with it.
        """
        d = np.asarray(self.center) - center
        sq, sx = self.sum_q, self.sum_qx
        sum_qx = sx + sq[:, None] * d
        sum_qxx = (self.sum_qxx + np.einsum("ci,cj->cij", sx, d) + np.einsum("ci,cj->cij", d, sx)
                   + sq[:, None, None] * np.einsum("ci,cj->cij", d, d))
        return SuffStats(n=self.n, sum_q=sq, sum_qx=sum_qx, sum_qxx=sum_qxx,
                         log_likelihood=self.log_likelihood, center=np.array(center, dtype=float))

    def __add__(self, other):
        if not isinstance(other, SuffStats):
            return NotImplemented
        if self.center.shape != other.center.shape or not np.array_equal(self.center, other.center):
            raise ValueError("can only add SuffStats computed about the same center (the same current means); "
                             "these centers differ")
        return SuffStats(self.n + other.n, self.sum_q + other.sum_q, self.sum_qx + other.sum_qx,
                         self.sum_qxx + other.sum_qxx, self.log_likelihood + other.log_likelihood,
                         self.center)

    def __radd__(self, other):
        # Lets ``sum(list_of_stats)`` start from 0.
        if isinstance(other, numbers.Number) and other == 0:
            return self
        return NotImplemented


#: Rows per block are chosen so that one block of whitened coordinates,
#: C (D + 1) x rows doubles, takes about 1 MiB (half of this machine's L2 cache).
_BLOCK_DOUBLES = 2 ** 17
#: Rows per task (a multiple of the block size): the unit of work of one thread.
_TASK_ROWS = 8192


def _block_rows(C, D):
    return int(np.clip(_BLOCK_DOUBLES // (C * (D + 1)), 128, _TASK_ROWS))


def _task_bounds(N, C, D):
    """Fixed row ranges ``(start, stop)`` of the tasks; they depend only on N, C and D."""
    nb = _block_rows(C, D)
    task = max(nb, (_TASK_ROWS // nb) * nb)
    return nb, [(a, min(a + task, N)) for a in range(0, N, task)]


class _EStepConstants:
    """Per-iteration constants of the E-step, computed once from (pi, mu, L)."""

    def __init__(self, pi, mu, chol):
        C, D = mu.shape
        self.C, self.D, self.chol = C, D, chol
        # Inverse Cholesky factors, (C, D, D): D^3 work per component, once per iteration.
        inv = np.tril(np.linalg.solve(chol, np.broadcast_to(np.eye(D), (C, D, D))))
        # A point's reference m near the means keeps the product accurate for shifted data.
        self.m = mu.mean(axis=0)
        # Row block c of W maps [x - m, 1] to [L_c^{-1} (x - mu_c), 1].
        W = np.zeros((C, D + 1, D + 1))
        W[:, :D, :D] = inv
        W[:, :D, D] = -np.einsum("cij,cj->ci", inv, mu - self.m)
        W[:, D, D] = 1.0
        self.W = W.reshape(C * (D + 1), D + 1)
        log_det = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        with np.errstate(divide="ignore"):  # a weight of exactly 0 gives log 0 = -inf, as intended
            self.log_const = np.log(pi) - 0.5 * (D * np.log(2.0 * np.pi) + log_det)


class _Workspace:
    """Scratch arrays for blocks of up to ``nb`` rows, allocated once per task and reused by every block.

    ``xa`` (nb, D + 1) holds ``[x - m, 1]``; ``z`` and ``log_joint`` are flat
    buffers for Z (C (D + 1) n) and the log joint (C n). Allocating these
    (about 1 MiB) anew for every block is cheap only while the C library keeps
    freed memory for reuse; Dask's worker processes start with
    ``MALLOC_TRIM_THRESHOLD_=65536``, which hands it back to the system at
    once, so every block paid page faults and ran 2-3 times slower there.
    Each thread keeps one workspace (see :func:`_workspace`).
    """

    def __init__(self, P, nb):
        self.key = (P.C, P.D, nb)
        self.xa = np.ones((nb, P.D + 1))
        self.z = np.empty(P.C * (P.D + 1) * nb)
        self.log_joint = np.empty(P.C * nb)


_THREAD_SCRATCH = threading.local()


def _workspace(P, nb):
    """This thread's :class:`_Workspace` for (C, D, nb): made on first use, reused by later tasks and passes."""
    ws = getattr(_THREAD_SCRATCH, "workspace", None)
    if ws is None or ws.key != (P.C, P.D, nb):
        ws = _THREAD_SCRATCH.workspace = _Workspace(P, nb)
    return ws


def _whiten_block(Xb, P, ws):
    """Whitened coordinates and log joint of one block of rows, written into the workspace ``ws``.

    ``Xb`` (n, D) with n at most the workspace's ``nb``.
    Returns ``Z`` (C, D + 1, n) with ``Z[c, :D] = L_c^{-1} (x - mu_c)`` and
    ``Z[c, D] = 1``, and the log joint ``log pi_c + log N(x | mu_c, Sigma_c)``
    with shape (C, n); both are views of ``ws``, overwritten by the next block.
    """
    n, D = Xb.shape
    C = P.C
    xa = ws.xa[:n]
    np.subtract(Xb, P.m, out=xa[:, :D])
    Z = np.matmul(P.W, xa.T, out=ws.z[:C * (D + 1) * n].reshape(C * (D + 1), n)).reshape(C, D + 1, n)
    zz = Z[:, :D]
    # Squared Mahalanobis distances, then log pi_c + log N = log_const_c - maha / 2, in place.
    log_joint = np.einsum("cdn,cdn->cn", zz, zz, out=ws.log_joint[:C * n].reshape(C, n))
    log_joint *= -0.5
    log_joint += P.log_const[:, None]
    return Z, log_joint


def _normalise(log_joint, row0):
    """Log-sum-exp over components (axis 0) of a (C, n) log joint, in place.

    Overwrites ``log_joint`` with ``log_joint - top`` and returns ``top``, the
    maximum over components, so that ``log p(x) = top + log sum exp(log_joint)``.
    """
    top = log_joint.max(axis=0)
    if not np.all(np.isfinite(top)):
        i = int(np.flatnonzero(~np.isfinite(top))[0])
        raise ValueError(f"X[{row0 + i}] has zero density under every component even in log space "
                         f"(its squared Mahalanobis distances overflow float64); rescale X")
    log_joint -= top
    return top


def _stats_task(X, P, start, stop, nb):
    """Partial sums (C, D + 1, D + 1) and log-likelihood over rows start..stop."""
    D = P.D
    ws = _workspace(P, nb)
    U = np.zeros((P.C, D + 1, D + 1))
    ll = 0.0
    for a in range(start, stop, nb):
        Z, q = _whiten_block(X[a:min(a + nb, stop)], P, ws)
        top = _normalise(q, a)
        np.exp(q, out=q)
        s = q.sum(axis=0)
        q /= s                                               # Equation (6), q has shape (C, n)
        ll += float(np.sum(top + np.log(s)))                 # Equation (9)
        np.sqrt(q, out=q)
        Z *= q[:, None, :]
        # One weighted product per component: [z; 1] q [z; 1]^T holds sum q z z^T,
        # sum q z and sum q.
        U += np.matmul(Z, Z.transpose(0, 2, 1))
    return U, ll


def _log_joint_task(X, P, start, stop, nb, log_joint_out, log_norm_out):
    ws = _workspace(P, nb)
    for a in range(start, stop, nb):
        b = min(a + nb, stop)
        _, lj = _whiten_block(X[a:b], P, ws)
        log_joint_out[a:b] = lj.T
        top = _normalise(lj, a)
        log_norm_out[a:b] = top + np.log(np.exp(lj, out=lj).sum(axis=0))


class _TaskRunner:
    """Runs tasks on ``n_threads`` threads, each with a single-threaded BLAS."""

    def __init__(self, n_threads):
        self.n_threads = n_threads
        self._stack = None
        self._pool = None

    def __enter__(self):
        if self.n_threads > 1:
            import contextlib
            from concurrent.futures import ThreadPoolExecutor
            from threadpoolctl import threadpool_limits

            self._stack = contextlib.ExitStack()
            self._stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
            self._pool = self._stack.enter_context(ThreadPoolExecutor(self.n_threads))
        return self

    def __exit__(self, *exc):
        if self._stack is not None:
            self._stack.close()
            self._stack = self._pool = None
        return False

    def map(self, fn, items):
        """``[fn(item) for item in items]``, in order, possibly on several threads."""
        if self._pool is None or len(items) < 2:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))


def _resolve_n_threads(n_threads):
    if n_threads is None:
        try:
            from threadpoolctl import threadpool_info
        except ImportError:     # threadpoolctl comes with scikit-learn; without it, stay on one thread
            return 1
        counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        return max(1, min(counts)) if counts else 1
    if not isinstance(n_threads, numbers.Integral) or isinstance(n_threads, bool) or n_threads < 1:
        raise ValueError(f"n_threads must be None or a positive integer; got {n_threads!r}")
    return int(n_threads)


def _sufficient_statistics(X, pi, mu, chol, runner):
    """:func:`sufficient_statistics` for validated inputs, run by ``runner``."""
    N = X.shape[0]
    C, D = mu.shape
    P = _EStepConstants(pi, mu, chol)
    nb, tasks = _task_bounds(N, C, D)
    parts = runner.map(lambda t: _stats_task(X, P, t[0], t[1], nb), tasks)
    U = np.zeros((C, D + 1, D + 1))
    ll = 0.0
    for U_t, ll_t in parts:          # a fixed order: the sum does not depend on the threads
        U += U_t
        ll += ll_t
    sum_q = U[:, D, D].copy()
    # Back from whitened to data coordinates: x - mu_c = L_c z.
    sum_qx = np.einsum("cij,cj->ci", chol, U[:, :D, D])
    sum_qxx = chol @ U[:, :D, :D] @ np.swapaxes(chol, 1, 2)
    return SuffStats(N, sum_q, sum_qx, sum_qxx, ll, mu.copy())


def sufficient_statistics(X, pi, mu, sigma_chol, n_threads=1):
    """E-step and the sums the M-step needs, for one block of data, in one pass.

    Parameters
    ----------
    X : array, shape (n, D)
        A block of points (all of the data, or one chunk of it).
    pi : array, shape (C,)
    mu : array, shape (C, D)
    sigma_chol : array, shape (C, D, D)
        Lower Cholesky factors of the covariances, ``Sigma_c = L_c L_c^T``.
    n_threads : int
        Threads to use (each with a one-thread BLAS); 1 by default, so that
        a caller that parallelises over blocks itself is not oversubscribed.

    Returns
    -------
    SuffStats
        Sums over the block of the responsibilities (equation (6), computed in
        log space), of the responsibility-weighted points and outer products
        about ``center = mu``, and of ``log p(x_i | theta)``.

    Chapter 10 (10_robust_fast_em), equations (6) and (9).
    """
    X = validate_data(X)
    pi, mu, _, chol = validate_mixture(pi, mu, n_features=X.shape[1], sigma_chol=sigma_chol)
    with _TaskRunner(_resolve_n_threads(n_threads)) as runner:
        return _sufficient_statistics(X, pi, mu, chol, runner)


def _log_joint(X, pi, mu, chol, n_threads=1):
    """log pi_c + log N(x_i | mu_c, Sigma_c), shape (N, C), and log p(x_i | theta), shape (N,)."""
    N = X.shape[0]
    C, D = mu.shape
    P = _EStepConstants(pi, mu, chol)
    nb, tasks = _task_bounds(N, C, D)
    log_joint = np.empty((N, C))
    log_norm = np.empty(N)
    with _TaskRunner(n_threads) as runner:
        runner.map(lambda t: _log_joint_task(X, P, t[0], t[1], nb, log_joint, log_norm), tasks)
    return log_joint, log_norm


def log_responsibilities(X, pi, mu, sigma_chol, n_threads=1):
    """E-step in log space, equation (6), for any distance of the points from the components.

    Parameters
    ----------
    X : array, shape (N, D)
    pi : array, shape (C,)
    mu : array, shape (C, D)
    sigma_chol : array, shape (C, D, D)
        Lower Cholesky factors of the covariances.
    n_threads : int

    Returns
    -------
    log_q : array, shape (N, C)
        ``log q_ic = log p(t_ic = 1 | x_i, theta)`` (``-inf`` where ``pi_c = 0``).
    log_likelihood : array, shape (N,)
        ``log p(x_i | theta)``, the log-sum-exp of the log joint over components.

    Chapter 10 (10_robust_fast_em), equation (6).
    """
    X = validate_data(X)
    pi, mu, _, chol = validate_mixture(pi, mu, n_features=X.shape[1], sigma_chol=sigma_chol)
    log_joint, log_norm = _log_joint(X, pi, mu, chol, _resolve_n_threads(n_threads))
    return log_joint - log_norm[:, None], log_norm


def fast_lower_bound(X, pi, mu, sigma_chol, q=None):
    """The lower bound L(theta, q), equation (19), vectorised.

    ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma_chol`` (C, D, D);
    ``q`` (N, C) any soft assignments, or ``None`` for the posterior, where
    the bound equals the log-likelihood ``log p(X | theta)`` (the KL term of
    equation (13) is 0). Terms with ``q_ic = 0`` count as exactly 0.
    Returns a float.

    Chapter 10 (10_robust_fast_em), equation (19).
    """
    X = validate_data(X)
    pi, mu, _, chol = validate_mixture(pi, mu, n_features=X.shape[1], sigma_chol=sigma_chol)
    log_joint, log_norm = _log_joint(X, pi, mu, chol)
    if q is None:
        return float(log_norm.sum())
    q = validate_responsibilities(q, X.shape[0])
    if q.shape[1] != mu.shape[0]:
        raise ValueError(f"q must have {mu.shape[0]} columns (one per component); got shape {q.shape}")
    pos = q > 0
    with np.errstate(divide="ignore"):
        terms = np.where(pos, q * (log_joint - np.log(np.where(pos, q, 1.0))), 0.0)   # Equation (19)
    return float(terms.sum())
