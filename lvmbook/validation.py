"""Argument checks shared by every module: each ``validate_*`` function checks one kind of argument
and returns it cleaned (a float64 array, an int), or raises ``ValueError`` naming the argument and
what was expected.

The shapes follow one convention: ``X`` (N, D) data, ``pi`` (C,) weights, ``mu`` (C, D) means,
``sigma`` (C, D, D) covariances, ``sigma_chol`` (C, D, D) their lower Cholesky factors and ``q``
(N, C) responsibilities (chapter 3 (03_em_for_gmms) introduces them). Validation functions are
named ``validate_*``; the ``check_*`` functions of ``lvmbook.self_checks`` grade a learner's code.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "validate_data", "validate_weights", "validate_means", "validate_covariances", "validate_cholesky",
    "validate_counts", "validate_responsibilities", "validate_mixture", "validate_positive_int",
    "validate_nonnegative", "validate_positive_number", "make_rng",
]


def as_float_array(value, name, ndim):
    """Return ``value`` as a finite float64 array with ``ndim`` dimensions.

    Raises ``ValueError`` naming the argument ``name`` if the value cannot be
    converted, has the wrong number of dimensions, is empty, or holds NaN or
    infinity. (Used by the other validators; not part of the book's API.)
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers; got {type(value).__name__}") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold only finite values; found NaN or infinity")
    return arr


def validate_data(X, name="X"):
    """Validate a data matrix ``X`` of shape ``(N, D)`` and return it as float64 (chapter 3 (03_em_for_gmms))."""
    return as_float_array(X, name, 2)


def validate_weights(pi, n_components=None, name="pi"):
    """Validate mixture weights: shape ``(C,)``, non-negative, summing to 1 (to 1e-8).

    The weights pi_c of equation (2), chapter 1 (01_latent_variables_and_mle).
    """
    pi = as_float_array(pi, name, 1)
    if n_components is not None and pi.shape[0] != n_components:
        raise ValueError(f"{name} must have shape ({n_components},); got {pi.shape}")
    if np.any(pi < 0):
        raise ValueError(f"{name} must be non-negative; got minimum {pi.min():.3g}")
    if abs(pi.sum() - 1.0) > 1e-8:
        raise ValueError(f"{name} must sum to 1; got sum {pi.sum():.12g}")
    return pi


def validate_means(mu, n_components=None, n_features=None, name="mu"):
    """Validate component means: shape ``(C, D)``, finite (chapter 1 (01_latent_variables_and_mle))."""
    mu = as_float_array(mu, name, 2)
    if n_components is not None and mu.shape[0] != n_components:
        raise ValueError(f"{name} must have {n_components} rows (one per component); got shape {mu.shape}")
    if n_features is not None and mu.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns (one per dimension of X); got shape {mu.shape}")
    return mu


def validate_covariances(sigma, n_components=None, n_features=None, name="sigma"):
    """Validate covariance matrices: shape ``(C, D, D)``, symmetric, positive definite.

    Returns ``(sigma, chol)`` where ``chol`` holds the lower Cholesky factors,
    shape ``(C, D, D)``, so callers need not factorise again. The covariances
    Sigma_c of equation (2), chapter 1 (01_latent_variables_and_mle).
    """
    sigma = as_float_array(sigma, name, 3)
    C, D, D2 = sigma.shape
    if D != D2:
        raise ValueError(f"{name} must have shape (C, D, D) with square matrices; got {sigma.shape}")
    if n_components is not None and C != n_components:
        raise ValueError(f"{name} must hold {n_components} matrices (one per component); got shape {sigma.shape}")
    if n_features is not None and D != n_features:
        raise ValueError(f"{name} must hold {n_features}x{n_features} matrices; got shape {sigma.shape}")
    scale = np.maximum(np.abs(sigma).max(axis=(1, 2)), np.finfo(float).tiny)
    asym = np.abs(sigma - np.swapaxes(sigma, 1, 2)).max(axis=(1, 2)) / scale
    if np.any(asym > 1e-8):
        c = int(np.argmax(asym))
        raise ValueError(f"{name}[{c}] must be symmetric; largest relative asymmetry {asym[c]:.3g}")
    chol = np.empty_like(sigma)
    for c in range(C):
        try:
            chol[c] = np.linalg.cholesky(sigma[c])
        except np.linalg.LinAlgError:
            raise ValueError(f"{name}[{c}] must be positive definite; its Cholesky factorisation failed") from None
    return sigma, chol


def validate_cholesky(sigma_chol, C, D, name="sigma_chol"):
    """Validate lower Cholesky factors of shape (C, D, D) with a positive diagonal (chapter 10 (10_robust_fast_em))."""
    chol = as_float_array(sigma_chol, name, 3)
    if chol.shape != (C, D, D):
        raise ValueError(f"{name} must have shape ({C}, {D}, {D}) (one lower Cholesky factor per component); "
                         f"got {chol.shape}")
    if np.any(np.triu(chol, k=1) != 0):
        raise ValueError(f"{name} must be lower triangular -- pass np.linalg.cholesky(sigma), not sigma")
    diag = np.diagonal(chol, axis1=1, axis2=2)
    if np.any(diag <= 0):
        c = int(np.argmin(diag.min(axis=1)))
        raise ValueError(f"{name}[{c}] must have a positive diagonal (a Cholesky factor of a positive "
                         f"definite covariance); smallest diagonal entry {diag[c].min():.3g}")
    return chol


def validate_mixture(pi, mu, sigma=None, n_features=None, sigma_chol=None):
    """Validate the parameters of a Gaussian mixture together; return ``(pi, mu, sigma, chol)``.

    ``pi`` (C,), ``mu`` (C, D) and either ``sigma`` (C, D, D) covariances
    (factorised here) or ``sigma_chol`` (C, D, D) their lower Cholesky factors
    (then the returned ``sigma`` is None); ``n_features`` is the D of the data
    when known. The parameters theta of equation (2), chapter 1
    (01_latent_variables_and_mle).
    """
    mu = validate_means(mu, None, n_features, "mu")
    C, D = mu.shape
    pi = validate_weights(pi, C, "pi")
    if sigma_chol is not None:
        return pi, mu, None, validate_cholesky(sigma_chol, C, D)
    sigma, chol = validate_covariances(sigma, C, D, "sigma")
    return pi, mu, sigma, chol


def validate_counts(n, name="n"):
    """Validate component counts: a 1-D sequence of non-negative integers with a positive sum.

    The article's ``n_true``, chapter 1 (01_latent_variables_and_mle).
    """
    arr = np.asarray(n)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of counts; got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold integers; got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise ValueError(f"{name} must hold whole numbers; got {arr.tolist()}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; got {arr.tolist()}")
    if arr.sum() == 0:
        raise ValueError(f"{name} must have a positive total; got {arr.tolist()}")
    return arr.astype(np.int64)


def validate_responsibilities(q, n_samples=None, name="q"):
    """Validate soft assignments ``q`` of shape ``(N, C)``: in [0, 1], rows summing to 1 (to 1e-6).

    The responsibilities q_ic of equation (6), chapter 2 (02_expectation_maximization).
    """
    q = as_float_array(q, name, 2)
    if n_samples is not None and q.shape[0] != n_samples:
        raise ValueError(f"{name} must have {n_samples} rows (one per observation); got shape {q.shape}")
    if np.any(q < 0) or np.any(q > 1 + 1e-12):
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    worst = np.abs(q.sum(axis=1) - 1.0).max()
    if worst > 1e-6:
        raise ValueError(f"every row of {name} must sum to 1; the worst row is off by {worst:.3g}")
    return q


def validate_positive_int(value, name, at_most=None):
    """Validate a positive integer (``bool`` is not one); with ``at_most = N``, also ``value <= N``.

    Used for numbers of components C (at most the number of points N),
    iterations, restarts and sizes; chapter 3 (03_em_for_gmms).
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{name} must be at most the number of points N = {at_most}; got {value}")
    return int(value)


def validate_nonnegative(value, name):
    """Validate a finite real number >= 0, e.g. a tolerance ``tol`` or ``reg_covar``; returns it unchanged.

    One rule for every tolerance and covariance regulariser of the package;
    chapter 10 (10_robust_fast_em).
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    return value


def validate_positive_number(value, name, lower=0.0):
    """Validate a finite real number strictly greater than ``lower`` and return it as a float.

    Used for the hyperparameters of the Bayesian GMM's prior, chapter 11 (11_choosing_components).
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value <= lower:
        raise ValueError(f"{name} must be a finite number greater than {lower:g}; got {value!r}")
    return float(value)


def make_rng(seed):
    """Return a ``numpy.random.Generator`` from ``None``, an integer seed or a Generator.

    Every random draw of the book goes through it: one seed per chapter,
    chapter 1 (01_latent_variables_and_mle).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be None, a non-negative integer or a numpy Generator; got {seed!r}")
