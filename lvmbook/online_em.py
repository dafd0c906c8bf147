"""Online (stepwise) EM of Cappe and Moulines (2009): ``online_em`` updates the parameters after
every mini-batch from running averages of the sufficient statistics of ``lvmbook.suffstats``,
with the step sizes of ``step_sizes``, and returns an ``OnlineFit``. It reads a NumPy array or a
row-chunked dask.array one mini-batch at a time. Chapter 13 (13_em_at_scale) develops it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .dask_em import _check_dask_data, _import_dask, _is_dask_array, _unpack_init
from .fast_em import m_step_from_stats
from .suffstats import SuffStats, sufficient_statistics
from .validation import make_rng, validate_data, validate_nonnegative, validate_positive_int

__all__ = ["OnlineFit", "step_sizes", "online_em"]


@dataclass(frozen=True)
class OnlineFit:
    """Result of :func:`online_em`: final parameters and per-step traces (each shape (n_steps,)).

    Chapter 13 (13_em_at_scale).
    """

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    n_steps: int
    points_seen: np.ndarray
    mean_log_likelihood: np.ndarray
    step_size: np.ndarray


def _stepwise_update(running, batch, gamma):
    """s_k = (1 - gamma) s_{k-1} + gamma * (batch sums / batch size), both about the batch's center.

    ``running`` holds statistics per point (n = 1); the result does too.
    """
    running = running.recentered(batch.center)
    w = gamma / batch.n
    return SuffStats(n=1,
                     sum_q=(1 - gamma) * running.sum_q + w * batch.sum_q,
                     sum_qx=(1 - gamma) * running.sum_qx + w * batch.sum_qx,
                     sum_qxx=(1 - gamma) * running.sum_qxx + w * batch.sum_qxx,
                     log_likelihood=(1 - gamma) * running.log_likelihood + w * batch.log_likelihood,
                     center=batch.center)


def step_sizes(n_steps, kappa=0.6, k0=10.0):
    """Step sizes gamma_k = (k + k0)^(-kappa) of online EM for k = 1, ..., n_steps; shape (n_steps,).

    With 0.5 < kappa <= 1 the steps sum to infinity (the running statistics can
    travel anywhere) while their squares sum to a finite value (the noise of the
    mini-batches averages out): the conditions of Cappe & Moulines (2009) for
    convergence. Smaller kappa forgets old mini-batches faster; k0 > 0 damps the
    first steps.

    Chapter 13 (13_em_at_scale).
    """
    if not isinstance(n_steps, numbers.Integral) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer; got {n_steps!r}")
    if not (0.5 < kappa <= 1.0):
        raise ValueError(f"kappa must lie in (0.5, 1]; got {kappa!r}")
    validate_nonnegative(k0, "k0")
    return (np.arange(1, n_steps + 1) + float(k0)) ** (-float(kappa))


def _minibatches(X, batch_size, n_epochs, rng, client):
    """Yield mini-batches (b, D) for online EM: shuffled rows of a NumPy array, or chunk by chunk from Dask."""
    if not _is_dask_array(X):
        for _ in range(n_epochs):
            order = rng.permutation(X.shape[0])
            for start in range(0, X.shape[0], batch_size):
                yield X[order[start:start + batch_size]]
        return
    n_chunks = len(X.chunks[0])
    for _ in range(n_epochs):
        for i in rng.permutation(n_chunks):
            block = X.blocks[int(i)]
            block = client.compute(block).result() if client is not None else block.compute()
            block = np.asarray(block, dtype=np.float64)
            if not np.all(np.isfinite(block)):
                raise ValueError(f"X must hold only finite values; found NaN or infinity in chunk {int(i)}")
            block = block[rng.permutation(block.shape[0])]
            for start in range(0, block.shape[0], batch_size):
                yield block[start:start + batch_size]


def online_em(X, init, batch_size=1_000, n_epochs=1, kappa=0.6, k0=10.0, reg_covar=1e-6,
              seed=None, callback=None, client=None):
    """Online (stepwise) EM of Cappe & Moulines (2009) over mini-batches.

    The statistics of batch EM are replaced by running averages of per-point
    statistics, s_k = (1 - gamma_k) s_{k-1} + gamma_k s(batch_k) with
    gamma_k = (k + k0)^(-kappa) (:func:`step_sizes`), and the parameters are
    updated after every mini-batch by the M-step (Eqs. (16)-(18)) applied to
    s_k. s_0 is the statistics the starting parameters would produce (weights
    ``pi``, scatter ``pi_c Sigma_c``). Each mini-batch is read once per epoch,
    so memory holds one mini-batch (one chunk for a dask.array).

    Parameters
    ----------
    X : array (N, D) or dask.array (N, D) chunked along N only
        A NumPy array is visited in a new random order each epoch; a dask.array
        chunk by chunk in random chunk order, rows shuffled within each chunk.
    init : (pi, mu, sigma) or dict/object with those names
    batch_size : int, rows per mini-batch.
    n_epochs : int, passes over the data.
    kappa, k0 : step-size schedule, 0.5 < kappa <= 1, k0 >= 0.
    reg_covar : float, added to the covariance diagonals (keeps a component that
        a few mini-batches starve from collapsing).
    seed : None, int or Generator for the visiting order.
    callback : None (default) or called after every step as ``callback(step,
        points_seen, mean_log_likelihood, pi, mu, sigma)``.

    Returns
    -------
    OnlineFit with the final ``pi``, ``mu``, ``sigma``, ``n_steps``, and per step
    ``points_seen``, ``mean_log_likelihood`` (of the mini-batch under the
    parameters before the step) and ``step_size``.

    Chapter 13 (13_em_at_scale), equations (16)-(18).
    """
    if _is_dask_array(X):
        _import_dask()
        _check_dask_data(X)
    else:
        X = validate_data(X, "X")
    N, D = X.shape
    pi, mu, sigma, chol = _unpack_init(init, D)
    batch_size = validate_positive_int(batch_size, "batch_size")
    n_epochs = validate_positive_int(n_epochs, "n_epochs")
    step_sizes(0, kappa, k0)   # validates kappa and k0
    validate_nonnegative(reg_covar, "reg_covar")
    rng = make_rng(seed)
    running = SuffStats(n=1, sum_q=pi.copy(), sum_qx=np.zeros_like(mu),
                        sum_qxx=pi[:, None, None] * sigma, log_likelihood=0.0, center=mu.copy())
    from threadpoolctl import threadpool_limits

    seen, lls, gammas, k = [], [], [], 0
    # Small products, one after the other: a multi-threaded BLAS would only add synchronisation.
    with threadpool_limits(limits=1, user_api="blas"):
        for batch in _minibatches(X, int(batch_size), int(n_epochs), rng, client):
            k += 1
            gamma = (k + float(k0)) ** (-float(kappa))
            stats = sufficient_statistics(batch, pi, mu, chol)
            running = _stepwise_update(running, stats, gamma)
            pi, mu, sigma, chol = m_step_from_stats(running, reg_covar)   # Equations (16)-(18)
            seen.append((seen[-1] if seen else 0) + stats.n)
            lls.append(stats.log_likelihood / stats.n)
            gammas.append(gamma)
            if callback is not None:
                callback(k, seen[-1], lls[-1], pi, mu, sigma)
    return OnlineFit(pi, mu, sigma, k, np.array(seen), np.array(lls), np.array(gammas))
