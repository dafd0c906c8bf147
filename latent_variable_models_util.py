"""Helpers for the book *Latent variable models: Gaussian mixture models and the EM algorithm*.

Every chapter imports this one module (``import latent_variable_models_util as lvm``). It is a
facade: the code lives in the package ``lvmbook``, one module per concept, and this file
re-exports each module's public names (its ``__all__``). It keeps the public names of the helper
module that accompanied the original article -- ``n_true``, ``mu_true``, ``sigma_true``,
``generate_data``, ``plot_data``, ``plot_densities``, ``plot_gmm_plate`` and the article's EM
(``e_step``, ``m_step``, ``lower_bound``, ``random_init_params``, ``train``) -- so notebooks
written for the article run against it unchanged, and it adds what the book needs on top.

Where each name lives (and the chapter that develops it is named in each docstring):

- ``lvmbook.validation`` -- ``validate_*`` argument checks and ``make_rng``.
- ``lvmbook.data`` -- the article's mixture and sampler, Old Faithful, ``match_components``.
- ``lvmbook.densities`` -- Gaussian and mixture densities, equations (2) and (4).
- ``lvmbook.plotting`` -- the one figure style, the plotting helpers, ``animation_html``.
- ``lvmbook.article_em`` -- the article's EM, equations (6) and (16)-(19).
- ``lvmbook.suffstats`` -- summable sufficient statistics and the one-pass log-space E-step.
- ``lvmbook.fast_em`` -- ``fit_gmm``: exact, robust and fast EM with restarts.
- ``lvmbook.model_selection`` -- ``n_free_parameters``, ``bic``, ``aic``.
- ``lvmbook.conjugate_prior``, ``lvmbook.variational``, ``lvmbook.gibbs`` -- the Bayesian GMM.
- ``lvmbook.map_em`` -- EM for the maximum a posteriori fit.
- ``lvmbook.convergence`` -- how fast EM converges, and SQUAREM.
- ``lvmbook.self_checks`` -- ``check_*`` functions that grade a learner's exercises.
- ``lvmbook.book_files`` -- stored benchmark results and their tables.
- ``lvmbook.dask_em``, ``lvmbook.online_em`` -- EM at scale.

Shapes follow one convention: ``N`` observations, ``D`` dimensions, ``C`` components; ``X`` is
``(N, D)``, ``pi`` ``(C,)``, ``mu`` ``(C, D)``, ``sigma`` ``(C, D, D)`` and the
responsibilities ``q`` ``(N, C)``. numpy is imported when the package loads; scipy, matplotlib
and Dask are imported inside the functions that need them (``lvmbook.map_em`` imports scipy).
"""

import importlib as _importlib

from lvmbook.article_em import *  # noqa: F403
from lvmbook.book_files import *  # noqa: F403
from lvmbook.conjugate_prior import *  # noqa: F403
from lvmbook.convergence import *  # noqa: F403
from lvmbook.dask_em import *  # noqa: F403
from lvmbook.data import *  # noqa: F403
from lvmbook.densities import *  # noqa: F403
from lvmbook.fast_em import *  # noqa: F403
from lvmbook.gibbs import *  # noqa: F403
from lvmbook.map_em import *  # noqa: F403
from lvmbook.model_selection import *  # noqa: F403
from lvmbook.online_em import *  # noqa: F403
from lvmbook.plotting import *  # noqa: F403
from lvmbook.self_checks import *  # noqa: F403
from lvmbook.suffstats import *  # noqa: F403
from lvmbook.validation import *  # noqa: F403
from lvmbook.variational import *  # noqa: F403

#: The modules whose public names this facade re-exports, in the order of the book.
MODULES = tuple(_importlib.import_module(f"lvmbook.{name}") for name in (
    "validation", "data", "densities", "plotting", "article_em", "suffstats", "fast_em", "model_selection",
    "conjugate_prior", "variational", "gibbs", "map_em", "convergence", "self_checks", "book_files", "dask_em",
    "online_em"))

__all__ = list(dict.fromkeys(name for module in MODULES for name in module.__all__))
