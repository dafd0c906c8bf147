"""Helpers for the book *Latent variable models: Gaussian mixture models and the EM algorithm*.

Every chapter imports this one module. It keeps the public names of the helper
module that accompanied the original article (``n_true``, ``mu_true``,
``sigma_true``, ``generate_data``, ``plot_data``, ``plot_densities``,
``plot_gmm_plate``), so notebooks written for the article run against it
unchanged, and it adds what the book needs on top.

Sections, in order:

1. Validation -- argument checks shared by everything below.
2. Data -- the article's three-component mixture and its sampler.
3. Densities -- Gaussian and mixture densities (equations (2) and (4)).
4. Plotting -- one figure style and the plotting helpers.
5. Article EM -- the article's e_step, m_step, lower_bound, random_init_params
   and train (equations (6), (16)-(19)), with its defects fixed.
6. EM, robust and fast -- vectorised log-space EM through Cholesky factors,
   summable sufficient statistics (SuffStats), fit_gmm with restarts.
7. Bayesian GMM -- BIC/AIC, the variational Bayesian GMM of PRML 10.2 with its
   evidence lower bound, and a Gibbs sampler for the same model.
8. Self-checks and course data -- check_e_step, check_log_e_step, check_m_step,
   check_m_step_diagonal and check_lower_bound test a student's exercise
   function and say plainly what is wrong; load_faithful (Old Faithful data)
   and animation_html (an animation that plays offline).
9. EM at scale -- EM as a map-reduce of sufficient statistics on Dask (local
   threads or a distributed cluster), a seeded chunk-by-chunk data generator,
   and online (stepwise) EM. Dask is imported inside these functions only.

Shapes follow one convention throughout: ``N`` observations, ``D`` dimensions,
``C`` mixture components; ``X`` is ``(N, D)``, ``pi`` is ``(C,)``, ``mu`` is
``(C, D)``, ``sigma`` is ``(C, D, D)`` and soft assignments ``q`` are ``(N, C)``.

Only numpy is imported when the module loads; scipy and matplotlib are
imported inside the functions that need them.
"""

from __future__ import annotations

import numbers
import threading
from dataclasses import dataclass

import numpy as np

__all__ = [
    # data
    "n_true", "mu_true", "sigma_true", "pi_true", "generate_data",
    # densities
    "gaussian_logpdf", "gmm_log_density", "gmm_density",
    # plotting
    "BOOK_STYLE", "set_book_style", "component_colors", "soft_assignment_colors",
    "plot_data", "plot_densities", "plot_gmm_plate",
    # article EM
    "DegenerateComponentError", "e_step", "m_step", "lower_bound", "random_init_params",
    "bound_converged", "train",
    # EM, robust and fast
    "SuffStats", "GMMFit", "CollapsedComponentError", "EMConvergenceWarning", "sufficient_statistics",
    "m_step_from_stats", "fast_e_step", "fast_lower_bound", "fit_gmm",
    # self-checks and course data
    "check_e_step", "check_log_e_step", "check_m_step", "check_m_step_diagonal", "check_lower_bound",
    "read_book_file", "benchmark_markdown", "load_faithful", "animation_html",
    # Bayesian GMM
    "n_free_parameters", "bic", "aic", "BayesianGMMPrior", "bayesian_gmm_prior", "VBPosterior",
    "vb_e_step", "vb_m_step", "vb_lower_bound", "VBGMMFit", "fit_vb_gmm", "sklearn_lower_bound_offset",
    "GibbsSamples", "gibbs_gmm", "relabel_samples",
    # EM at scale
    "MIXTURE_ATOM_ROWS", "mixture_dask_array", "as_row_chunked", "em_pass", "fit_gmm_dask",
    "step_sizes", "online_em", "OnlineFit", "print_progress",
]


# =============================================================================
# 1. Validation
# =============================================================================

def _as_float_array(value, name, ndim):
    """Return ``value`` as a finite float64 array with ``ndim`` dimensions.

    Raises ``ValueError`` naming the argument ``name`` if the value cannot be
    converted, has the wrong number of dimensions, is empty, or holds NaN or
    infinity.
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


def check_data(X, name="X"):
    """Validate a data matrix ``X`` of shape ``(N, D)`` and return it as float64."""
    return _as_float_array(X, name, 2)


def check_weights(pi, n_components=None, name="pi"):
    """Validate mixture weights: shape ``(C,)``, non-negative, summing to 1 (to 1e-8)."""
    pi = _as_float_array(pi, name, 1)
    if n_components is not None and pi.shape[0] != n_components:
        raise ValueError(f"{name} must have shape ({n_components},); got {pi.shape}")
    if np.any(pi < 0):
        raise ValueError(f"{name} must be non-negative; got minimum {pi.min():.3g}")
    if abs(pi.sum() - 1.0) > 1e-8:
        raise ValueError(f"{name} must sum to 1; got sum {pi.sum():.12g}")
    return pi


def check_means(mu, n_components=None, n_features=None, name="mu"):
    """Validate component means: shape ``(C, D)``, finite."""
    mu = _as_float_array(mu, name, 2)
    if n_components is not None and mu.shape[0] != n_components:
        raise ValueError(f"{name} must have {n_components} rows (one per component); got shape {mu.shape}")
    if n_features is not None and mu.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns (one per dimension of X); got shape {mu.shape}")
    return mu


def check_covariances(sigma, n_components=None, n_features=None, name="sigma"):
    """Validate covariance matrices: shape ``(C, D, D)``, symmetric, positive definite.

    Returns ``(sigma, chol)`` where ``chol`` holds the lower Cholesky factors,
    shape ``(C, D, D)``, so callers need not factorise again.
    """
    sigma = _as_float_array(sigma, name, 3)
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


def check_counts(n, name="n"):
    """Validate component counts: a 1-D sequence of non-negative integers with a positive sum."""
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


def check_responsibilities(q, n_samples=None, name="q"):
    """Validate soft assignments ``q`` of shape ``(N, C)``: in [0, 1], rows summing to 1 (to 1e-6)."""
    q = _as_float_array(q, name, 2)
    if n_samples is not None and q.shape[0] != n_samples:
        raise ValueError(f"{name} must have {n_samples} rows (one per observation); got shape {q.shape}")
    if np.any(q < 0) or np.any(q > 1 + 1e-12):
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    worst = np.abs(q.sum(axis=1) - 1.0).max()
    if worst > 1e-6:
        raise ValueError(f"every row of {name} must sum to 1; the worst row is off by {worst:.3g}")
    return q


def make_rng(seed):
    """Return a ``numpy.random.Generator`` from ``None``, an integer seed or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be None, a non-negative integer or a numpy Generator; got {seed!r}")


# =============================================================================
# 2. Data
# =============================================================================

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
    """
    n = check_counts(n, "n")
    C = n.shape[0]
    mu = check_means(mu, C, None, "mu")
    sigma, chol = check_covariances(sigma, C, mu.shape[1], "sigma")
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


# =============================================================================
# 3. Densities
# =============================================================================

def gaussian_logpdf(X, mean, cov):
    """Log density of a multivariate normal N(x | mean, cov) at each row of ``X``.

    ``X`` is ``(N, D)``, ``mean`` is ``(D,)`` and ``cov`` is ``(D, D)``;
    returns shape ``(N,)``. Computed through the Cholesky factor of ``cov``, so
    it never forms an inverse and stays finite far from the mean.
    """
    X = check_data(X)
    mean = _as_float_array(mean, "mean", 1)
    if mean.shape[0] != X.shape[1]:
        raise ValueError(f"mean must have shape ({X.shape[1]},) to match X; got {mean.shape}")
    _, chol = check_covariances(np.asarray(cov, dtype=float)[None], 1, X.shape[1], "cov")
    return _gaussian_logpdf_chol(X, mean, chol[0])


def _gaussian_logpdf_chol(X, mean, L):
    """Log N(x | mean, L L^T) for rows of ``X`` (N, D) given a lower Cholesky factor ``L`` (D, D)."""
    from scipy.linalg import solve_triangular

    D = X.shape[1]
    z = solve_triangular(L, (X - mean).T, lower=True)           # (D, N)
    maha = np.einsum("dn,dn->n", z, z)
    log_det = 2.0 * np.log(np.diag(L)).sum()
    return -0.5 * (D * np.log(2.0 * np.pi) + log_det + maha)


def gmm_log_density(X, pi, mu, sigma):
    """Log of the mixture density, equation (2): log sum_c pi_c N(x | mu_c, Sigma_c).

    ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D); returns (N,).
    The sum is taken in log space (log-sum-exp), so it is finite wherever a
    point has non-zero density in exact arithmetic.
    """
    from scipy.special import logsumexp

    X = check_data(X)
    mu = check_means(mu, None, X.shape[1])
    C = mu.shape[0]
    pi = check_weights(pi, C)
    sigma, chol = check_covariances(sigma, C, X.shape[1])
    with np.errstate(divide="ignore"):
        log_pi = np.log(pi)
    log_joint = np.stack([log_pi[c] + _gaussian_logpdf_chol(X, mu[c], chol[c]) for c in range(C)], axis=1)
    return logsumexp(log_joint, axis=1)  # Equation (2), in log space


def gmm_density(X, pi, mu, sigma):
    """Mixture density p(x | theta), equation (2); shapes as in :func:`gmm_log_density`."""
    return np.exp(gmm_log_density(X, pi, mu, sigma))


# =============================================================================
# 4. Plotting
# =============================================================================

#: The book's one figure style (matplotlib rcParams), applied by set_book_style().
BOOK_STYLE = {
    "figure.figsize": (6.4, 4.8),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "svg.hashsalt": "lvm-book",
}

#: Colours of mixture components, in order (colour-blind friendly, from matplotlib's tab10).
_COMPONENT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def set_book_style():
    """Apply the book's figure style (``BOOK_STYLE``) to matplotlib."""
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)


def component_colors(n_components):
    """RGB colours for ``n_components`` components, shape ``(C, 3)``.

    The first ten are distinct; beyond ten they are spread over a colour map.
    """
    from matplotlib.colors import to_rgb

    if not isinstance(n_components, numbers.Integral) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer; got {n_components!r}")
    if n_components <= len(_COMPONENT_COLORS):
        return np.array([to_rgb(c) for c in _COMPONENT_COLORS[:n_components]])
    import matplotlib

    cmap = matplotlib.colormaps["turbo"]
    return np.array([cmap(x)[:3] for x in np.linspace(0.05, 0.95, n_components)])


def soft_assignment_colors(q):
    """Colour of each point as the q-weighted mix of its components' colours.

    ``q`` (N, C) are soft (or one-hot) assignments with rows summing to 1;
    returns RGB colours of shape (N, 3). A point shared equally by two
    components gets the mean of their colours; works for any C.
    """
    q = check_responsibilities(q)
    return np.clip(q @ component_colors(q.shape[1]), 0.0, 1.0)


def _get_ax(ax):
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def plot_data(X, color="grey", alpha=0.7, ax=None, **scatter_kwargs):
    """Scatter plot of 2-D data.

    Parameters
    ----------
    X : array, shape (N, 2)
    color : str, or array of shape (N, C)
        A matplotlib colour name, or one-hot labels / soft assignments, which
        are mapped to colours by :func:`soft_assignment_colors` (any C).
    alpha : float
        Opacity of the markers.
    ax : matplotlib Axes, optional
        Where to draw; the current Axes by default.

    Returns
    -------
    The ``PathCollection`` drawn.
    """
    X = check_data(X)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns to be plotted; got shape {X.shape}")
    if not isinstance(color, str):
        arr = np.asarray(color)
        if arr.ndim != 2 or arr.shape[0] != X.shape[0]:
            raise ValueError(
                f"color must be a colour name or an (N, C) array of assignments with N = {X.shape[0]}; "
                f"got shape {arr.shape}")
        color = soft_assignment_colors(arr)
    ax = _get_ax(ax)
    kwargs = {"s": 10, "linewidths": 0}
    kwargs.update(scatter_kwargs)
    artist = ax.scatter(X[:, 0], X[:, 1], c=color, alpha=alpha, **kwargs)
    ax.set_xlabel(r"$x_1$")
    ax.set_ylabel(r"$x_2$")
    return artist


def plot_densities(X, mu, sigma, alpha=0.5, colors="grey", ax=None, grid_size=200, levels=6):
    """Contours of each component's Gaussian density over the range of ``X``.

    Parameters
    ----------
    X : array, shape (N, 2)
        Data; only its range (plus 5 % on each side) is used, to place a
        ``grid_size`` x ``grid_size`` grid.
    mu : array, shape (C, 2)
    sigma : array, shape (C, 2, 2)
    alpha : float
        Opacity of the contour lines.
    colors : str or sequence of C colours
        One colour for all components, or one per component.
    ax : matplotlib Axes, optional

    Returns
    -------
    list of the C ``QuadContourSet`` objects drawn.
    """
    X = check_data(X)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns to be plotted; got shape {X.shape}")
    mu = check_means(mu, None, 2)
    C = mu.shape[0]
    sigma, chol = check_covariances(sigma, C, 2)
    if not isinstance(grid_size, numbers.Integral) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2; got {grid_size!r}")
    if isinstance(colors, str):
        colors = [colors] * C
    elif len(colors) != C:
        raise ValueError(f"colors must be one colour or {C} colours (one per component); got {len(colors)}")
    ax = _get_ax(ax)
    lo, hi = X.min(axis=0), X.max(axis=0)
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)  # a small margin keeps edge points inside
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], grid_size), np.linspace(lo[1], hi[1], grid_size))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    drawn = []
    for c in range(C):
        dens = np.exp(_gaussian_logpdf_chol(grid, mu[c], chol[c])).reshape(g1.shape)
        drawn.append(ax.contour(g1, g2, dens, levels=levels, colors=[colors[c]], alpha=alpha))
    return drawn


def plot_gmm_plate(filename=None, dpi=100, ax=None):
    """Draw the plate diagram of a Gaussian mixture model with matplotlib.

    Parameters theta point to the latent one-hot variable t_i and to the
    observation x_i; t_i points to x_i; the plate repeats both N times.
    Observed nodes are shaded, latent nodes white.

    Parameters
    ----------
    filename : str, optional
        If given, the figure is also saved there (PNG or any matplotlib format).
    dpi : int
        Resolution used when saving.
    ax : matplotlib Axes, optional
        Where to draw; a new 3.2 x 2.4 inch figure by default.

    Returns
    -------
    The Axes drawn on.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    if not isinstance(dpi, numbers.Integral) or dpi <= 0:
        raise ValueError(f"dpi must be a positive integer; got {dpi!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 2.4))
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 3)
    ax.set_aspect("equal")
    ax.axis("off")
    r = 0.32
    nodes = {"theta": (0.6, 2.3), "t": (2.3, 2.3), "x": (2.3, 0.9)}
    ax.add_patch(Circle(nodes["theta"], 0.07, color="black"))
    ax.text(nodes["theta"][0], nodes["theta"][1] + 0.25, r"$\boldsymbol{\theta}$", ha="center", va="bottom",
            fontsize=13)
    ax.add_patch(Circle(nodes["t"], r, facecolor="white", edgecolor="black", lw=1.2))
    ax.text(*nodes["t"], r"$\mathbf{t}_i$", ha="center", va="center", fontsize=13)
    ax.add_patch(Circle(nodes["x"], r, facecolor="#cccccc", edgecolor="black", lw=1.2))
    ax.text(*nodes["x"], r"$\mathbf{x}_i$", ha="center", va="center", fontsize=13)

    def arrow(a, b, shrink_a, shrink_b):
        (x0, y0), (x1, y1) = nodes[a], nodes[b]
        d = np.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        ax.add_patch(FancyArrowPatch((x0 + ux * shrink_a, y0 + uy * shrink_a),
                                     (x1 - ux * shrink_b, y1 - uy * shrink_b),
                                     arrowstyle="-|>", mutation_scale=12, color="black", lw=1.1))

    arrow("theta", "t", 0.1, r)
    arrow("theta", "x", 0.1, r)
    arrow("t", "x", r, r)
    ax.add_patch(FancyBboxPatch((1.6, 0.25), 1.5, 2.55, boxstyle="round,pad=0.02,rounding_size=0.1",
                                facecolor="none", edgecolor="black", lw=1.0))
    ax.text(3.0, 0.35, r"$N$", ha="right", va="bottom", fontsize=12)
    if filename is not None:
        ax.figure.savefig(filename, dpi=dpi, bbox_inches="tight")
    return ax


# =============================================================================
# 5. Article EM
# =============================================================================
#
# The article's EM for Gaussian mixtures, with its names and signatures
# (``e_step``, ``m_step``, ``lower_bound``, ``random_init_params``, ``train``),
# written to read like the equations: one Python loop over components. Chapter 3
# develops these functions step by step; this is their library version. Changes
# from the article: the E-step works in log space, a dying or collapsing
# component raises ``DegenerateComponentError`` instead of producing NaN, the
# lower bound treats 0 log 0 as 0 exactly, initialisation works for any D, the
# convergence test also works when the previous bound is 0, and every random
# draw comes from a seed.

class DegenerateComponentError(ValueError):
    """A mixture component has (numerically) no responsibility, or a singular covariance.

    Raised by :func:`m_step`; :func:`train` catches it and abandons that
    restart. It subclasses ``ValueError`` so callers that catch bad input
    catch it too.
    """


#: A covariance whose smallest eigenvalue is at most this fraction of its largest
#: counts as singular (the cut-off scipy.stats.multivariate_normal uses in float64).
_SINGULAR_RCOND = 1e6 * np.finfo(float).eps


def _component_log_densities(X, mu, chol):
    """log N(x_i | mu_c, L_c L_c^T) for every point and component, shape (N, C).

    ``X`` (N, D), ``mu`` (C, D), ``chol`` (C, D, D) lower Cholesky factors.
    """
    return np.column_stack([_gaussian_logpdf_chol(X, mu[c], chol[c]) for c in range(mu.shape[0])])


def _check_gmm_params(X, pi, mu, sigma):
    """Validate ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D) together.

    Returns ``(X, pi, mu, chol)`` with the Cholesky factors of ``sigma``.
    """
    X = check_data(X)
    mu = check_means(mu, None, X.shape[1])
    C = mu.shape[0]
    pi = check_weights(pi, C)
    _, chol = check_covariances(sigma, C, X.shape[1])
    return X, pi, mu, chol


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
    """
    from scipy.special import logsumexp

    X, pi, mu, chol = _check_gmm_params(X, pi, mu, sigma)
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
    """
    X = check_data(X)
    N, D = X.shape
    q = check_responsibilities(q, N)
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
    """
    from scipy.special import xlogy

    X, pi, mu, chol = _check_gmm_params(X, pi, mu, sigma)
    q = check_responsibilities(q, X.shape[0])
    if q.shape[1] != mu.shape[0]:
        raise ValueError(f"q must have {mu.shape[0]} columns (one per component); got shape {q.shape}")
    log_pdf = _component_log_densities(X, mu, chol)
    # Equation (19): q {log p(x | t_c = 1) + log p(t_c = 1) - log q}, summed over i and c
    return float(np.sum(q * log_pdf) + np.sum(xlogy(q, pi)) - np.sum(xlogy(q, q)))


def _check_positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


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
    """
    X = check_data(X)
    C = _check_positive_int(C, "C")
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
    """
    X = check_data(X)
    C = _check_positive_int(C, "C")
    n_restarts = _check_positive_int(n_restarts, "n_restarts")
    max_iter = _check_positive_int(max_iter, "max_iter")
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


# =============================================================================
# 6. EM, robust and fast
# =============================================================================
#
# A second implementation of EM for full-covariance Gaussian mixtures, for the
# chapters that need speed and robustness rather than readability. The maths is
# that of section 5 (equations (6), (16)-(19)); what changes is how it is
# computed:
#
# * The E-step works in log space through the Cholesky factors L_c of the
#   covariances (never an inverse covariance): with z = L_c^{-1} (x - mu_c),
#   log N(x | mu_c, Sigma_c) = -(D log 2 pi + 2 sum log diag L_c + |z|^2) / 2,
#   and the posterior is normalised with log-sum-exp, so no point is ever
#   "too far" (the article's 0 / 0) and nothing overflows.
# * All C triangular solves are one matrix product: the rows of every L_c^{-1}
#   are stacked into one (C (D + 1), D + 1) matrix acting on [x - m, 1]
#   ("homogeneous coordinates" fold the subtraction of mu_c into the product).
# * The M-step only needs sums over points (SuffStats): sum_i q_ic,
#   sum_i q_ic (x_i - mu_c) and sum_i q_ic (x_i - mu_c)(x_i - mu_c)^T, taken
#   about the current means mu_c so that they stay accurate when the data sit
#   far from the origin. They are accumulated in the whitened coordinates z
#   that the E-step has already computed, as one weighted product per
#   component, and mapped back with L_c at the end.
# * Rows are processed in blocks small enough to stay in the CPU cache; blocks
#   are grouped into fixed tasks whose partial sums are added in a fixed order,
#   so the result does not depend on the number of threads.
# * Sums over points add up, so sufficient_statistics of two halves of the
#   data, added with ``+``, equal those of the whole: the same two functions
#   (sufficient_statistics, m_step_from_stats) serve in-memory, blocked and
#   distributed EM.
#
# Only numpy's linear algebra runs in the hot loop: numpy and scipy ship
# separate OpenBLAS libraries, and alternating between them with several
# threads was measured to be many times slower than either alone.

class CollapsedComponentError(DegenerateComponentError):
    """A component has no data left, or its covariance has collapsed (is not positive definite).

    Raised by :func:`m_step_from_stats`; :func:`fit_gmm` catches it and
    abandons that restart. ``component`` is the index of the offending
    component. It subclasses :class:`DegenerateComponentError` (and so
    ``ValueError``), so code written for section 5 catches it too.
    """

    def __init__(self, message, component=None):
        super().__init__(message)
        self.component = component


class EMConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood change fell below ``tol``."""


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
    """

    n: int
    sum_q: np.ndarray
    sum_qx: np.ndarray
    sum_qxx: np.ndarray
    log_likelihood: float
    center: np.ndarray

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
        log_q, _ = fast_e_step(X, self.pi, self.mu, self.sigma_chol)
        return np.exp(log_q)


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


def _check_chol(sigma_chol, C, D, name="sigma_chol"):
    """Validate lower Cholesky factors of shape (C, D, D) with a positive diagonal."""
    chol = _as_float_array(sigma_chol, name, 3)
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


def _check_fast_params(X, pi, mu, sigma_chol):
    X = check_data(X)
    mu = check_means(mu, None, X.shape[1])
    C, D = mu.shape
    pi = check_weights(pi, C)
    chol = _check_chol(sigma_chol, C, D)
    return X, pi, mu, chol


class _Prepared:
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


class _Runner:
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


def _check_n_threads(n_threads):
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
    P = _Prepared(pi, mu, chol)
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
    """
    X, pi, mu, chol = _check_fast_params(X, pi, mu, sigma_chol)
    with _Runner(_check_n_threads(n_threads)) as runner:
        return _sufficient_statistics(X, pi, mu, chol, runner)


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
        1e14 / D) are accepted; section 5's ``m_step`` stops at 1e6 eps.
    """
    if not isinstance(stats, SuffStats):
        raise ValueError(f"stats must be a SuffStats; got {type(stats).__name__}")
    if not isinstance(reg_covar, numbers.Real) or not np.isfinite(reg_covar) or reg_covar < 0:
        raise ValueError(f"reg_covar must be a non-negative finite number; got {reg_covar!r}")
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


def _log_joint(X, pi, mu, chol, n_threads=1):
    """log pi_c + log N(x_i | mu_c, Sigma_c), shape (N, C), and log p(x_i | theta), shape (N,)."""
    N = X.shape[0]
    C, D = mu.shape
    P = _Prepared(pi, mu, chol)
    nb, tasks = _task_bounds(N, C, D)
    log_joint = np.empty((N, C))
    log_norm = np.empty(N)
    with _Runner(n_threads) as runner:
        runner.map(lambda t: _log_joint_task(X, P, t[0], t[1], nb, log_joint, log_norm), tasks)
    return log_joint, log_norm


def fast_e_step(X, pi, mu, sigma_chol, n_threads=1):
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
    """
    X, pi, mu, chol = _check_fast_params(X, pi, mu, sigma_chol)
    log_joint, log_norm = _log_joint(X, pi, mu, chol, _check_n_threads(n_threads))
    return log_joint - log_norm[:, None], log_norm


def fast_lower_bound(X, pi, mu, sigma_chol, q=None):
    """The lower bound L(theta, q), equation (19), vectorised.

    ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma_chol`` (C, D, D);
    ``q`` (N, C) any soft assignments, or ``None`` for the posterior, where
    the bound equals the log-likelihood ``log p(X | theta)`` (the KL term of
    equation (13) is 0). Terms with ``q_ic = 0`` count as exactly 0.
    Returns a float.
    """
    X, pi, mu, chol = _check_fast_params(X, pi, mu, sigma_chol)
    log_joint, log_norm = _log_joint(X, pi, mu, chol)
    if q is None:
        return float(log_norm.sum())
    q = check_responsibilities(q, X.shape[0])
    if q.shape[1] != mu.shape[0]:
        raise ValueError(f"q must have {mu.shape[0]} columns (one per component); got shape {q.shape}")
    pos = q > 0
    with np.errstate(divide="ignore"):
        terms = np.where(pos, q * (log_joint - np.log(np.where(pos, q, 1.0))), 0.0)   # Equation (19)
    return float(terms.sum())


def _random_start(X, C, rng):
    """Equal weights, means drawn around the data mean with its per-dimension spread,
    covariances diag(variances of the data): like section 5's ``random_init_params``
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


def _run_em(X, pi, mu, chol, max_iter, tol, reg_covar, runner, callback, restart):
    """One EM run from (pi, mu, chol). Returns (pi, mu, sigma, chol, history, n_iter, converged)."""
    N = X.shape[0]
    sigma = chol @ np.swapaxes(chol, 1, 2)
    stats = _sufficient_statistics(X, pi, mu, chol, runner)       # E-step at the start
    history = [stats.log_likelihood]
    if callback is not None:
        callback(restart, 0, stats.log_likelihood, pi, mu, sigma)
    n_iter, converged = 0, False
    while n_iter < max_iter:
        pi, mu, sigma, chol = m_step_from_stats(stats, reg_covar)  # Equations (16)-(18)
        n_iter += 1
        stats = _sufficient_statistics(X, pi, mu, chol, runner)   # Equation (6) and the bound (19)
        history.append(stats.log_likelihood)
        if callback is not None:
            callback(restart, n_iter, stats.log_likelihood, pi, mu, sigma)
        if abs(history[-1] - history[-2]) / N < tol:
            converged = True
            break
    return pi, mu, sigma, chol, history, n_iter, converged


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
    """
    import warnings

    X = check_data(X)
    N, D = X.shape
    C = _check_positive_int(C, "C")
    if C > N:
        raise ValueError(f"C must be at most the number of points N = {N}; got {C}")
    n_restarts = _check_positive_int(n_restarts, "n_restarts")
    max_iter = _check_positive_int(max_iter, "max_iter")
    if not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol < 0:
        raise ValueError(f"tol must be a non-negative finite number; got {tol!r}")
    if not isinstance(reg_covar, numbers.Real) or not np.isfinite(reg_covar) or reg_covar < 0:
        raise ValueError(f"reg_covar must be a non-negative finite number; got {reg_covar!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None; got {type(callback).__name__}")
    n_threads = _check_n_threads(n_threads)
    if isinstance(init, str):
        if init not in ("random", "kmeans"):
            raise ValueError(f"init must be 'random', 'kmeans' or a tuple (pi, mu, sigma); got {init!r}")
        starter = _random_start if init == "random" else _kmeans_start
        rngs = make_rng(seed).spawn(n_restarts)
        starts = [lambda rng=rng: starter(X, C, rng) for rng in rngs]
    elif isinstance(init, (tuple, list)) and len(init) == 3:
        pi0 = check_weights(init[0], C, "init[0] (pi)")
        mu0 = check_means(init[1], C, D, "init[1] (mu)")
        sigma0, _ = check_covariances(init[2], C, D, "init[2] (sigma)")
        starts = [lambda: (pi0, mu0, sigma0)]
    else:
        raise ValueError(f"init must be 'random', 'kmeans' or a tuple (pi, mu, sigma); got {type(init).__name__}")

    best, failures, finals = None, [], []
    with _Runner(min(n_threads, len(_task_bounds(N, C, D)[1]))) as runner:
        for restart, start in enumerate(starts):
            pi, mu, sigma = start()
            chol = np.linalg.cholesky(sigma)
            try:
                run = _run_em(X, pi, mu, chol, max_iter, tol, reg_covar, runner, callback, restart)
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
    if not converged:
        warnings.warn(EMConvergenceWarning(
            f"EM did not converge in max_iter = {max_iter} M-steps: the last change of the log-likelihood "
            f"per point was {abs(history[-1] - history[-2]) / N:.3g} >= tol = {tol:g}; increase max_iter or tol"),
            stacklevel=2)
    return GMMFit(pi, mu, sigma, chol, float(history[-1]), [float(h) for h in history], n_iter, converged,
                  len(failures), [float(f) for f in finals])


# =============================================================================
# 7. Bayesian GMM
# =============================================================================
#
# Choosing the number of components: information criteria of maximum-likelihood
# fits, the variational Bayesian GMM of Bishop (PRML, section 10.2) with its
# evidence lower bound, and a Gibbs sampler for the same model. Notation follows
# PRML: a symmetric Dirichlet prior Dir(pi | alpha0) on the weights and, per
# component, a Gauss-Wishart prior N(mu_k | m0, (beta0 Lambda_k)^-1) W(Lambda_k | W0, nu0)
# on the mean and precision. Posterior factors carry the same names without the 0.

def _bgmm_check_C(C, N=None, name="C"):
    """Validate a number of components: a positive integer, at most ``N`` if given."""
    if not isinstance(C, numbers.Integral) or isinstance(C, bool) or C < 1:
        raise ValueError(f"{name} must be a positive integer; got {C!r}")
    if N is not None and C > N:
        raise ValueError(f"{name} must not exceed the number of observations N = {N}; got {C}")
    return int(C)


def _bgmm_positive_scalar(value, name, lower=0.0):
    """Validate a finite real number strictly greater than ``lower``."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value <= lower:
        raise ValueError(f"{name} must be a finite number greater than {lower:g}; got {value!r}")
    return float(value)


def n_free_parameters(C, D):
    """Number of free parameters of a full-covariance GMM with ``C`` components in ``D`` dimensions.

    ``C - 1`` weights (they sum to one), ``C * D`` mean entries and
    ``C * D * (D + 1) / 2`` covariance entries (each covariance is symmetric).
    """
    C = _bgmm_check_C(C)
    D = _check_positive_int(D, "D")
    return (C - 1) + C * D + C * D * (D + 1) // 2


def _bgmm_log_likelihood(X, pi, mu, sigma):
    """Validated data, and the total log likelihood sum_i log p(x_i | theta), Eq. (2)."""
    X = check_data(X)
    return X, float(gmm_log_density(X, pi, mu, sigma).sum())


def bic(X, pi, mu, sigma):
    """Bayesian information criterion of a full-covariance GMM: ``-2 log p(X | theta) + p log N``.

    ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D); ``p`` is
    :func:`n_free_parameters`. Lower is better. Equals scikit-learn's
    ``GaussianMixture.bic(X)`` for the same parameters.
    """
    X, log_lik = _bgmm_log_likelihood(X, pi, mu, sigma)
    N, D = X.shape
    return -2.0 * log_lik + n_free_parameters(len(pi), D) * np.log(N)


def aic(X, pi, mu, sigma):
    """Akaike information criterion of a full-covariance GMM: ``-2 log p(X | theta) + 2 p``.

    Shapes as in :func:`bic`. Lower is better. Equals scikit-learn's
    ``GaussianMixture.aic(X)`` for the same parameters.
    """
    X, log_lik = _bgmm_log_likelihood(X, pi, mu, sigma)
    return -2.0 * log_lik + 2.0 * n_free_parameters(len(pi), X.shape[1])



@dataclass(frozen=True)
class BayesianGMMPrior:
    """Conjugate prior of a Bayesian GMM (PRML 10.39-10.40).

    ``alpha0`` Dirichlet concentration of each weight; ``beta0`` scale of the
    mean's precision; ``m0`` (D,) prior mean; ``W0`` (D, D) Wishart scale
    matrix (a *precision*-like matrix: E[Lambda] = nu0 W0); ``nu0`` Wishart
    degrees of freedom (> D - 1). ``W0_inv_chol`` is the lower Cholesky factor
    of ``W0^{-1}``, kept for numerically careful computations.
    """

    alpha0: float
    beta0: float
    m0: np.ndarray
    W0: np.ndarray
    nu0: float
    W0_inv_chol: np.ndarray


def bayesian_gmm_prior(X, C, alpha0=None, beta0=1.0, m0=None, W0=None, nu0=None):
    """Validated prior of a Bayesian GMM for data ``X`` (N, D) and ``C`` components.

    The defaults are scikit-learn's ``BayesianGaussianMixture`` defaults:
    ``alpha0 = 1 / C``, ``beta0 = 1``, ``m0`` the data mean, ``W0`` the inverse
    of the sample covariance of ``X`` (scikit-learn's ``covariance_prior`` is
    ``W0^{-1}``) and ``nu0 = D``. Returns a :class:`BayesianGMMPrior`.
    """
    X = check_data(X)
    N, D = X.shape
    C = _bgmm_check_C(C, N)
    alpha0 = 1.0 / C if alpha0 is None else _bgmm_positive_scalar(alpha0, "alpha0")
    beta0 = _bgmm_positive_scalar(beta0, "beta0")
    if m0 is None:
        m0 = X.mean(axis=0)
    else:
        m0 = _as_float_array(m0, "m0", 1)
        if m0.shape != (D,):
            raise ValueError(f"m0 must have shape ({D},) to match X; got {m0.shape}")
    if W0 is None:
        if N < 2:
            raise ValueError("X must have at least 2 rows to set the default W0 from its covariance")
        W0_inv = np.atleast_2d(np.cov(X.T))
        _, chol = check_covariances(W0_inv[None], 1, D, "sample covariance of X (the default W0^-1)")
        W0 = np.linalg.inv(W0_inv)
        W0 = 0.5 * (W0 + W0.T)
    else:
        W0, _ = check_covariances(np.asarray(W0, dtype=float)[None], 1, D, "W0")
        W0 = W0[0]
        W0_inv = np.linalg.inv(W0)
        _, chol = check_covariances((0.5 * (W0_inv + W0_inv.T))[None], 1, D, "W0^-1")
    nu0 = float(D) if nu0 is None else _bgmm_positive_scalar(nu0, "nu0", lower=D - 1.0)
    return BayesianGMMPrior(alpha0, beta0, m0, W0, nu0, chol[0])


@dataclass(frozen=True)
class VBPosterior:
    """Variational posterior q(pi) q(mu, Lambda) of a Bayesian GMM (PRML 10.57-10.63).

    ``alpha`` (C,) Dirichlet concentrations; ``beta`` (C,) mean-precision scales;
    ``m`` (C, D) means; ``nu`` (C,) degrees of freedom; ``W_inv_chol`` (C, D, D)
    lower Cholesky factors of ``W_k^{-1}``, the inverse Wishart scale matrices.
    """

    alpha: np.ndarray
    beta: np.ndarray
    m: np.ndarray
    nu: np.ndarray
    W_inv_chol: np.ndarray

    @property
    def W(self):
        """Wishart scale matrices ``W_k``, shape (C, D, D)."""
        W_inv = self.W_inv_chol @ np.swapaxes(self.W_inv_chol, 1, 2)
        return np.linalg.inv(W_inv)

    @property
    def weights(self):
        """Posterior mean of the weights, E[pi_k] = alpha_k / sum(alpha), shape (C,)."""
        return self.alpha / self.alpha.sum()

    @property
    def covariances(self):
        """Posterior mean of the covariances, E[Lambda_k^{-1}] = W_k^{-1} / (nu_k - D - 1), shape (C, D, D).

        Defined for ``nu_k > D + 1`` (NaN otherwise)."""
        D = self.m.shape[1]
        W_inv = self.W_inv_chol @ np.swapaxes(self.W_inv_chol, 1, 2)
        dof = self.nu - D - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(dof[:, None, None] > 0, W_inv / dof[:, None, None], np.nan)

    def expected_log_weights(self):
        """E[ln pi_k] = psi(alpha_k) - psi(sum alpha), PRML 10.66; shape (C,)."""
        from scipy.special import digamma

        return digamma(self.alpha) - digamma(self.alpha.sum())

    def expected_log_det_precision(self):
        """E[ln |Lambda_k|] = sum_i psi((nu_k + 1 - i) / 2) + D ln 2 + ln |W_k|, PRML 10.65; shape (C,)."""
        from scipy.special import digamma

        D = self.m.shape[1]
        log_det_W = -2.0 * np.log(np.diagonal(self.W_inv_chol, axis1=1, axis2=2)).sum(axis=1)
        psi = digamma(0.5 * (self.nu[:, None] - np.arange(D)[None, :])).sum(axis=1)
        return psi + D * np.log(2.0) + log_det_W


def _wishart_log_norm(W_inv_chol, nu):
    """ln B(W, nu) of the Wishart normaliser, PRML B.79, from the Cholesky factor of W^{-1}.

    ``W_inv_chol`` (..., D, D), ``nu`` (...,); returns (...,).
    """
    from scipy.special import gammaln

    D = W_inv_chol.shape[-1]
    log_det_W = -2.0 * np.log(np.diagonal(W_inv_chol, axis1=-2, axis2=-1)).sum(axis=-1)
    nu = np.asarray(nu, dtype=float)
    return (-0.5 * nu * log_det_W - 0.5 * nu * D * np.log(2.0) - 0.25 * D * (D - 1) * np.log(np.pi)
            - gammaln(0.5 * (nu[..., None] - np.arange(D))).sum(axis=-1))


def _dirichlet_log_norm(alpha):
    """ln C(alpha) = ln Gamma(sum alpha) - sum ln Gamma(alpha_k), PRML B.23."""
    from scipy.special import gammaln

    return gammaln(alpha.sum()) - gammaln(alpha).sum()


def _bgmm_gauss_wishart_update(X, counts, weighted_sum, weighted_scatter, prior):
    """Conjugate Gauss-Wishart update shared by VB (soft counts) and Gibbs (hard counts).

    ``counts`` (C,) = N_k; ``weighted_sum`` (C, D) = sum_n r_nk x_n;
    ``weighted_scatter`` (C, D, D) = sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T = N_k S_k.
    Returns beta (C,), m (C, D), nu (C,), W_inv (C, D, D) -- PRML 10.60-10.63
    (with nu_k = nu0 + N_k, the corrected 10.63).
    """
    beta = prior.beta0 + counts                                          # (10.60)
    m = (prior.beta0 * prior.m0 + weighted_sum) / beta[:, None]          # (10.61)
    nu = prior.nu0 + counts                                              # (10.63)
    xbar = weighted_sum / np.maximum(counts, np.finfo(float).tiny)[:, None]
    diff = xbar - prior.m0
    shrink = prior.beta0 * counts / beta
    W0_inv = prior.W0_inv_chol @ prior.W0_inv_chol.T
    W_inv = (W0_inv + weighted_scatter                                   # (10.62)
             + shrink[:, None, None] * np.einsum("cd,ce->cde", diff, diff))
    return beta, m, nu, 0.5 * (W_inv + np.swapaxes(W_inv, 1, 2))


def _bgmm_statistics(X, resp):
    """N_k (C,), sum_n r_nk x_n (C, D) and sum_n r_nk (x_n - xbar_k)(x_n - xbar_k)^T (C, D, D)."""
    counts = resp.sum(axis=0)
    weighted_sum = resp.T @ X
    xbar = weighted_sum / np.maximum(counts, np.finfo(float).tiny)[:, None]
    scatter = np.empty((resp.shape[1], X.shape[1], X.shape[1]))
    for k in range(resp.shape[1]):
        centred = X - xbar[k]
        scatter[k] = (resp[:, k, None] * centred).T @ centred
    return counts, weighted_sum, scatter


def _bgmm_cholesky(A, name):
    """Lower Cholesky factors of a stack of SPD matrices (C, D, D), with a clear error."""
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} is not positive definite (numerically); check the prior and the data") from None


def vb_m_step(X, resp, prior):
    """Variational M-step: q(pi) q(mu, Lambda) given responsibilities, PRML 10.58 and 10.60-10.63.

    ``X`` (N, D), ``resp`` (N, C), ``prior`` a :class:`BayesianGMMPrior`.
    Returns a :class:`VBPosterior` with alpha_k = alpha0 + N_k (10.58).
    """
    X = check_data(X)
    resp = check_responsibilities(resp, X.shape[0], "resp")
    if not isinstance(prior, BayesianGMMPrior):
        raise ValueError(f"prior must be a BayesianGMMPrior (see bayesian_gmm_prior); got {type(prior).__name__}")
    if prior.m0.shape != (X.shape[1],):
        raise ValueError(f"prior is for {prior.m0.shape[0]}-dimensional data but X has {X.shape[1]} columns")
    return _vb_m_step(X, resp, prior)


def _vb_m_step(X, resp, prior):
    """:func:`vb_m_step` without argument checks (for the inner loop)."""
    counts, weighted_sum, scatter = _bgmm_statistics(X, resp)
    alpha = prior.alpha0 + counts                                        # (10.58)
    beta, m, nu, W_inv = _bgmm_gauss_wishart_update(X, counts, weighted_sum, scatter, prior)
    return VBPosterior(alpha, beta, m, nu, _bgmm_cholesky(W_inv, "W_k^-1"))


def _vb_expected_log_joint(X, post):
    """ln rho_nk = E[ln pi_k] + E[ln N(x_n | mu_k, Lambda_k^{-1})], PRML 10.46 with 10.64-10.66; (N, C).

    E[ln N] = E[ln|Lambda_k|]/2 - D/2 ln(2 pi) - (D / beta_k + nu_k (x - m_k)^T W_k (x - m_k)) / 2,
    the quadratic form computed as |L_k^{-1} (x - m_k)|^2 with W_k^{-1} = L_k L_k^T.
    """
    D = X.shape[1]
    L_inv = np.linalg.inv(post.W_inv_chol)                                   # (C, D, D), triangular
    z = (X[None, :, :] - post.m[:, None, :]) @ np.swapaxes(L_inv, 1, 2)      # (C, N, D)
    maha = (z * z).sum(axis=2).T                                             # (N, C)
    expected_maha = D / post.beta + post.nu * maha                                    # (10.64)
    log_gauss = 0.5 * post.expected_log_det_precision() - 0.5 * D * np.log(2.0 * np.pi) - 0.5 * expected_maha
    return post.expected_log_weights() + log_gauss                                    # (10.46)


def vb_e_step(X, post):
    """Variational E-step: responsibilities r_nk proportional to rho_nk, PRML 10.46-10.49.

    ``X`` (N, D), ``post`` a :class:`VBPosterior`; returns ``resp`` (N, C),
    normalised in log space (log-sum-exp), so no row is ever 0/0.
    """
    from scipy.special import logsumexp

    X = check_data(X)
    if post.m.shape[1] != X.shape[1]:
        raise ValueError(f"post has {post.m.shape[1]}-dimensional components but X has {X.shape[1]} columns")
    log_rho = _vb_expected_log_joint(X, post)
    return np.exp(log_rho - logsumexp(log_rho, axis=1, keepdims=True))               # (10.49)


def vb_lower_bound(X, resp, post, prior):
    """Evidence lower bound L(q) of the variational Bayesian GMM, PRML 10.70-10.77 (all constants kept).

    ``X`` (N, D), ``resp`` (N, C), ``post`` a :class:`VBPosterior`, ``prior`` a
    :class:`BayesianGMMPrior`. Returns a float. Valid for any responsibilities
    and any posterior of this family; it never exceeds ln p(X).
    """
    X = check_data(X)
    resp = check_responsibilities(resp, X.shape[0], "resp")
    C, D = post.m.shape
    if resp.shape[1] != C:
        raise ValueError(f"resp must have {C} columns (one per component of post); got {resp.shape[1]}")
    if post.m.shape[1] != X.shape[1] or prior.m0.shape != (X.shape[1],):
        raise ValueError(f"post and prior must be for {X.shape[1]}-dimensional data like X")
    return _vb_lower_bound(X, resp, post, prior, _vb_expected_log_joint(X, post))


def _vb_lower_bound(X, resp, post, prior, log_rho):
    """:func:`vb_lower_bound` without argument checks; ``log_rho`` (N, C) from :func:`_vb_expected_log_joint`."""
    from scipy.special import xlogy

    C, D = post.m.shape
    log_pi = post.expected_log_weights()
    log_lam = post.expected_log_det_precision()
    # E[ln p(X | Z, mu, Lambda)] + E[ln p(Z | pi)], (10.71) + (10.72): sum_nk r_nk ln rho_nk
    e_log_lik = np.sum(resp * log_rho)
    # E[ln p(pi)], (10.73)
    e_log_p_pi = _dirichlet_log_norm(np.full(C, prior.alpha0)) + (prior.alpha0 - 1.0) * log_pi.sum()
    # E[ln p(mu, Lambda)], (10.74)
    L_inv = np.linalg.inv(post.W_inv_chol)                                   # W_k = L_inv^T L_inv
    maha_m = ((L_inv @ (post.m - prior.m0)[:, :, None]) ** 2).sum(axis=(1, 2))   # (m_k - m0)^T W_k (m_k - m0)
    trace_term = ((L_inv @ prior.W0_inv_chol) ** 2).sum(axis=(1, 2))            # Tr(W0^{-1} W_k)
    e_log_p_mu_lam = (0.5 * np.sum(D * np.log(prior.beta0 / (2.0 * np.pi)) + log_lam - D * prior.beta0 / post.beta
                                   - prior.beta0 * post.nu * maha_m)
                      + C * _wishart_log_norm(prior.W0_inv_chol, prior.nu0)
                      + 0.5 * (prior.nu0 - D - 1.0) * log_lam.sum()
                      - 0.5 * np.sum(post.nu * trace_term))
    # E[ln q(Z)], (10.75)
    e_log_q_z = np.sum(xlogy(resp, resp))
    # E[ln q(pi)], (10.76)
    e_log_q_pi = np.sum((post.alpha - 1.0) * log_pi) + _dirichlet_log_norm(post.alpha)
    # E[ln q(mu, Lambda)], (10.77), with the Wishart entropy H[q(Lambda_k)] of PRML B.82
    log_B = _wishart_log_norm(post.W_inv_chol, post.nu)
    entropy_lam = -log_B - 0.5 * (post.nu - D - 1.0) * log_lam + 0.5 * post.nu * D
    e_log_q_mu_lam = np.sum(0.5 * log_lam + 0.5 * D * np.log(post.beta / (2.0 * np.pi)) - 0.5 * D - entropy_lam)
    return float(e_log_lik + e_log_p_pi + e_log_p_mu_lam - e_log_q_z - e_log_q_pi - e_log_q_mu_lam)


@dataclass(frozen=True)
class VBGMMFit:
    """Result of :func:`fit_vb_gmm`.

    ``posterior`` the final :class:`VBPosterior`; ``resp`` (N, C) the
    responsibilities it was computed from; ``prior`` the
    :class:`BayesianGMMPrior`; ``history`` (n_iter + 1,) the lower bound after
    each M-step, the first entry from the initial responsibilities;
    ``lower_bound`` its last value; ``n_iter`` the number of E/M iterations
    after the initial M-step; ``converged`` whether the tolerance was met.
    """

    posterior: VBPosterior
    resp: np.ndarray
    prior: BayesianGMMPrior
    history: np.ndarray
    lower_bound: float
    n_iter: int
    converged: bool

    @property
    def weights(self):
        """E[pi_k], shape (C,)."""
        return self.posterior.weights

    @property
    def means(self):
        """E[mu_k] = m_k, shape (C, D)."""
        return self.posterior.m

    @property
    def covariances(self):
        """E[Sigma_k], shape (C, D, D); see :attr:`VBPosterior.covariances`."""
        return self.posterior.covariances


def _bgmm_random_hard_resp(X, C, rng):
    """One-hot responsibilities (N, C): each point to the nearest of C distinct random data points."""
    centres = X[rng.choice(X.shape[0], size=C, replace=False)]
    d2 = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    resp = np.zeros((X.shape[0], C))
    resp[np.arange(X.shape[0]), d2.argmin(axis=1)] = 1.0
    return resp


def fit_vb_gmm(X, C, alpha0=None, beta0=1.0, m0=None, W0=None, nu0=None,
               seed=None, max_iter=1000, tol=1e-10, init_resp=None):
    """Fit a variational Bayesian GMM (PRML 10.2) by alternating variational M- and E-steps.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
        Number of components (an upper bound: surplus components may empty).
    alpha0, beta0, m0, W0, nu0
        The prior, see :func:`bayesian_gmm_prior` (defaults: scikit-learn's).
    seed : None, int or numpy.random.Generator
        Used only when ``init_resp`` is None: each point is then assigned to
        the nearest of C distinct random data points.
    max_iter : int
        Maximum number of E/M iterations after the initial M-step.
    tol : float
        Stop when the bound rose by less than ``tol * |bound|``.
    init_resp : array, shape (N, C), optional
        Initial responsibilities; the first M-step starts from them.

    Returns
    -------
    :class:`VBGMMFit`. ``history`` never decreases (up to rounding) -- the
    property that checks an implementation.
    """
    X = check_data(X)
    N = X.shape[0]
    C = _bgmm_check_C(C, N)
    max_iter = _check_positive_int(max_iter, "max_iter")
    if not isinstance(tol, numbers.Real) or isinstance(tol, bool) or not (tol >= 0 and np.isfinite(tol)):
        raise ValueError(f"tol must be a finite non-negative number; got {tol!r}")
    prior = bayesian_gmm_prior(X, C, alpha0, beta0, m0, W0, nu0)
    if init_resp is None:
        resp = _bgmm_random_hard_resp(X, C, make_rng(seed))
    else:
        resp = check_responsibilities(init_resp, N, "init_resp")
        if resp.shape[1] != C:
            raise ValueError(f"init_resp must have C = {C} columns; got shape {resp.shape}")
    post = _vb_m_step(X, resp, prior)
    log_rho = _vb_expected_log_joint(X, post)
    history = [_vb_lower_bound(X, resp, post, prior, log_rho)]
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        shifted = log_rho - log_rho.max(axis=1, keepdims=True)                 # E-step, (10.49), in log space
        resp = np.exp(shifted)
        resp /= resp.sum(axis=1, keepdims=True)
        post = _vb_m_step(X, resp, prior)                                      # M-step
        log_rho = _vb_expected_log_joint(X, post)
        history.append(_vb_lower_bound(X, resp, post, prior, log_rho))
        if history[-1] - history[-2] <= tol * abs(history[-1]):
            converged = True
            break
    return VBGMMFit(post, resp, prior, np.array(history), history[-1], n_iter, converged)


@dataclass(frozen=True)
class GibbsSamples:
    """Draws of a Gibbs sampler for the Bayesian GMM (:func:`gibbs_gmm`).

    ``pi`` (S, C), ``mu`` (S, C, D), ``sigma`` (S, C, D, D) the parameters
    after each sweep; ``counts`` (S, C) points per component; ``log_likelihood``
    (S,) ln p(X | theta) at each draw; ``z`` (N,) the last assignment.
    """

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    counts: np.ndarray
    log_likelihood: np.ndarray
    z: np.ndarray

    def __getitem__(self, index):
        """The draws selected by ``index`` (a slice or index array over S); ``z`` is kept."""
        return GibbsSamples(self.pi[index], self.mu[index], self.sigma[index], self.counts[index],
                            self.log_likelihood[index], self.z)


def _sample_wishart_chol(W_chol, nu, rng):
    """Lower Cholesky factor of one draw Lambda ~ W(W, nu) by the Bartlett decomposition.

    ``W_chol`` (D, D) lower Cholesky factor of W; Lambda = (L A)(L A)^T with A
    lower triangular, A_ii = sqrt(chi2(nu - i)), i = 0..D-1, A_ij ~ N(0, 1) below.
    """
    D = W_chol.shape[0]
    A = np.tril(rng.standard_normal((D, D)), k=-1)
    A[np.diag_indices(D)] = np.sqrt(rng.chisquare(nu - np.arange(D)))
    return W_chol @ A


def gibbs_gmm(X, C, n_iter, seed=None, alpha0=None, beta0=1.0, m0=None, W0=None, nu0=None, init_z=None):
    """Gibbs sampler for the Bayesian GMM with the conjugate prior of :func:`bayesian_gmm_prior`.

    Each sweep draws (i) every label z_n from p(z_n = k | ...) proportional to
    pi_k N(x_n | mu_k, Lambda_k^{-1}); (ii) pi ~ Dir(alpha0 + n_k); (iii) for each
    component Lambda_k ~ W(W_k, nu_k) and mu_k ~ N(m_k, (beta_k Lambda_k)^{-1})
    with the hard-count version of PRML 10.60-10.63. numpy only.

    Parameters
    ----------
    X : array, shape (N, D)
    C : int
    n_iter : int
        Number of sweeps (all are returned; drop a burn-in yourself).
    seed : None, int or numpy.random.Generator
    alpha0, beta0, m0, W0, nu0
        The prior (defaults as in :func:`bayesian_gmm_prior`).
    init_z : array of int, shape (N,), optional
        Initial labels in 0..C-1; by default each point goes to the nearest of
        C random data points.

    Returns
    -------
    :class:`GibbsSamples` with S = n_iter draws.
    """
    from scipy.linalg import cho_solve, solve_triangular
    from scipy.special import logsumexp

    X = check_data(X)
    N, D = X.shape
    C = _bgmm_check_C(C, N)
    n_iter = _check_positive_int(n_iter, "n_iter")
    prior = bayesian_gmm_prior(X, C, alpha0, beta0, m0, W0, nu0)
    rng = make_rng(seed)
    if init_z is None:
        z = _bgmm_random_hard_resp(X, C, rng).argmax(axis=1)
    else:
        z = np.asarray(init_z)
        if z.shape != (N,) or z.dtype.kind not in "iu" or z.min() < 0 or z.max() >= C:
            raise ValueError(f"init_z must be an integer array of shape ({N},) with values in 0..{C - 1}")
    pis = np.empty((n_iter, C))
    mus = np.empty((n_iter, C, D))
    sigmas = np.empty((n_iter, C, D, D))
    counts_all = np.empty((n_iter, C), dtype=np.int64)
    log_liks = np.empty(n_iter)
    eye = np.eye(D)
    for s in range(n_iter):
        resp = np.zeros((N, C))
        resp[np.arange(N), z] = 1.0
        counts, weighted_sum, scatter = _bgmm_statistics(X, resp)
        pi = rng.dirichlet(prior.alpha0 + counts)
        beta, m, nu, W_inv = _bgmm_gauss_wishart_update(X, counts, weighted_sum, scatter, prior)
        prec_chol = np.empty((C, D, D))
        for k in range(C):
            W_inv_chol = np.linalg.cholesky(W_inv[k])
            W_chol = np.linalg.cholesky(cho_solve((W_inv_chol, True), eye))
            prec_chol[k] = _sample_wishart_chol(W_chol, nu[k], rng)          # Lambda_k = P P^T
            # mu_k = m_k + (beta_k Lambda_k)^{-1/2} e: solve P^T y = e, so Cov(y) = Lambda_k^{-1}
            mus[s, k] = m[k] + solve_triangular(prec_chol[k].T, rng.standard_normal(D), lower=False) / np.sqrt(beta[k])
            P_inv = solve_triangular(prec_chol[k], eye, lower=True)
            sigmas[s, k] = P_inv.T @ P_inv
        # log pi_k + log N(x_n | mu_k, Lambda_k^{-1}) through the precision Cholesky factor, (N, C)
        log_joint = np.empty((N, C))
        for k in range(C):
            y = (X - mus[s, k]) @ prec_chol[k]
            log_det = 2.0 * np.log(np.diag(prec_chol[k])).sum()
            log_joint[:, k] = -0.5 * (D * np.log(2.0 * np.pi) - log_det + np.einsum("nd,nd->n", y, y))
        with np.errstate(divide="ignore"):
            log_joint += np.log(pi)
        log_norm = logsumexp(log_joint, axis=1, keepdims=True)
        log_liks[s] = log_norm.sum()
        cdf = np.cumsum(np.exp(log_joint - log_norm), axis=1)
        z = np.minimum((cdf < rng.random(N)[:, None] * cdf[:, -1:]).sum(axis=1), C - 1)
        pis[s], counts_all[s] = pi, counts
    return GibbsSamples(pis, mus, sigmas, counts_all, log_liks, z)


def relabel_samples(samples, reference_means):
    """Undo label switching: permute each draw's components to best match ``reference_means``.

    ``samples`` a :class:`GibbsSamples` (S draws, C components);
    ``reference_means`` (C, D), e.g. a VB or EM fit. For each draw the
    permutation minimising the summed squared distances between its means and
    the reference is found (Hungarian algorithm). Returns ``(relabelled, perms)``
    with ``perms`` (S, C): component ``perms[s, k]`` of draw ``s`` becomes ``k``.
    """
    from scipy.optimize import linear_sum_assignment

    S, C, D = samples.mu.shape
    reference_means = check_means(reference_means, C, D, "reference_means")
    perms = np.empty((S, C), dtype=np.int64)
    for s in range(S):
        cost = ((reference_means[:, None, :] - samples.mu[s][None, :, :]) ** 2).sum(axis=2)
        _, perms[s] = linear_sum_assignment(cost)
    rows = np.arange(S)[:, None]
    relabelled = GibbsSamples(samples.pi[rows, perms], samples.mu[rows, perms], samples.sigma[rows, perms],
                              samples.counts[rows, perms], samples.log_likelihood, samples.z)
    return relabelled, perms


def sklearn_lower_bound_offset(prior, N, C):
    """The constant by which scikit-learn's ``BayesianGaussianMixture.lower_bound_`` differs from the full ELBO.

    scikit-learn evaluates the bound right after an M-step, where q(pi, mu,
    Lambda) is optimal for the responsibilities, and drops every term that
    depends on the prior, N, C and D only. It is a total over the N points,
    not a per-point average (unlike ``GaussianMixture.lower_bound_``). With a
    Dirichlet-distribution prior:

        full ELBO - sklearn bound = ln C(alpha0 1_C) + C (D/2) ln beta0 + C ln B(W0, nu0)
                                    - N (D/2) ln(2 pi) + C D (D - 1)/4 ln pi,

    where ln C is the Dirichlet normaliser (PRML B.23) and ln B the Wishart
    normaliser (PRML B.79); the last term is the ln pi part of ln B(W_k, nu_k)
    that scikit-learn also omits. ``prior`` a :class:`BayesianGMMPrior`.
    """
    N = _check_positive_int(N, "N")
    C = _bgmm_check_C(C, N)
    D = prior.m0.shape[0]
    return float(_dirichlet_log_norm(np.full(C, prior.alpha0)) + 0.5 * C * D * np.log(prior.beta0)
                 + C * _wishart_log_norm(prior.W0_inv_chol, prior.nu0) - 0.5 * N * D * np.log(2.0 * np.pi)
                 + 0.25 * C * D * (D - 1) * np.log(np.pi))


# =============================================================================
# 8. Self-checks and course data
# =============================================================================
# The check_* functions let a student test an exercise anywhere (Colab included):
# each runs the student's function on a few fixed cases, compares the result with
# the module's own reference computation and prints, in plain words, what is wrong
# -- the shape, the normalisation, or the first wrong value and where it is -- or
# that the function is correct. They return True or False and never raise for a
# mistake in the student's function: a stub that raises NotImplementedError is
# reported as "not implemented yet", so a notebook of exercises runs to the end.

class _CheckFailed(Exception):
    """A student's function gave a wrong answer; the message says what is wrong."""


class _NotImplementedYet(Exception):
    """A student's function raised NotImplementedError."""


_CHECK_RTOL = 1e-6
_CHECK_ATOL = 1e-8


def _check_cases(kind):
    """Fixed test cases for the self-checks, built the same way on every call.

    ``kind`` is ``"regular"`` (two well-posed mixtures with soft responsibilities)
    or ``"far"`` (points so far from every component that their densities
    underflow to zero in linear space). Each case is a dict with ``X`` (N, D),
    ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D), ``q`` (N, C) soft
    assignments that are *not* the posterior of these parameters (zeros
    included), and a ``name`` for messages. N, D and C differ, so a transposed
    result always has the wrong shape.
    """
    rng = np.random.default_rng(20191121)
    cases = []
    if kind == "regular":
        for N, D, C in ((12, 2, 3), (9, 3, 2)):
            mu = rng.normal(0.0, 2.0, size=(C, D))
            A = rng.normal(0.0, 0.5, size=(C, D, D))
            sigma = A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)
            pi = rng.uniform(0.5, 1.5, size=C)
            pi = pi / pi.sum()
            X = mu[rng.integers(0, C, size=N)] + rng.normal(0.0, 1.5, size=(N, D))
            q = rng.uniform(0.05, 1.0, size=(N, C))
            q[0] = 0.0
            q[0, -1] = 1.0                      # one hard assignment: zeros in q
            q = q / q.sum(axis=1, keepdims=True)
            cases.append({"X": X, "pi": pi, "mu": mu, "sigma": sigma, "q": q})
    elif kind == "far":
        mu = np.array([[-1.0, 0.0], [1.0, 0.5], [0.0, 3.0]])
        sigma = np.array([np.eye(2), [[0.5, 0.1], [0.1, 0.3]], [[2.0, -0.4], [-0.4, 1.0]]])
        pi = np.array([0.5, 0.3, 0.2])
        X = np.array([[0.3, 0.2], [-1.2, 1.1], [40.0, 0.0], [-55.0, 8.0], [3.0, 250.0], [1.0e3, -1.0e3],
                      [0.5, 2.0]])
        cases.append({"X": X, "pi": pi, "mu": mu, "sigma": sigma, "q": None})
    else:
        raise ValueError(f"kind must be 'regular' or 'far'; got {kind!r}")
    for k, case in enumerate(cases, start=1):
        N, D = case["X"].shape
        C = case["mu"].shape[0]
        case["name"] = f"test case {k} ({N} points, D = {D}, C = {C})"
    return cases


# The references are the library's own EM functions (section 5).

def _reference_e_step(X, pi, mu, sigma):
    """Posterior q(t_ic = 1), Eq. (6), shape (N, C): :func:`e_step` (log space)."""
    return e_step(X, pi, mu, sigma)


def _reference_m_step(X, q):
    """Eqs. (16)-(18): weights (C,), means (C, D), full covariances (C, D, D), by :func:`m_step`."""
    return m_step(X, q)


def _reference_lower_bound(X, pi, mu, sigma, q):
    """Eq. (19) with 0 log 0 = 0, by :func:`lower_bound`."""
    return lower_bound(X, pi, mu, sigma, q)


def _call_student(fn, *args):
    """Call ``fn`` on copies of ``args``; turn its exceptions into check outcomes."""
    import warnings

    copies = [np.array(a, copy=True) for a in args]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*copies)
    except NotImplementedError:
        raise _NotImplementedYet() from None
    except Exception as exc:  # the student's bug, reported instead of raised
        raise _CheckFailed(f"your function raised {type(exc).__name__}: {exc}") from None


def _as_result(value, what, case):
    """The student's result as a float array, or a _CheckFailed saying why not."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _CheckFailed(f"{what} should be an array of numbers; in {case} your function "
                           f"returned {type(value).__name__}") from None
    return arr


def _require_shape(arr, expected, what, case, meaning):
    """Raise _CheckFailed unless ``arr.shape == expected``; spot a transposed result."""
    if arr.shape == expected:
        return
    msg = f"wrong shape of {what} in {case}: expected {meaning} = {expected}, got {arr.shape}."
    if arr.ndim == 2 and arr.shape == expected[::-1]:
        msg += " It looks transposed."
    raise _CheckFailed(msg)


def _require_finite(arr, what, case, hint=""):
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = ", ".join(str(int(i)) for i in bad[0])
        raise _CheckFailed(f"NaN or infinity in {what} in {case}, first at index [{where}].{hint}")


def _first_mismatch(got, expected, what, case, index_names):
    """Raise _CheckFailed naming the worst wrong entry of ``got``, if any."""
    err = np.abs(got - expected) - (_CHECK_ATOL + _CHECK_RTOL * np.abs(expected))
    if np.all(err <= 0):
        return
    idx = np.unravel_index(int(np.argmax(err)), got.shape)
    where = ", ".join(f"{n} {int(i)}" for n, i in zip(index_names, idx))
    raise _CheckFailed(f"wrong value of {what} in {case} at {where}: expected {expected[idx]:.6g}, "
                       f"got {got[idx]:.6g}.")


def _run_check(name, fn, body):
    """Run ``body(fn)``; print the verdict of check ``name`` and return True if correct."""
    if not callable(fn):
        print(f"{name}: expected your function as the argument; got {type(fn).__name__}.")
        return False
    try:
        summary = body(fn)
    except _NotImplementedYet:
        print(f"{name}: not implemented yet -- your function raises NotImplementedError. "
              "Write its body, run its cell, then run this check again.")
        return False
    except _CheckFailed as exc:
        print(f"{name}: not correct yet -- {exc}")
        return False
    print(f"{name}: correct -- {summary}")
    return True


def _compare_responsibilities(got, expected, case, far=False):
    """Check student responsibilities against the reference (both (N, C))."""
    what = "the responsibilities q"
    got = _as_result(got, what, case)
    N, C = expected.shape
    _require_shape(got, expected.shape, what, case, "(N, C)")
    hint = ""
    if far:
        hint = (" Far from every component all densities underflow to 0, and 0/0 is NaN: compute "
                "log pi_c + log N(x_i | mu_c, Sigma_c) and normalise with log-sum-exp.")
    _require_finite(got, what, case, hint)
    rows = got.sum(axis=1)
    if np.any(np.abs(rows - 1.0) > 1e-6):
        i = int(np.argmax(np.abs(rows - 1.0)))
        if np.allclose(got.sum(axis=0), 1.0, atol=1e-6):
            raise _CheckFailed(f"in {case} each column sums to 1 instead of each row: normalise over the "
                               "components (axis=1), not over the points.")
        if np.all(got <= 0):
            raise _CheckFailed(f"in {case} all values are <= 0: these look like log responsibilities; "
                               "return q itself (np.exp of them).")
        raise _CheckFailed(f"not normalised in {case}: row {i} of q sums to {rows[i]:.6g}, expected 1. "
                           "Divide each row by its sum over the components, Eq. (6).")
    if np.any(got < -1e-12):
        i, c = np.argwhere(got < -1e-12)[0]
        raise _CheckFailed(f"{what} must be probabilities, but in {case} row {i}, component {c} is {got[i, c]:.6g}.")
    _first_mismatch(got, expected, what, case, ("row", "component"))


def check_e_step(fn):
    """Check a student's E-step, Eq. (6): ``fn(X, pi, mu, sigma)`` -> q of shape (N, C).

    ``fn`` receives ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma``
    (C, D, D) and must return the posterior responsibilities, one row per point
    summing to 1. Prints what is wrong (shape, normalisation, first wrong value
    and where) or that it is correct; returns True if correct.
    """
    def body(fn):
        cases = _check_cases("regular")
        for case in cases:
            X, pi, mu, sigma = case["X"], case["pi"], case["mu"], case["sigma"]
            got = _call_student(fn, X, pi, mu, sigma)
            _compare_responsibilities(got, _reference_e_step(X, pi, mu, sigma), case["name"])
        return f"{len(cases)} test cases match the reference to a relative {_CHECK_RTOL:g}."
    return _run_check("check_e_step", fn, body)


def check_log_e_step(fn):
    """Check a log-space E-step: ``fn(X, pi, mu, sigma)`` -> q of shape (N, C), finite for far points.

    Same contract as :func:`check_e_step` (it returns the responsibilities q,
    not their logarithms), but the test cases include points hundreds of
    standard deviations from every component, where every density underflows
    to 0 in floating point: only an E-step computed in log space (log-sum-exp)
    returns the right, finite answer there. Prints the verdict; returns True if correct.
    """
    def body(fn):
        cases = _check_cases("regular") + _check_cases("far")
        for k, case in enumerate(cases):
            X, pi, mu, sigma = case["X"], case["pi"], case["mu"], case["sigma"]
            got = _call_student(fn, X, pi, mu, sigma)
            far = k == len(cases) - 1
            name = f"test case {k + 1}" + case["name"][case["name"].index(" ("):]
            name += ", with far-away points" if far else ""
            _compare_responsibilities(got, _reference_e_step(X, pi, mu, sigma), name, far=far)
        return (f"{len(cases)} test cases, far-away points included, match the reference to a "
                f"relative {_CHECK_RTOL:g}.")
    return _run_check("check_log_e_step", fn, body)


def _unpack_m_step(result, case):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise _CheckFailed(f"your function should return three values (pi, mu, sigma); in {case} it returned {got}.")
    return result


def _check_pi_mu(pi, mu, pi_ref, mu_ref, N, case):
    C, D = mu_ref.shape
    pi = _as_result(pi, "pi", case)
    _require_shape(pi, (C,), "pi", case, "(C,)")
    _require_finite(pi, "pi", case)
    if abs(pi.sum() - 1.0) > 1e-6:
        extra = " -- it sums to N: divide N_c by N" if abs(pi.sum() - N) < 1e-6 * N else ""
        raise _CheckFailed(f"pi must sum to 1 in {case}; it sums to {pi.sum():.6g}{extra}. See Eq. (16).")
    _first_mismatch(pi, pi_ref, "pi (Eq. (16))", case, ("component",))
    mu = _as_result(mu, "mu", case)
    _require_shape(mu, (C, D), "mu", case, "(C, D)")
    _require_finite(mu, "mu", case)
    _first_mismatch(mu, mu_ref, "mu (Eq. (17))", case, ("component", "dimension"))


def _covariance_hint(got, X, q, mu_ref, Nc, diagonal):
    """Name a common covariance mistake that ``got`` matches, or return ''."""
    weighted = np.einsum("nc,cnd,cne->cde", q, X[None] - mu_ref[:, None], X[None] - mu_ref[:, None])
    uncentred = np.einsum("nc,nd,ne->cde", q, X, X) / Nc[:, None, None]
    variants = {
        "Eq. (18) divides by N_c = sum_i q_ic, not by N_c - 1": weighted / (Nc - 1.0)[:, None, None],
        "Eq. (18) divides by N_c = sum_i q_ic, not by N": weighted / X.shape[0],
        "Eq. (18) divides by N_c = sum_i q_ic; you did not divide": weighted,
        "centre the points at the new mean mu_c before taking the outer products": uncentred,
    }
    for hint, wrong in variants.items():
        if diagonal:
            wrong = np.diagonal(wrong, axis1=1, axis2=2)
        if got.shape == wrong.shape and np.allclose(got, wrong, rtol=1e-6, atol=1e-8):
            return " Hint: " + hint + "."
    return ""


def _m_step_body(fn, diagonal):
    cases = _check_cases("regular")
    for case in cases:
        X, q, name = case["X"], case["q"], case["name"]
        N, D = X.shape
        C = q.shape[1]
        pi_ref, mu_ref, sigma_ref = _reference_m_step(X, q)
        pi, mu, sigma = _unpack_m_step(_call_student(fn, X, q), name)
        _check_pi_mu(pi, mu, pi_ref, mu_ref, N, name)
        sigma = _as_result(sigma, "sigma", name)
        _require_finite(sigma, "sigma", name)
        Nc = q.sum(axis=0)
        if diagonal:
            if sigma.shape == (C, D, D):
                off = sigma * (1.0 - np.eye(D))
                if np.any(np.abs(off) > 1e-12):
                    c, d, e = np.argwhere(np.abs(off) > 1e-12)[0]
                    raise _CheckFailed(f"sigma must be diagonal in {name}, but sigma[{c}][{d}, {e}] = "
                                       f"{sigma[c, d, e]:.6g}; keep only the variances of each dimension.")
                sigma = np.diagonal(sigma, axis1=1, axis2=2)
            _require_shape(sigma, (C, D), "sigma", name, "(C, D) variances or (C, D, D) diagonal matrices")
            ref = np.diagonal(sigma_ref, axis1=1, axis2=2)
            index_names = ("component", "dimension")
        else:
            _require_shape(sigma, (C, D, D), "sigma", name, "(C, D, D)")
            ref = sigma_ref
            index_names = ("component", "row", "column")
        try:
            _first_mismatch(sigma, ref, "sigma (Eq. (18))", name, index_names)
        except _CheckFailed as exc:
            raise _CheckFailed(str(exc) + _covariance_hint(sigma, X, q, mu_ref, Nc, diagonal)) from None
    return f"pi, mu and sigma match Eqs. (16)-(18) in {len(cases)} test cases (relative {_CHECK_RTOL:g})."


def check_m_step(fn):
    """Check a student's M-step, Eqs. (16)-(18): ``fn(X, q)`` -> (pi, mu, sigma).

    ``fn`` receives ``X`` (N, D) and soft assignments ``q`` (N, C) and must
    return ``pi`` (C,), ``mu`` (C, D) and full covariances ``sigma`` (C, D, D).
    Prints what is wrong (which parameter, shape, value and where, and a hint
    for common covariance mistakes) or that it is correct; returns True if correct.
    """
    return _run_check("check_m_step", fn, lambda f: _m_step_body(f, diagonal=False))


def check_m_step_diagonal(fn):
    """Check a diagonal-covariance M-step: ``fn(X, q)`` -> (pi, mu, sigma).

    As :func:`check_m_step`, but each covariance is restricted to be diagonal:
    the maximiser keeps the diagonal of Eq. (18), the responsibility-weighted
    variance of each dimension. ``sigma`` may be returned as (C, D) variances or
    as (C, D, D) diagonal matrices. Prints the verdict; returns True if correct.
    """
    return _run_check("check_m_step_diagonal", fn, lambda f: _m_step_body(f, diagonal=True))


def check_lower_bound(fn):
    """Check a student's lower bound, Eq. (19): ``fn(X, pi, mu, sigma, q)`` -> a number.

    ``q`` (N, C) may contain exact zeros, whose terms count as 0 (0 log 0 = 0).
    The cases use both arbitrary soft assignments and the exact posterior (for
    which the bound equals the log likelihood, Eq. (13)). Prints what is wrong
    or that it is correct; returns True if correct.
    """
    def body(fn):
        cases = _check_cases("regular")
        n = 0
        for case in cases:
            X, pi, mu, sigma = case["X"], case["pi"], case["mu"], case["sigma"]
            for label, q in (("soft assignments with zeros", case["q"]),
                             ("the posterior", _reference_e_step(X, pi, mu, sigma))):
                name = f"{case['name']} with q = {label}"
                got = _as_result(_call_student(fn, X, pi, mu, sigma, q), "the lower bound", name)
                if got.ndim != 0 and got.size != 1:
                    raise _CheckFailed(f"the lower bound should be one number; in {name} your function returned "
                                       f"shape {got.shape}. Sum over points and components.")
                got = float(got.reshape(()))
                if not np.isfinite(got):
                    raise _CheckFailed(f"the lower bound is {got} in {name}. Terms with q = 0 contribute 0 "
                                       "(0 log 0 = 0): guard log q, e.g. with scipy.special.xlogy.")
                expected = _reference_lower_bound(X, pi, mu, sigma, q)
                if abs(got - expected) > _CHECK_ATOL + _CHECK_RTOL * abs(expected):
                    from scipy.special import xlogy

                    entropy = -float(np.sum(xlogy(q, q)))
                    msg = f"wrong value in {name}: expected {expected:.6f}, got {got:.6f}."
                    if abs(got - (expected - entropy)) < 1e-6 * max(1.0, abs(expected)):
                        msg += " Hint: the - log q(t_ic = 1) term of Eq. (19) is missing."
                    elif abs(got - (expected - 2 * entropy)) < 1e-6 * max(1.0, abs(expected)):
                        msg += " Hint: the log q term has the wrong sign; Eq. (19) subtracts it."
                    elif abs(got - expected / X.shape[0]) < 1e-6 * max(1.0, abs(expected)):
                        msg += " Hint: Eq. (19) is a sum over the points, not a mean."
                    raise _CheckFailed(msg)
                n += 1
        return f"{n} test cases match Eq. (19) to a relative {_CHECK_RTOL:g}."
    return _run_check("check_lower_bound", fn, body)


def read_book_file(relative_path):
    """Bytes of a file of the book's repository, e.g. ``"benchmarks/results/scale.md"``, or None.

    Looked up next to this module and under ``$LVM_BOOK_ROOT`` (a checkout);
    a notebook running alone (as in Colab) downloads it from
    ``$LVM_BOOK_BASE_URL``, set by the set-up cell. Returns None when the file
    cannot be had, so that a chapter can say so instead of failing.
    """
    import os
    from pathlib import Path

    if not isinstance(relative_path, str) or not relative_path or relative_path.startswith("/"):
        raise ValueError(f"relative_path must be a path inside the repository; got {relative_path!r}")
    roots = [Path(__file__).resolve().parent]
    if os.environ.get("LVM_BOOK_ROOT"):
        roots.append(Path(os.environ["LVM_BOOK_ROOT"]))
    for root in roots:
        if (root / relative_path).is_file():
            return (root / relative_path).read_bytes()
    base = os.environ.get("LVM_BOOK_BASE_URL")
    if not base:
        return None
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/{relative_path}", timeout=20) as response:
            return response.read()
    except OSError:
        return None


def benchmark_markdown(relative_path):
    """A stored benchmark result (Markdown) ready to display in a chapter, or None.

    Reads ``relative_path`` with :func:`read_book_file`, drops the file's
    title line and turns its ``##`` sub-headings into bold lines, so that the
    tables sit under the chapter's own headings.
    """
    raw = read_book_file(relative_path)
    if raw is None:
        return None
    lines = [line for line in raw.decode().splitlines() if not line.startswith("# ")]
    return "\n".join(f"**{line[3:]}**" if line.startswith("## ") else line for line in lines)


def load_faithful():
    """The Old Faithful eruptions: an array of shape (272, 2), columns (eruption minutes, waiting minutes).

    Read from ``book/data/faithful.csv`` next to this module, or under
    ``$LVM_BOOK_ROOT``; a notebook running alone (as in Colab, where the set-up
    cell downloaded this module and set ``LVM_BOOK_BASE_URL``) downloads
    ``$LVM_BOOK_BASE_URL/book/data/faithful.csv`` once into the working folder.
    Raises ``RuntimeError`` saying where it looked if none of these works.
    See ``book/data/README.md`` for the source and licence.
    """
    import os
    from pathlib import Path

    relative = Path("book") / "data" / "faithful.csv"
    candidates = [Path(__file__).resolve().parent / relative]
    if os.environ.get("LVM_BOOK_ROOT"):
        candidates.append(Path(os.environ["LVM_BOOK_ROOT"]) / relative)
    candidates.append(Path.cwd() / "faithful.csv")
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        base = os.environ.get("LVM_BOOK_BASE_URL")
        if not base:
            raise RuntimeError("faithful.csv not found (looked in " + ", ".join(map(str, candidates))
                               + ") and LVM_BOOK_BASE_URL is not set; run the notebook's set-up cell first.")
        import urllib.request

        url = f"{base.rstrip('/')}/{relative.as_posix()}"
        path = candidates[-1]
        try:
            urllib.request.urlretrieve(url, path)
        except OSError as exc:
            raise RuntimeError(f"Could not download the Old Faithful data from {url} ({exc}). Check the "
                               "internet connection, or put faithful.csv next to this notebook.") from None
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    if data.shape != (272, 2):
        raise RuntimeError(f"{path} should hold 272 rows of 2 columns; got shape {data.shape}")
    return data

#: Button icons of matplotlib's JavaScript animation player, as plain characters, so
#: the player needs no icon font from a CDN (see :func:`animation_html`).
_PLAYER_ICONS = {
    "fa fa-minus": "\u2212", "fa fa-fast-backward": "|\u25c0\u25c0", "fa fa-step-backward": "|\u25c0",
    "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "\u275a\u275a", "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u25b6|", "fa fa-fast-forward": "\u25b6\u25b6|", "fa fa-plus": "+",
}


def animation_html(animation, name="anim", alt="", **jshtml_kwargs):
    """A matplotlib animation as self-contained HTML that plays offline and is the same every run.

    Wraps ``animation.to_jshtml(**jshtml_kwargs)`` (frames embedded as base64
    PNGs, plain JavaScript player) and removes its two dependencies on the
    outside world: the Font Awesome stylesheet it links from a CDN (its button
    icons become plain characters) and the random id of each call (replaced
    by ``name``, which must be unique on the page: letters, digits, ``_``).
    ``alt`` describes the animation for screen readers (the ``alt`` text of
    its image). The frames are rendered at the figure's own dpi (not ``savefig.dpi``),
    so a small figure gives a small page. Raises ``ValueError`` if the result
    still refers to any web address.
    """
    import re

    import matplotlib as mpl

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"name must be an identifier (letters, digits, _); got {name!r}")
    with mpl.rc_context({"savefig.dpi": "figure"}):
        html = animation.to_jshtml(**jshtml_kwargs)
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*"\s*/?>\s*', "", html)
    for icon, text in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', text)
    ids = set(re.findall(r"_anim_img([0-9a-f]{32})", html))
    if len(ids) != 1:
        raise ValueError("animation_html: unexpected output of to_jshtml (matplotlib changed its template?)")
    html = html.replace(ids.pop(), f"_{name}")
    if alt:
        from html import escape

        html = html.replace(f'<img id="_anim_img_{name}">', f'<img id="_anim_img_{name}" alt="{escape(alt)}">', 1)
    leftover = re.search(r"https?://\S+", html)
    if leftover or "fa fa-" in html:
        raise ValueError(f"animation_html: the player still refers to {leftover.group(0) if leftover else 'an icon font'}")
    return html


# =============================================================================
# 9. EM at scale
# =============================================================================
#
# One EM iteration is a map-reduce: each block of rows is turned into the
# sufficient statistics of section 6 (`sufficient_statistics`), the blocks'
# statistics are summed (they are sums over rows, so any grouping gives the same
# total), and the M-step (`m_step_from_stats`) needs nothing else. This section
# runs that map-reduce on Dask -- a NumPy array, a dask.array chunked along the
# rows, the default local scheduler or a distributed Client -- and adds a seeded
# data generator that never holds the data in memory, and online (stepwise) EM.
# Dask is imported inside the functions only.

#: Rows in one "atom" of `mixture_dask_array`: the unit that owns a random seed.
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


def _check_mixture_params(pi, mu, sigma, n_features=None):
    """Validate mixture parameters together; return ``(pi, mu, sigma, chol)``.

    ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D); ``n_features`` is the D of
    the data when known. Raises ValueError naming the offending argument.
    """
    mu = check_means(mu, None, n_features, "mu")
    C, D = mu.shape
    pi = check_weights(pi, C, "pi")
    sigma, chol = check_covariances(sigma, C, D, "sigma")
    return pi, mu, sigma, chol


def _unpack_init(init_params, n_features):
    """Read starting parameters given as ``(pi, mu, sigma)``, a mapping or an object with those attributes."""
    if isinstance(init_params, dict):
        try:
            pi, mu, sigma = init_params["pi"], init_params["mu"], init_params["sigma"]
        except KeyError as exc:
            raise ValueError(f"init_params must have keys 'pi', 'mu' and 'sigma'; missing {exc}") from None
    elif all(hasattr(init_params, a) for a in ("pi", "mu", "sigma")):
        pi, mu, sigma = init_params.pi, init_params.mu, init_params.sigma
    else:
        try:
            pi, mu, sigma = init_params
        except (TypeError, ValueError):
            raise ValueError("init_params must be (pi, mu, sigma), a dict with those keys, "
                             "or an object with those attributes") from None
    return _check_mixture_params(pi, mu, sigma, n_features)


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
    """
    dask, da = _import_dask()
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if pi is None and mu is None and sigma is None:
        pi, mu, sigma = pi_true, mu_true, sigma_true
    elif pi is None or mu is None or sigma is None:
        raise ValueError("pass all of pi, mu and sigma, or none of them for the book's mixture")
    pi, mu, sigma, chol = _check_mixture_params(pi, mu, sigma)
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

class _NonFinite:
    """Marker that travels up the reduction tree instead of statistics: which chunks hold NaN/inf."""

    def __init__(self, bad):
        self.bad = tuple(bad)   # ((chunk index, number of non-finite values), ...)


def _block_statistics(block, pi, mu, chol, index):
    """Map step: one chunk (n_b, D) -> SuffStats about ``mu``, or a _NonFinite marker, or None if empty."""
    block = np.asarray(block, dtype=np.float64)
    if block.shape[0] == 0:
        return None
    n_bad = block.size - int(np.count_nonzero(np.isfinite(block)))
    if n_bad:
        return _NonFinite([(index, n_bad)])
    return sufficient_statistics(block, pi, mu, chol)   # Equations (6), (16)-(18) numerators


def _combine_statistics(*parts):
    """Reduce step: add SuffStats (sums over rows), in the order given; markers win over sums."""
    bad = [b for p in parts if isinstance(p, _NonFinite) for b in p.bad]
    if bad:
        return _NonFinite(bad)
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
    """
    dask, da = _import_dask()
    if _is_dask_array(X):
        _check_dask_data(X)
        return X
    X = check_data(X, "X")
    if chunk_size is None:
        chunk_size = max(1, (64 * 2**20) // (8 * X.shape[1]))
    if not isinstance(chunk_size, numbers.Integral) or chunk_size <= 0:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}")
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
    if isinstance(total, _NonFinite):
        where = ", ".join(f"chunk {i} ({k} values)" for i, k in total.bad[:5])
        raise ValueError(f"X must hold only finite values; found NaN or infinity in {where}"
                         + (" and more" if len(total.bad) > 5 else ""))
    return total


def fit_gmm_dask(X, init_params, max_iter=100, tol=1e-6, reg_covar=0.0, client=None,
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
    init_params : (pi, mu, sigma) with shapes (C,), (C, D), (C, D, D), or a dict or
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
    """
    import warnings

    was_numpy = not _is_dask_array(X)
    X = as_row_chunked(X, chunk_size)
    N, D = X.shape
    pi, mu, sigma, chol = _unpack_init(init_params, D)
    max_iter = _check_positive_int(max_iter, "max_iter")
    for name, value in (("tol", tol), ("reg_covar", reg_covar)):
        if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None; got {type(callback).__name__}")
    if persist is None:
        persist = was_numpy and client is not None
    if persist:
        X = client.persist(X) if client is not None else X.persist()

    stats = em_pass(X, pi, mu, chol, client, split_every)          # E-step at the start
    history = [float(stats.log_likelihood)]
    if callback is not None:
        callback(0, 0, history[-1], pi, mu, sigma)
    n_iter, converged = 0, False
    while n_iter < max_iter:
        pi, mu, sigma, chol = m_step_from_stats(stats, reg_covar)  # Equations (16)-(18)
        n_iter += 1
        stats = em_pass(X, pi, mu, chol, client, split_every)      # Equation (6) and (9), one pass
        history.append(float(stats.log_likelihood))
        if callback is not None:
            callback(0, n_iter, history[-1], pi, mu, sigma)
        if abs(history[-1] - history[-2]) / N < tol:
            converged = True
            break
    if not converged:
        warnings.warn(EMConvergenceWarning(
            f"EM did not converge in max_iter = {max_iter} M-steps: the last change of the log-likelihood "
            f"per point was {abs(history[-1] - history[-2]) / N:.3g} >= tol = {tol:g}; increase max_iter or tol"),
            stacklevel=2)
    return GMMFit(pi, mu, sigma, chol, history[-1], history, n_iter, converged, 0, [history[-1]])


# --- online (stepwise) EM -----------------------------------------------------

def _recenter(stats, center):
    """The same sums taken about a new reference point ``center`` (C, D) instead of ``stats.center``.

    With x - m' = (x - m) + d and d = m - m':  sum q (x - m') = sum_qx + sum_q d, and
    sum q (x - m')(x - m')^T = sum_qxx + sum_qx d^T + d sum_qx^T + sum_q d d^T.
    """
    d = np.asarray(stats.center) - center
    sq, sx = stats.sum_q, stats.sum_qx
    sum_qx = sx + sq[:, None] * d
    sum_qxx = (stats.sum_qxx + np.einsum("ci,cj->cij", sx, d) + np.einsum("ci,cj->cij", d, sx)
               + sq[:, None, None] * np.einsum("ci,cj->cij", d, d))
    return SuffStats(n=stats.n, sum_q=sq, sum_qx=sum_qx, sum_qxx=sum_qxx,
                     log_likelihood=stats.log_likelihood, center=np.array(center, dtype=float))


def _stepwise_update(running, batch, gamma):
    """s_k = (1 - gamma) s_{k-1} + gamma * (batch sums / batch size), both about the batch's center.

    ``running`` holds statistics per point (n = 1); the result does too.
    """
    running = _recenter(running, batch.center)
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
    """
    if not isinstance(n_steps, numbers.Integral) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer; got {n_steps!r}")
    if not (0.5 < kappa <= 1.0):
        raise ValueError(f"kappa must lie in (0.5, 1]; got {kappa!r}")
    if not (np.isfinite(k0) and k0 >= 0):
        raise ValueError(f"k0 must be a non-negative number; got {k0!r}")
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


def online_em(X, init_params, batch_size=1_000, n_epochs=1, kappa=0.6, k0=10.0, reg_covar=1e-6,
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
    init_params : (pi, mu, sigma) or dict/object with those names
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
    """
    if _is_dask_array(X):
        _import_dask()
        _check_dask_data(X)
    else:
        X = check_data(X, "X")
    N, D = X.shape
    pi, mu, sigma, chol = _unpack_init(init_params, D)
    if not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if not isinstance(n_epochs, numbers.Integral) or n_epochs <= 0:
        raise ValueError(f"n_epochs must be a positive integer; got {n_epochs!r}")
    step_sizes(0, kappa, k0)   # validates kappa and k0
    if not (np.isfinite(reg_covar) and reg_covar >= 0):
        raise ValueError(f"reg_covar must be a non-negative number; got {reg_covar!r}")
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


# --- results and progress -------------------------------------------------------

def print_progress(restart, iteration, log_likelihood, pi, mu, sigma):
    """A ready-made progress callback for :func:`fit_gmm` and :func:`fit_gmm_dask`: one line per iteration."""
    print(f"restart {restart}, iteration {iteration:4d}: log-likelihood {log_likelihood:.6f}", flush=True)


@dataclass(frozen=True)
class OnlineFit:
    """Result of :func:`online_em`: final parameters and per-step traces (each shape (n_steps,))."""

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    n_steps: int
    points_seen: np.ndarray
    mean_log_likelihood: np.ndarray
    step_size: np.ndarray

