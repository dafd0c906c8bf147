"""The library of the book *Latent variable models: Gaussian mixture models and the EM algorithm*.

One module per concept, each naming the chapter that develops it: ``validation`` (argument
checks), ``data`` (the article's mixture, Old Faithful, matching components), ``densities``,
``plotting`` (the one figure style, animation), ``article_em`` (the article's EM), ``suffstats``
and ``fast_em`` (exact, robust and fast EM), ``model_selection`` (BIC, AIC), ``conjugate_prior``,
``variational`` and ``gibbs`` (the Bayesian GMM), ``map_em`` (MAP EM), ``convergence`` (rates and
acceleration of EM), ``self_checks`` (grading a learner's exercises), ``book_files`` (stored
results), ``dask_em`` and ``online_em`` (EM at scale). Chapters import the whole public API through
the facade ``latent_variable_models_util`` (``import latent_variable_models_util as lvm``).
Importing this package imports nothing else: each module is loaded when first imported.
"""
