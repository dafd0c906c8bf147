"""The data of the book: the article's three-component mixture (``n_true``, ``mu_true``,
``sigma_true``, ``pi_true``) and its sampler ``generate_data``, which chapter 1
(01_latent_variables_and_mle) introduces; the Old Faithful eruptions of chapter 6
(06_em_in_pictures) (``load_faithful``); and ``match_components``, which orders fitted
components like the true ones (chapters 3, 5 and 12 compare fits with the truth or with each
other through it).
"""

from __future__ import annotations

import numpy as np

from .book_files import book_file_path
from .validation import make_rng, validate_counts, validate_covariances, validate_means

__all__ = ["n_true", "mu_true", "sigma_true", "pi_true", "generate_data", "load_faithful", "match_components"]


#: Number of points drawn from each of the article's three components.
n_true = np.array([320, 170, 510])

#: Means of the article's three components, shape (3, 2).
mu_true = np.array([[5.0, 5.0],
                    [6.5, 8.0],
                    [9.5, 7.5]])

#: Covariances of the article's three components, shape (3, 2, 2).
sigma_true = np.array([[[1.0, 0.0], [0.0, 0.7]],
                       [[2.0, -0.7], [-0.7, 1.0]],
                       [[0.7, 0.9], [0.9, 5.0]]])

#: Mixture weights implied by ``n_true`` (0.32, 0.17, 0.51).
pi_true = n_true / n_true.sum()


def generate_data(n, mu, sigma, seed=None):
    """Draw a data set from a Gaussian mixture, component by component.

    Parameters
    ----------
    n : sequence of int, shape (C,)
        How many points to draw from each component.
    mu : array, shape (C, D)
        Component means.
    sigma : array, shape (C, D, D)
        Component covariances (symmetric positive definite).
    seed : None, int or numpy.random.Generator
        Source of randomness. With an integer or a Generator the output is
        identical run to run; ``None`` draws fresh entropy, as the article did.

    Returns
    -------
    X : array, shape (N, D)
        The points, ``N = sum(n)``, component 1's first.
    T : array of int, shape (N, C)
        One-hot component labels: ``T[i, c] == 1`` if point ``i`` came from ``c``.

    Chapter 1 (01_latent_variables_and_mle).
    """
    n = validate_counts(n, "n")
    C = n.shape[0]
    mu = validate_means(mu, C, None, "mu")
    sigma, chol = validate_covariances(sigma, C, mu.shape[1], "sigma")
    rng = make_rng(seed)
    D = mu.shape[1]
    X = np.empty((n.sum(), D))
    T = np.zeros((n.sum(), C), dtype=np.int64)
    start = 0
    for c in range(C):
        stop = start + n[c]
        # x = mu + L z with z ~ N(0, I) has covariance L L^T = sigma[c].
        z = rng.standard_normal((n[c], D))
        X[start:stop] = mu[c] + z @ chol[c].T
        T[start:stop, c] = 1
        start = stop
    return X, T


def load_faithful():
    """The Old Faithful eruptions: an array of shape (272, 2), columns (eruption minutes, waiting minutes).

    Read from ``book/data/faithful.csv`` in the installed package, the checkout
    or ``$LVM_BOOK_ROOT`` (see ``lvmbook.book_files``), or from
    ``faithful.csv`` in the working folder. Raises ``RuntimeError`` saying
    where it looked if none has it. See ``book/data/README.md`` for the source
    and licence. Chapter 6 (06_em_in_pictures) fits it.
    """
    from pathlib import Path

    relative = "book/data/faithful.csv"
    local = Path.cwd() / "faithful.csv"
    path = book_file_path(relative) or (local if local.is_file() else None)
    if path is None:
        raise RuntimeError(f"faithful.csv not found: looked for {relative} in the installed package, the checkout "
                           f"and $LVM_BOOK_ROOT, and for {local}. Install the book's package (the notebook's "
                           "set-up cell does), or put faithful.csv next to this notebook.")
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    if data.shape != (272, 2):
        raise RuntimeError(f"{path} should hold 272 rows of 2 columns; got shape {data.shape}")
    return data


def match_components(mu, reference):
    """The order of the fitted components that best matches reference components: ``mu[perm]`` ~ ``reference``.

    ``mu`` (C, D) fitted means, ``reference`` (C, D) e.g. ``mu_true`` or
    another fit; returns ``perm`` (C,), an int array: fitted component
    ``perm[k]`` plays the part of reference component ``k``. The permutation
    minimises the summed squared distances between matched means (Hungarian
    algorithm, ``scipy.optimize.linear_sum_assignment``), so it is exact for
    any C. Index every fitted array with it: ``pi[perm]``, ``sigma[perm]``,
    ``q[:, perm]``. Chapter 3 (03_em_for_gmms) compares a fit with the truth
    through it; chapter 12 (12_gibbs_sampling) relabels draws with it.
    """
    from scipy.optimize import linear_sum_assignment

    reference = validate_means(reference, None, None, "reference")
    mu = validate_means(mu, reference.shape[0], reference.shape[1], "mu")
    cost = ((reference[:, None, :] - mu[None, :, :]) ** 2).sum(axis=2)
    return linear_sum_assignment(cost)[1]
