# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: hw2_choosing_components
# init_cell: false
# check_all_cell: false
# export_cell: false
# requirements: requirements.txt
# run_tests: true
# generate:
#   show_stdout: true
#   show_hidden: false
# tests:
#   ok_format: false

# %% [markdown]
# # Homework 2 — How many components? BIC, held-out likelihood, variational Bayes (10 points)
#
# How many clusters are in Fisher's Iris measurements (150 flowers, $D = 4$)? The
# likelihood of the training data always grows with $C$, so it cannot answer. You
# implement three answers that the book develops in chapters 4 and 11: the Bayesian
# information criterion, the likelihood of held-out points, and variational Bayes,
# which switches unneeded components off.
#
# **Rules.** You may use scikit-learn's `GaussianMixture` and
# `BayesianGaussianMixture` (any version from 1.6 on), but not `GaussianMixture.bic`
# or `.aic` inside your functions: you write the criterion yourself, and the tests
# compare it with scikit-learn's. Replace every `...`; keep the names and arguments.
# After each question a *self-check* cell runs the public tests; the grader runs them
# again plus hidden tests on other data.
#
# **Handing in.** Run every cell from the top (*Runtime → Run all* in Colab), then
# download the notebook (*File → Download → Download .ipynb*) and hand it in. The
# grader runs it from the top in a fresh kernel: code that only works when cells run in
# another order loses points.

# %%
import numpy as np
from sklearn.datasets import load_iris
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.model_selection import KFold

# %%
# SELF-CHECK RUNNER

# %%
X = load_iris().data
print("Iris:", X.shape)

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2
# check_cell: false

# %% [markdown]
# ## Question 1 — counting free parameters (2 points)
#
# Write `n_parameters(C, D, covariance_type)` that returns $k_C$, the number of free
# parameters of a mixture of $C$ Gaussians in dimension $D$, for `covariance_type` equal
# to `"full"` (a symmetric $D \times D$ matrix per component) or `"diag"` (a diagonal
# per component). Remember that the weights sum to one. Raise a `ValueError` naming the
# argument for any other `covariance_type`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def n_parameters(C, D, covariance_type="full"):
    """Number of free parameters k_C of a C-component Gaussian mixture in D dimensions."""
    # BEGIN SOLUTION
    if covariance_type == "full":
        per_cov = D * (D + 1) // 2
    elif covariance_type == "diag":
        per_cov = D
    else:
        raise ValueError(
            f"covariance_type must be 'full' or 'diag', got {covariance_type!r}"
        )
    return (C - 1) + C * D + C * per_cov
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_n_parameters_one_gaussian(n_parameters):
    assert n_parameters(1, 2, "full") == 5, (
        "one Gaussian in 2-D has 2 mean + 3 covariance parameters"
    )
    assert n_parameters(1, 3, "diag") == 6, (
        "one diagonal Gaussian in 3-D has 3 + 3 parameters"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_n_parameters_mixtures(n_parameters):
    for C, D, kind in [(3, 4, "full"), (5, 2, "full"), (4, 3, "diag"), (2, 10, "full")]:
        per_cov = D * (D + 1) // 2 if kind == "full" else D
        want = C - 1 + C * D + C * per_cov
        got = n_parameters(C, D, kind)
        if got == want + 1:
            raise AssertionError(
                "the C weights sum to one, so they have C - 1 free parameters, not C"
            )
        assert got == want, (
            f"n_parameters({C}, {D}, {kind!r}) should be {want}, got {got}"
        )
    try:
        n_parameters(2, 2, "spherical-ish")
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown covariance_type must raise ValueError")


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 3
# check_cell: false

# %% [markdown]
# ## Question 2 — BIC (3 points)
#
# Write `bic(X, gmm)` for a fitted `GaussianMixture` `gmm`:
#
# $$\mathrm{BIC} = -2 \log p(\mathbf{X} \mid \hat{\boldsymbol{\theta}}) + k_C \log N,$$
#
# where $\log p(\mathbf{X} \mid \hat{\boldsymbol{\theta}}) = \sum_i \log
# p(\mathbf{x}_i \mid \hat{\boldsymbol{\theta}})$. Careful: `gmm.score(X)` is the
# *average* log-likelihood per point. Use your `n_parameters` with
# `gmm.n_components`, the dimension of `X` and `gmm.covariance_type`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def bic(X, gmm):
    """Bayesian information criterion of a fitted GaussianMixture on X (N, D)."""
    # BEGIN SOLUTION
    N, D = X.shape
    log_likelihood = gmm.score(X) * N
    k = n_parameters(gmm.n_components, D, gmm.covariance_type)
    return -2.0 * log_likelihood + k * np.log(N)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_bic_matches_scikit_learn_on_iris(bic, X):
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    got = bic(X, gmm)
    assert abs(got - gmm.bic(X)) < 1e-6 * abs(gmm.bic(X)), (
        f"BIC {got} differs from scikit-learn's {gmm.bic(X)}"
    )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_bic_total_log_likelihood_and_diag(bic):
    import numpy as np
    from sklearn.mixture import GaussianMixture

    r = np.random.default_rng(5)
    Xh = np.vstack([r.normal(size=(60, 3)), r.normal(size=(40, 3)) + 4.0])
    for kind, C in [("diag", 3), ("full", 2)]:
        gmm = GaussianMixture(C, covariance_type=kind, random_state=1).fit(Xh)
        got, want = bic(Xh, gmm), gmm.bic(Xh)
        penalty = want + 2 * gmm.score(Xh) * len(Xh)  # k_C log N
        mean_version = -2 * gmm.score(Xh) + penalty
        if np.isclose(got, mean_version):
            raise AssertionError(
                "BIC uses the mean log-likelihood gmm.score(X); it needs the total, "
                "N * gmm.score(X)"
            )
        assert np.isclose(got, want, rtol=1e-8), (
            f"BIC for covariance_type={kind!r} is {got}, expected {want}"
        )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 3
# check_cell: false

# %% [markdown]
# ## Question 3 — held-out log-likelihood (3 points)
#
# (a) Write `heldout_log_likelihood(X_train, X_test, C, seed)` that fits
# `GaussianMixture(n_components=C, covariance_type="full", n_init=3,
# random_state=seed)` to `X_train` and returns the **average log-likelihood per point
# of `X_test`**.
#
# (b) Write `choose_c_by_cross_validation(X, C_values, n_splits, seed)` that splits `X`
# with `KFold(n_splits, shuffle=True, random_state=seed)`, averages
# `heldout_log_likelihood(train, test, C, seed)` over the folds for each `C`, and
# returns `(best_C, scores)` with `scores` a list of the averages, one per entry of
# `C_values`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def heldout_log_likelihood(X_train, X_test, C, seed):
    """Average log-likelihood per point of X_test under a C-component fit to X_train."""
    # BEGIN SOLUTION
    gmm = GaussianMixture(
        n_components=C, covariance_type="full", n_init=3, random_state=seed
    )
    return float(gmm.fit(X_train).score(X_test))
    # END SOLUTION


def choose_c_by_cross_validation(X, C_values, n_splits, seed):
    """The C with the best mean held-out log-likelihood, and the mean score of each C."""
    # BEGIN SOLUTION
    folds = list(KFold(n_splits, shuffle=True, random_state=seed).split(X))
    scores = [
        float(
            np.mean([heldout_log_likelihood(X[tr], X[te], C, seed) for tr, te in folds])
        )
        for C in C_values
    ]
    return C_values[int(np.argmax(scores))], scores
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_heldout_scores_the_test_points(heldout_log_likelihood, X):
    from sklearn.mixture import GaussianMixture

    train, test = X[::2], X[1::2]
    got = heldout_log_likelihood(train, test, 2, 0)
    gmm = GaussianMixture(2, covariance_type="full", n_init=3, random_state=0).fit(
        train
    )
    if abs(got - gmm.score(train)) < 1e-9 and abs(got - gmm.score(test)) > 1e-6:
        raise AssertionError(
            "the score is computed on the training points, not on X_test"
        )
    assert abs(got - gmm.score(test)) < 1e-8, (
        f"held-out average log-likelihood should be {gmm.score(test):.6f}, got {got}"
    )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_cross_validation_choice(choose_c_by_cross_validation, heldout_log_likelihood):
    import numpy as np
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import KFold

    r = np.random.default_rng(9)
    Xh = np.vstack([r.normal(size=(50, 2)), r.normal(size=(50, 2)) * 0.5 + [5.0, 0.0]])
    C_values = [1, 2, 3]
    best, scores = choose_c_by_cross_validation(Xh, C_values, 4, 3)
    folds = list(KFold(4, shuffle=True, random_state=3).split(Xh))
    want = []
    for C in C_values:
        per_fold = []
        for tr, te in folds:
            g = GaussianMixture(
                C, covariance_type="full", n_init=3, random_state=3
            ).fit(Xh[tr])
            per_fold.append(g.score(Xh[te]))
        want.append(np.mean(per_fold))
    assert len(scores) == 3, "scores needs one mean held-out log-likelihood per C"
    assert np.allclose(scores, want, rtol=1e-8), (
        f"mean held-out scores {np.round(scores, 4)} differ from {np.round(want, 4)}: "
        "fit on the training folds, score the held-out fold, average over folds"
    )
    assert best == C_values[int(np.argmax(want))], (
        "best_C must maximise the mean held-out score"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 2
# check_cell: false

# %% [markdown]
# ## Question 4 — variational Bayes switches components off (2 points)
#
# Write `vb_active_components(X, C_max, seed, threshold=0.01)`: fit
# `BayesianGaussianMixture(n_components=C_max, covariance_type="full", max_iter=1000,
# random_state=seed)` (its default prior on the weights is a Dirichlet process) and
# return `(n_active, weights)`: the fitted weights sorted in decreasing order, and how
# many of them exceed `threshold`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def vb_active_components(X, C_max, seed, threshold=0.01):
    """Number of components whose variational weight exceeds threshold, and the weights."""
    # BEGIN SOLUTION
    vb = BayesianGaussianMixture(
        n_components=C_max, covariance_type="full", max_iter=1000, random_state=seed
    ).fit(X)
    weights = np.sort(vb.weights_)[::-1]
    return int(np.sum(weights > threshold)), weights
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_vb_weights_sorted_and_counted(vb_active_components, X):
    import numpy as np

    n_active, weights = vb_active_components(X, 6, 0)
    weights = np.asarray(weights)
    assert weights.shape == (6,), "return all C_max weights"
    assert np.all(np.diff(weights) <= 0), "sort the weights in decreasing order"
    assert n_active == np.sum(weights > 0.01), (
        "n_active counts the weights above threshold"
    )
    assert n_active < 6, (
        "on Iris, variational Bayes switches at least one of 6 components off"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_vb_matches_reference_fit(vb_active_components):
    import numpy as np
    from sklearn.mixture import BayesianGaussianMixture

    r = np.random.default_rng(4)
    Xh = np.vstack([r.normal(size=(80, 2)), r.normal(size=(80, 2)) + [6.0, 0.0]])
    vb = BayesianGaussianMixture(
        n_components=5, covariance_type="full", max_iter=1000, random_state=2
    ).fit(Xh)
    want = np.sort(vb.weights_)[::-1]
    n_active, weights = vb_active_components(Xh, 5, 2, threshold=0.05)
    assert np.allclose(weights, want, atol=1e-8), (
        "weights differ from the specified fit"
    )
    if n_active == 5:
        raise AssertionError(
            "n_active counts every component; count weights above threshold"
        )
    assert n_active == int(np.sum(want > 0.05)), (
        "n_active must use the threshold argument"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Putting them together
#
# Once the self-checks pass, the cell below prints BIC for $C = 1..6$, the
# cross-validated choice and the variational count on Iris. Then answer, in the markdown
# cell below it (graded by hand, not by the autograder): which $C$ would you report for
# Iris, and why do the three criteria agree or disagree? The data have three species;
# is "three species" the same question as "how many Gaussians describe the data"?

# %%
if ready("q1", "q2", "q3", "q4"):
    C_values = [1, 2, 3, 4, 5, 6]
    fits = [GaussianMixture(C, n_init=3, random_state=0).fit(X) for C in C_values]
    print("BIC:", [round(float(bic(X, g)), 1) for g in fits])
    best_C, scores = choose_c_by_cross_validation(X, C_values, 5, 0)
    print("held-out log-likelihood per point:", np.round(scores, 3), "-> C =", best_C)
    n_active, weights = vb_active_components(X, 8, 0)
    print("variational weights:", np.round(weights, 3), "->", n_active, "active")

# %% [markdown]
# *Your answer here.*
