"""The book's one figure style (``BOOK_STYLE``, ``set_book_style``), component colours, the
article's plotting helpers ``plot_data``, ``plot_densities`` and ``plot_gmm_plate`` (chapter 1
(01_latent_variables_and_mle)), and ``animation_html``, which turns a matplotlib animation into
HTML that plays offline (chapter 6 (06_em_in_pictures)). Every helper draws on ``ax=`` when given.
"""

from __future__ import annotations

import numbers

import numpy as np

from .densities import _gaussian_logpdf_chol
from .validation import validate_covariances, validate_data, validate_means, validate_positive_int, validate_responsibilities

__all__ = [
    "BOOK_STYLE", "set_book_style", "component_colors", "soft_assignment_colors", "plot_data",
    "plot_densities", "plot_gmm_plate", "animation_html",
]


BOOK_STYLE = {
    "figure.figsize": (6.4, 4.8),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    # Sizes chosen for the page: at 100 dpi a 6.4-inch figure is shown 1:1 in the
    # desktop column, and tick labels stay legible when a phone shrinks it by half.
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    # A legend that must sit on the data keeps it readable behind a light box.
    "legend.framealpha": 0.85,
    "legend.edgecolor": "0.85",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": True,
    "image.cmap": "viridis",
    "svg.hashsalt": "lvm-book",
}

#: Colours of mixture components, in order (colour-blind friendly, from matplotlib's tab10).
_COMPONENT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def set_book_style():
    """Apply the book's figure style (``BOOK_STYLE``) to matplotlib.

    Chapter 1 (01_latent_variables_and_mle); every chapter calls it.
    """
    import matplotlib as mpl

    mpl.rcParams.update(BOOK_STYLE)


def component_colors(n_components):
    """RGB colours for ``n_components`` components, shape ``(C, 3)``.

    The first ten are distinct; beyond ten they are spread over a colour map.

    Chapter 1 (01_latent_variables_and_mle).
    """
    from matplotlib.colors import to_rgb

    n_components = validate_positive_int(n_components, "n_components")
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

    Chapter 1 (01_latent_variables_and_mle).
    """
    q = validate_responsibilities(q)
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

    Chapter 1 (01_latent_variables_and_mle).
    """
    X = validate_data(X)
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

    Chapter 1 (01_latent_variables_and_mle).
    """
    X = validate_data(X)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns to be plotted; got shape {X.shape}")
    mu = validate_means(mu, None, 2)
    C = mu.shape[0]
    sigma, chol = validate_covariances(sigma, C, 2)
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

    Chapter 1 (01_latent_variables_and_mle), the latent-variable model of equation (3).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    validate_positive_int(dpi, "dpi")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.6))
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

    Chapter 6 (06_em_in_pictures).
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
