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

Shapes follow one convention throughout: ``N`` observations, ``D`` dimensions,
``C`` mixture components; ``X`` is ``(N, D)``, ``pi`` is ``(C,)``, ``mu`` is
``(C, D)``, ``sigma`` is ``(C, D, D)`` and soft assignments ``q`` are ``(N, C)``.

Only numpy is imported when the module loads; scipy and matplotlib are
imported inside the functions that need them.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    # data
    "n_true", "mu_true", "sigma_true", "pi_true", "generate_data",
    # densities
    "gaussian_logpdf", "gmm_log_density", "gmm_density",
    # plotting
    "BOOK_STYLE", "set_book_style", "component_colors", "soft_assignment_colors",
    "plot_data", "plot_densities", "plot_gmm_plate",
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
