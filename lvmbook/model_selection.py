"""Information criteria for choosing the number of components C of a maximum-likelihood fit:
the number of free parameters k_C (``n_free_parameters``), ``bic`` and ``aic``. Chapter 4
(04_how_many_components) asks the question; chapter 11 (11_choosing_components) develops these
criteria and compares them with the variational Bayesian GMM of ``lvmbook.variational``.
"""

from __future__ import annotations

import numpy as np

from .densities import gmm_log_density
from .validation import validate_data, validate_positive_int

__all__ = ["n_free_parameters", "bic", "aic"]


def n_free_parameters(C, D):
    """Number of free parameters of a full-covariance GMM with ``C`` components in ``D`` dimensions.

    ``C - 1`` weights (they sum to one), ``C * D`` mean entries and
    ``C * D * (D + 1) / 2`` covariance entries (each covariance is symmetric).

    Chapter 11 (11_choosing_components).
    """
    C = validate_positive_int(C, "C")
    D = validate_positive_int(D, "D")
    return (C - 1) + C * D + C * D * (D + 1) // 2


def _log_likelihood(X, pi, mu, sigma):
    """Validated data, and the total log likelihood sum_i log p(x_i | theta), equation (2)."""
    X = validate_data(X)
    return X, float(gmm_log_density(X, pi, mu, sigma).sum())


def bic(X, pi, mu, sigma):
    """Bayesian information criterion of a full-covariance GMM: ``-2 log p(X | theta) + p log N``.

    ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D); ``p`` is
    :func:`n_free_parameters`. Lower is better. Equals scikit-learn's
    ``GaussianMixture.bic(X)`` for the same parameters.

    Chapter 11 (11_choosing_components).
    """
    X, log_lik = _log_likelihood(X, pi, mu, sigma)
    N, D = X.shape
    return -2.0 * log_lik + n_free_parameters(len(pi), D) * np.log(N)


def aic(X, pi, mu, sigma):
    """Akaike information criterion of a full-covariance GMM: ``-2 log p(X | theta) + 2 p``.

    Shapes as in :func:`bic`. Lower is better. Equals scikit-learn's
    ``GaussianMixture.aic(X)`` for the same parameters.

    Chapter 11 (11_choosing_components).
    """
    X, log_lik = _log_likelihood(X, pi, mu, sigma)
    return -2.0 * log_lik + 2.0 * n_free_parameters(len(pi), X.shape[1])
