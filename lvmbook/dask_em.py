"""EM at scale on Dask. One EM iteration is a map-reduce: each block of rows is turned into the
sufficient statistics of ``lvmbook.suffstats``, the blocks' statistics are summed (sums over rows:
any grouping gives the same total), and the M-step (``m_step_from_stats``) needs nothing else.
This module runs that map-reduce on Dask -- a NumPy array or a dask.array chunked along the rows,
the default local scheduler or a distributed Client (``em_pass``, ``fit_gmm_dask``, which reuses
the EM loop of ``lvmbook.fast_em``) -- and adds a seeded data generator that never holds the data
in memory (``mixture_dask_array``) and ``package_zip``, which ships the package to a cluster's
workers. Chapter 13 (13_em_at_scale) develops it. Dask is imported inside the functions only.
"""

from __future__ import annotations

import numbers

import numpy as np

from .data import mu_true, pi_true, sigma_true
from .fast_em import GMMFit, run_em, validate_em_options, warn_if_not_converged
from .suffstats import _THREAD_SCRATCH, sufficient_statistics
from .validation import validate_data, validate_mixture, validate_positive_int

__all__ = ["MIXTURE_ATOM_ROWS", "mixture_dask_array", "as_row_chunked", "em_pass", "fit_gmm_dask", "package_zip"]


MIXTURE_ATOM_ROWS = 10_000


def _import_dask():
    """Return ``(dask, dask.array)``, or raise ImportError saying what to install."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is pinned in requirements.txt
        raise ImportError("this function needs Dask: pip install 'dask[array]' distributed") from exc
    return dask, da


def _is_dask_array(X):
    """True for a ``dask.array.Array`` (tested without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks") and hasattr(X, "to_delayed")


def _unpack_init(init, n_features):
    """Read starting parameters given as ``(pi, mu, sigma)``, a mapping or an object with those attributes."""
    if isinstance(init, dict):
        try:
            pi, mu, sigma = init["pi"], init["mu"], init["sigma"]
        except KeyError as exc:
            raise ValueError(f"init must have keys 'pi', 'mu' and 'sigma'; missing {exc}") from None
    elif all(hasattr(init, a) for a in ("pi", "mu", "sigma")):
        pi, mu, sigma = init.pi, init.mu, init.sigma
    else:
        try:
            pi, mu, sigma = init
        except (TypeError, ValueError):
            raise ValueError("init must be (pi, mu, sigma), a dict with those keys, "
                             "or an object with those attributes") from None
    return validate_mixture(pi, mu, sigma, n_features)


# --- data that never sits in memory -----------------------------------------

def _mixture_scratch(D):
    """This thread's four (MIXTURE_ATOM_ROWS, D) scratch arrays for the generator, made once and reused.

    As with :class:`_Workspace`: fresh arrays of this size for every atom cost
    page faults in Dask's worker processes (``MALLOC_TRIM_THRESHOLD_``).
    """
    scratch = getattr(_THREAD_SCRATCH, "mixture", None)
    if scratch is None or scratch.shape[2] != D:
        scratch = _THREAD_SCRATCH.mixture = np.empty((4, MIXTURE_ATOM_ROWS, D))
    return scratch


def _mixture_atom(atom, seed, pi, mu, chol, out):
    """Write the rows of atom number ``atom``, seeded by (seed, atom), into ``out`` (MIXTURE_ATOM_ROWS, D)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(atom,)))
    C, D = mu.shape
    z, zc, xc, _ = _mixture_scratch(D)
    # Component of each row: invert the cumulative weights at a uniform draw.
    labels = np.minimum(np.searchsorted(np.cumsum(pi), rng.random(MIXTURE_ATOM_ROWS), side="right"), C - 1)
    rng.standard_normal(out=z)
    for c in range(C):
        rows = np.flatnonzero(labels == c)
        k = rows.size
        np.take(z, rows, axis=0, out=zc[:k])
        np.matmul(zc[:k], chol[c].T, out=xc[:k])
        xc[:k] += mu[c]
        out[rows] = xc[:k]                     # x = mu_c + L_c z has covariance Sigma_c
    return out


def _mixture_rows(start, stop, seed, pi, mu, chol):
    """Global rows ``start:stop`` of the seeded mixture, shape (stop - start, D)."""
    A = MIXTURE_ATOM_ROWS
    block = np.empty((stop - start, mu.shape[1]))
    for a in range(start // A, (stop - 1) // A + 1):
        lo, hi = max(start, a * A), min(stop, (a + 1) * A)      # the rows of atom a that are wanted
        if hi - lo == A:
            _mixture_atom(a, seed, pi, mu, chol, block[lo - start:hi - start])
        else:
            whole = _mixture_atom(a, seed, pi, mu, chol, _mixture_scratch(mu.shape[1])[3])
            block[lo - start:hi - start] = whole[lo - a * A:hi - a * A]
    return block


def mixture_dask_array(n, pi=None, mu=None, sigma=None, chunk_size=100_000, seed=0):
    """A Gaussian mixture sample of ``n`` rows as a lazy dask.array, generated block by block.

    The rows are defined in fixed atoms of ``MIXTURE_ATOM_ROWS`` rows; atom ``a``
    is drawn from its own stream, ``SeedSequence(seed, spawn_key=(a,))``: a
    uniform picks the component of each row (weights ``pi``), and the row is
    ``mu_c + L_c z`` with ``z ~ N(0, I)`` and ``L_c`` the Cholesky factor of
    ``Sigma_c`` (equations (2)-(4)). A chunk generates the atoms it overlaps and
    keeps its rows, so the data are identical whatever ``chunk_size`` (and the
    first ``m`` rows do not depend on ``n``). Nothing is computed until asked;
    each chunk is regenerated whenever it is needed again, so a lost chunk can
    always be recomputed.

    Parameters
    ----------
    n : int
        Number of rows N.
    pi, mu, sigma : arrays (C,), (C, D), (C, D, D), optional
        Mixture parameters; default the book's (``pi_true``, ``mu_true``, ``sigma_true``).
    chunk_size : int or tuple of int
        Rows per chunk (the last may be shorter), or the explicit chunk sizes.
    seed : int
        Non-negative global seed.

    Returns
    -------
    dask.array.Array, shape (N, D), float64, chunked along N only.

    Chapter 13 (13_em_at_scale).
    """
    dask, da = _import_dask()
    n = validate_positive_int(n, "n")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if pi is None and mu is None and sigma is None:
        pi, mu, sigma = pi_true, mu_true, sigma_true
    elif pi is None or mu is None or sigma is None:
        raise ValueError("pass all of pi, mu and sigma, or none of them for the book's mixture")
    pi, mu, sigma, chol = validate_mixture(pi, mu, sigma)
    if isinstance(chunk_size, numbers.Integral) and not isinstance(chunk_size, bool):
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive; got {chunk_size}")
        sizes = [chunk_size] * (n // chunk_size) + ([n % chunk_size] if n % chunk_size else [])
    else:
        sizes = [int(s) for s in chunk_size]
        if sum(sizes) != n or min(sizes) <= 0:
            raise ValueError(f"chunk_size must be positive sizes summing to n={n}; got {tuple(chunk_size)}")
    D = mu.shape[1]
    blocks, start = [], 0
    for size in sizes:
        task = dask.delayed(_mixture_rows, pure=True)(start, start + size, int(seed), pi, mu, chol)
        blocks.append(da.from_delayed(task, shape=(size, D), dtype=np.float64))
        start += size
    return da.concatenate(blocks, axis=0)


# --- batch EM on Dask ---------------------------------------------------------

class _NonFiniteChunks:
    """Marker that travels up the reduction tree instead of statistics: which chunks hold NaN/inf."""

    def __init__(self, bad):
        self.bad = tuple(bad)   # ((chunk index, number of non-finite values), ...)


def _block_statistics(block, pi, mu, chol, index):
    """Map step: one chunk (n_b, D) -> SuffStats about ``mu``, or a _NonFiniteChunks marker, or None if empty."""
    block = np.asarray(block, dtype=np.float64)
    if block.shape[0] == 0:
        return None
    n_bad = block.size - int(np.count_nonzero(np.isfinite(block)))
    if n_bad:
        return _NonFiniteChunks([(index, n_bad)])
    return sufficient_statistics(block, pi, mu, chol)   # Equations (6), (16)-(18) numerators


def _combine_statistics(*parts):
    """Reduce step: add SuffStats (sums over rows), in the order given; markers win over sums."""
    bad = [b for p in parts if isinstance(p, _NonFiniteChunks) for b in p.bad]
    if bad:
        return _NonFiniteChunks(bad)
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return total


def _tree_reduce(dask, parts, split_every):
    """Sum delayed statistics ``split_every`` at a time, level by level, in a fixed order."""
    while len(parts) > 1:
        parts = [dask.delayed(_combine_statistics, pure=True)(*parts[i:i + split_every])
                 for i in range(0, len(parts), split_every)]
    return parts[0]


def _check_dask_data(X):
    """Validate a dask.array's metadata only (nothing computed): 2-D, non-empty, numeric, rows-only chunks."""
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (N, D); got {X.ndim} dimensions with shape {X.shape}")
    if any(np.isnan(s) for s in X.shape):
        raise ValueError("X must have known chunk sizes; call X.compute_chunk_sizes() first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must not be empty; got shape {X.shape}")
    if np.dtype(X.dtype).kind not in "fiu":
        raise ValueError(f"X must hold real numbers; got dtype {X.dtype}")
    if len(X.chunks[1]) != 1:
        raise ValueError(f"X must be chunked along N (rows) only, with each chunk holding all D={X.shape[1]} "
                         f"columns; got {len(X.chunks[1])} chunks along D. Use X.rechunk({{1: -1}}).")


def as_row_chunked(X, chunk_size=None):
    """Validate ``X`` and return it as a dask.array chunked along N only.

    A NumPy array is checked in full (finite values included) and wrapped
    without copying; a dask.array is checked from its metadata only -- its
    values are checked where they are read (see :func:`fit_gmm_dask`).
    ``chunk_size`` (rows) applies to NumPy input; default about 64 MB per chunk.

    Chapter 13 (13_em_at_scale).
    """
    dask, da = _import_dask()
    if _is_dask_array(X):
        _check_dask_data(X)
        return X
    X = validate_data(X, "X")
    if chunk_size is None:
        chunk_size = max(1, (64 * 2**20) // (8 * X.shape[1]))
    chunk_size = validate_positive_int(chunk_size, "chunk_size")
    return da.from_array(X, chunks=(int(chunk_size), X.shape[1]))


def em_pass(X, pi, mu, sigma_chol, client=None, split_every=8):
    """One pass over a row-chunked dask.array: the summed SuffStats at the current parameters.

    Map: :func:`sufficient_statistics` on every chunk (the E-step, Eq. (6), and
    the chunk's log-likelihood, Eq. (9), from the same read). Reduce: a tree of
    additions, ``split_every`` at a time, in a fixed order, so the result does
    not depend on the scheduler or the number of workers. With the local
    scheduler the BLAS runs one thread per Dask thread (Dask's distributed
    workers are started that way). Raises ValueError naming the chunks that
    hold NaN or infinity.

    Chapter 13 (13_em_at_scale), equations (6) and (9).
    """
    dask, _ = _import_dask()
    blocks = X.to_delayed().ravel()
    parts = [dask.delayed(_block_statistics, pure=True)(b, pi, mu, sigma_chol, i) for i, b in enumerate(blocks)]
    total = _tree_reduce(dask, parts, split_every)
    if client is not None:
        total = client.compute(total).result()
    else:
        # Dask's threads are the parallelism; a multi-threaded BLAS inside each of
        # them oversubscribes the cores and makes the small products many times slower.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            total = dask.compute(total)[0]
    if isinstance(total, _NonFiniteChunks):
        where = ", ".join(f"chunk {i} ({k} values)" for i, k in total.bad[:5])
        raise ValueError(f"X must hold only finite values; found NaN or infinity in {where}"
                         + (" and more" if len(total.bad) > 5 else ""))
    return total


def fit_gmm_dask(X, init, max_iter=100, tol=1e-6, reg_covar=0.0, client=None,
                 callback=None, chunk_size=None, persist=None, split_every=8):
    """EM for a Gaussian mixture on data chunked along N, one pass over the data per iteration.

    The iteration is that of :func:`fit_gmm` from given starting parameters,
    with each pass distributed: :func:`sufficient_statistics` is mapped over the
    chunks at the current parameters (E-step, Eq. (6), and the log-likelihood,
    Eq. (9), from the same read), the statistics are summed in a tree
    (:func:`em_pass`) and :func:`m_step_from_stats` (Eqs. (16)-(18)) turns the
    sum into new parameters -- a few numbers, which go into the next pass. From
    the same start it gives the same parameters as ``fit_gmm`` to round-off,
    whatever the chunking, the scheduler or the number of workers.

    Parameters
    ----------
    X : array (N, D), or dask.array (N, D) chunked along N only
    init : (pi, mu, sigma) with shapes (C,), (C, D), (C, D, D), or a dict or
        object (e.g. a GMMFit) with those names
    max_iter : int, maximum number of M-steps.
    tol : float, stop when ``|Delta log p(X | theta)| / N < tol`` (as fit_gmm; 0
        runs exactly ``max_iter`` M-steps).
    reg_covar : float, added to every covariance's diagonal in each M-step.
    client : distributed.Client or None. None uses Dask's current default
        scheduler: the local thread pool, or a Client created earlier (a Client
        makes itself the default).
    callback : None (default) or called as ``callback(0, iteration,
        log_likelihood, pi, mu, sigma)`` at the start and after every M-step --
        the signature of fit_gmm's callback (the 0 is the restart), e.g.
        :func:`print_progress`.
    chunk_size : rows per chunk for NumPy input (default: about 64 MB per chunk).
    persist : keep the chunks in (cluster) memory between passes. Default: True
        for NumPy input with a client (the data are sent once), else False (a
        lazy array, e.g. from :func:`mixture_dask_array`, is re-read every pass).
        Persisted chunks lost with a worker are recomputed by Dask.
    split_every : int, fan-in of the reduction tree.

    Invalid input (shapes, a chunking along D, an empty array, parameters that
    do not fit X) raises ValueError before anything is scheduled. The values of
    a lazy array are unknown until read, so they are checked where they are
    read: every chunk checks its own values in the pass that computes its
    statistics, and a ValueError naming the chunks with NaN or infinity is
    raised after the first pass, before any M-step. (A separate checking pass
    would double the reading of data that may not fit in memory.) A NumPy
    array is checked in full up front.

    Returns
    -------
    GMMFit, as from fit_gmm (one restart; ``log_likelihood`` is that of the
    returned parameters).

    Warns
    -----
    EMConvergenceWarning if ``max_iter`` M-steps ran without convergence.

    Chapter 13 (13_em_at_scale).
    """
    was_numpy = not _is_dask_array(X)
    X = as_row_chunked(X, chunk_size)
    N, D = X.shape
    pi, mu, sigma, chol = _unpack_init(init, D)
    max_iter = validate_em_options(max_iter, tol, reg_covar, callback)
    if persist is None:
        persist = was_numpy and client is not None
    if persist:
        X = client.persist(X) if client is not None else X.persist()

    # The EM loop of fit_gmm; only the pass differs: a map-reduce over the chunks.
    pi, mu, sigma, chol, history, n_iter, converged = run_em(
        lambda pi, mu, chol: em_pass(X, pi, mu, chol, client, split_every), N,
        pi, mu, sigma, chol, max_iter, tol, reg_covar, callback)
    warn_if_not_converged(converged, history, N, max_iter, tol)
    return GMMFit(pi, mu, sigma, chol, history[-1], history, n_iter, converged, 0, [history[-1]])


def package_zip(directory=None):
    """Write the package (``lvmbook/`` and the facade ``latent_variable_models_util.py``) to a zip; return its path.

    A Dask cluster's workers must import the package to run :func:`em_pass`;
    ``client.upload_file(package_zip())`` sends them this archive, which Dask
    puts on each worker's ``sys.path`` (it accepts .py, .zip and .egg files).
    Works from a checkout and from an installed copy alike. ``directory``
    defaults to a new temporary folder. Chapter 13 (13_em_at_scale).
    """
    import tempfile
    import zipfile
    from pathlib import Path

    package = Path(__file__).resolve().parent
    facade = package.parent / "latent_variable_models_util.py"
    if not facade.is_file():
        import latent_variable_models_util

        facade = Path(latent_variable_models_util.__file__).resolve()
    out = Path(directory if directory is not None else tempfile.mkdtemp(prefix="lvmbook-")) / "lvmbook.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(facade, facade.name)
        for path in sorted(package.glob("*.py")):
            archive.write(path, f"lvmbook/{path.name}")
    return str(out)
