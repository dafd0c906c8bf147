"""The E-step's reused scratch arrays (lvmbook.suffstats, one workspace per thread) never leak between calls.

Each thread keeps the buffers of its last model shape (C, D, rows per block)
and reuses them in later passes, so that Dask workers do not page-fault on a
fresh megabyte for every block. Nothing computed may depend on what the thread
ran before: models of other shapes, other data, a shorter last block.
"""

import threading

import numpy as np

import latent_variable_models_util as lvm


def _model(C, D, seed):
    rng = np.random.default_rng(seed)
    mu = 3.0 * rng.standard_normal((C, D))
    A = rng.standard_normal((C, D, D)) / np.sqrt(D)
    sigma = A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)
    pi = rng.dirichlet(np.full(C, 5.0))
    X = lvm.mixture_dask_array(20_003, pi, mu, sigma, chunk_size=20_003, seed=seed).compute(scheduler="sync")
    return X, pi, mu, np.linalg.cholesky(sigma)


def _stats(X, pi, mu, chol, n_threads=1):
    s = lvm.sufficient_statistics(X, pi, mu, chol, n_threads=n_threads)
    return np.concatenate([s.sum_q, s.sum_qx.ravel(), s.sum_qxx.ravel(), [s.log_likelihood]])


def _in_fresh_thread(fn):
    """Run ``fn()`` in a new thread, whose workspace starts empty; return its result."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("value", fn()))
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "the computation in the fresh thread did not finish within 60 s"
    return out["value"]


def test_statistics_do_not_depend_on_the_previous_model_run_in_the_thread():
    # (C, D) = (5, 10) and (8, 6) have nearly the same rows per block (2383 and 2340), so a cache that
    # handed out views of larger buffers would feed the second model stale columns.
    big, small = _model(5, 10, seed=1), _model(8, 6, seed=2)
    fresh_big = _in_fresh_thread(lambda: _stats(*big))
    fresh_small = _in_fresh_thread(lambda: _stats(*small))
    # Alternate shapes (and a last block shorter than the others: 20_003 rows) in one thread.
    sequence = [_stats(*big), _stats(*small), _stats(*big), _stats(*big), _stats(*small)]
    for got, want in zip(sequence, [fresh_big, fresh_small, fresh_big, fresh_big, fresh_small]):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)   # bit for bit: the same arithmetic on the same rows


def test_statistics_of_a_prefix_are_unchanged_after_a_longer_pass():
    X, pi, mu, chol = _model(4, 3, seed=3)
    fresh = _in_fresh_thread(lambda: _stats(X[:1000], pi, mu, chol))
    _stats(X, pi, mu, chol)                         # fills the whole workspace with other rows
    np.testing.assert_array_equal(_stats(X[:1000], pi, mu, chol), fresh)


def test_e_step_after_sufficient_statistics_matches_a_fresh_thread_and_threads_agree():
    X, pi, mu, chol = _model(5, 10, seed=4)
    other = _model(3, 2, seed=5)
    fresh_log_q, fresh_log_norm = _in_fresh_thread(lambda: lvm.log_responsibilities(X, pi, mu, chol))
    _stats(*other)
    log_q, log_norm = lvm.log_responsibilities(X, pi, mu, chol)
    np.testing.assert_array_equal(log_q, fresh_log_q)
    np.testing.assert_array_equal(log_norm, fresh_log_norm)
    # Two threads, each with its own workspace, give the one-thread result exactly.
    np.testing.assert_array_equal(_stats(X, pi, mu, chol, n_threads=2), _stats(X, pi, mu, chol, n_threads=1))
    log_q2, _ = lvm.log_responsibilities(X, pi, mu, chol, n_threads=2)
    np.testing.assert_array_equal(log_q2, log_q)
    np.testing.assert_allclose(np.exp(log_q).sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_generated_rows_do_not_depend_on_what_the_thread_generated_before():
    # The generator's scratch arrays are kept per thread and per D; a partial first and last atom
    # (start 3, stop 25_004) goes through the scratch copy.
    _, pi, mu, chol = _model(5, 10, seed=6)
    sigma = chol @ np.swapaxes(chol, 1, 2)

    def rows():
        return lvm.mixture_dask_array(25_007, pi, mu, sigma, chunk_size=(3, 25_001, 3), seed=11).compute(
            scheduler="sync")

    fresh = _in_fresh_thread(rows)
    first = rows()
    lvm.mixture_dask_array(30_000, chunk_size=7_000, seed=12).compute(scheduler="sync")   # the book's D = 2
    again = rows()
    assert fresh.shape == (25_007, 10)
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(again, fresh)
