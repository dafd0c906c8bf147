# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: hw4_em_missing_values
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
# # Homework 4 — EM for a Gaussian mixture with missing values (10 points)
#
# Some entries of the data are missing (stored as `np.nan`), completely at random. EM
# handles them with no imputation trick: the missing coordinates are latent variables,
# like the component label. For a point $\mathbf{x}_i$ write $o$ for its observed
# coordinates and $m$ for its missing ones. Under component $c$,
#
# - the observed part has the marginal density $\mathcal{N}(\mathbf{x}_{o} \mid
#   \boldsymbol{\mu}_{c,o}, \boldsymbol{\Sigma}_{c,oo})$ (drop the rows and columns of
#   the missing coordinates), so $q_{ic} \propto \pi_c \, \mathcal{N}(\mathbf{x}_{o}
#   \mid \boldsymbol{\mu}_{c,o}, \boldsymbol{\Sigma}_{c,oo})$;
# - the missing part is Gaussian given the observed part, with mean and covariance
#
# $$\hat{\mathbf{x}}_{ic,m} = \boldsymbol{\mu}_{c,m} + \boldsymbol{\Sigma}_{c,mo}
# \boldsymbol{\Sigma}_{c,oo}^{-1} (\mathbf{x}_{o} - \boldsymbol{\mu}_{c,o}), \qquad
# \mathbf{V}_{ic,mm} = \boldsymbol{\Sigma}_{c,mm} - \boldsymbol{\Sigma}_{c,mo}
# \boldsymbol{\Sigma}_{c,oo}^{-1} \boldsymbol{\Sigma}_{c,om}.$$
#
# The M-step uses the expected sufficient statistics: with $\hat{\mathbf{x}}_{ic}$ the
# point completed by the conditional mean and $\mathbf{V}_{ic}$ zero outside the
# missing block, $N_c = \sum_i q_{ic}$,
#
# $$\boldsymbol{\mu}_c = \frac{1}{N_c} \sum_i q_{ic} \hat{\mathbf{x}}_{ic}, \qquad
# \boldsymbol{\Sigma}_c = \frac{1}{N_c} \sum_i q_{ic} \left[(\hat{\mathbf{x}}_{ic} -
# \boldsymbol{\mu}_c)(\hat{\mathbf{x}}_{ic} - \boldsymbol{\mu}_c)^\top +
# \mathbf{V}_{ic}\right].$$
#
# The term $\mathbf{V}_{ic}$ is what separates EM from "fill in the blanks and fit":
# without it the covariances shrink. Chapters 2 and 3 give the general recipe; this
# assignment is not derived in the book.
#
# **Rules.** numpy and scipy only in your functions. Replace every `...`; keep the
# names and arguments. After each question a *self-check* cell runs the public tests;
# the grader runs them again plus hidden tests on other data.
#
# **Handing in.** Run every cell from the top (*Runtime → Run all* in Colab), then
# download the notebook (*File → Download → Download .ipynb*) and hand it in. The
# grader runs it from the top in a fresh kernel: code that only works when cells run in
# another order loses points.

# %%
import numpy as np
from scipy import special, stats

# %%
# SELF-CHECK RUNNER

# %%
rng = np.random.default_rng(44)
true_means = np.array([[0.0, 0.0, 0.0], [3.0, 3.0, -1.0]])
true_cov = np.array([[1.0, 0.8, 0.3], [0.8, 1.0, 0.2], [0.3, 0.2, 0.5]])
labels = rng.choice(2, size=400, p=[0.6, 0.4])
X_full = true_means[labels] + rng.multivariate_normal(np.zeros(3), true_cov, size=400)
X = X_full.copy()
hide = rng.random(X.shape) < 0.2
hide[hide.all(axis=1), 0] = False  # every point keeps at least one coordinate
X[hide] = np.nan
print("missing entries:", int(np.isnan(X).sum()), "of", X.size)

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2
# check_cell: false

# %% [markdown]
# ## Question 1 — the density of what was observed (2 points)
#
# Write `observed_log_density(X, mu, Sigma)` for `X` `(N, D)` with `np.nan` for
# missing entries, one mean `mu` `(D,)` and covariance `Sigma` `(D, D)`. It returns
# the `(N,)` vector of $\log \mathcal{N}(\mathbf{x}_{i,o} \mid \boldsymbol{\mu}_o,
# \boldsymbol{\Sigma}_{oo})$, each point with its own observed set $o$. Hint: group
# the points by their pattern of missing entries (`np.unique(np.isnan(X), axis=0,
# return_inverse=True)`), and use `scipy.stats.multivariate_normal(...).logpdf` per
# pattern.

# %% [raw]
# # BEGIN SOLUTION


# %%
def observed_log_density(X, mu, Sigma):
    """Log marginal density of the observed coordinates of each row of X (N,)."""
    # BEGIN SOLUTION
    patterns, which = np.unique(np.isnan(X), axis=0, return_inverse=True)
    which = np.ravel(which)
    out = np.empty(len(X))
    for k, missing in enumerate(patterns):
        rows, o = which == k, ~missing
        dist = stats.multivariate_normal(mu[o], Sigma[np.ix_(o, o)])
        out[rows] = np.atleast_1d(dist.logpdf(X[np.ix_(rows, o)]))
    return out
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_observed_density_two_points_by_hand(observed_log_density):
    import numpy as np
    from scipy import stats

    mu = np.array([1.0, -1.0])
    Sigma = np.array([[2.0, 0.5], [0.5, 1.0]])
    Xs = np.array([[0.5, np.nan], [0.0, 0.0]])
    got = np.asarray(observed_log_density(Xs, mu, Sigma), dtype=float)
    want0 = stats.norm(1.0, np.sqrt(2.0)).logpdf(0.5)
    want1 = stats.multivariate_normal(mu, Sigma).logpdf([0.0, 0.0])
    assert got.shape == (2,), "return one log density per point, shape (N,)"
    assert np.isfinite(got[0]), (
        "a point with a missing entry got NaN: marginalise it out"
    )
    assert np.allclose(got, [want0, want1]), (
        "wrong log density: a missing coordinate is integrated out, which leaves the "
        "observed rows and columns of mu and Sigma"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_observed_density_all_patterns(observed_log_density):
    import numpy as np
    from scipy import stats

    r = np.random.default_rng(12)
    A = r.normal(size=(3, 3))
    Sigma, mu = A @ A.T + np.eye(3), r.normal(size=3)
    Xh = r.normal(size=(30, 3))
    Xh[r.random((30, 3)) < 0.3] = np.nan
    Xh[np.isnan(Xh).all(axis=1), 1] = 0.5
    got = np.asarray(observed_log_density(Xh, mu, Sigma), dtype=float)
    want = np.array(
        [
            stats.multivariate_normal(
                mu[~np.isnan(x)], Sigma[np.ix_(~np.isnan(x), ~np.isnan(x))]
            ).logpdf(x[~np.isnan(x)])
            for x in Xh
        ]
    )
    zero_filled = stats.multivariate_normal(mu, Sigma).logpdf(np.nan_to_num(Xh))
    if np.allclose(got, zero_filled):
        raise AssertionError(
            "missing entries were filled with 0 and the full density used: integrate the "
            "missing coordinates out instead (observed block of mu and Sigma)"
        )
    assert np.allclose(got, want), "observed-data log densities wrong for some patterns"


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
# ## Question 2 — conditional moments of the missing part (3 points)
#
# Write `conditional_moments(X, mu, Sigma)` for one component. It returns `(X_hat, V)`:
# `X_hat` `(N, D)` equals `X` on the observed entries and the conditional mean
# $\hat{\mathbf{x}}_{m}$ on the missing ones; `V` `(N, D, D)` holds the conditional
# covariance $\mathbf{V}_{mm}$ in the missing block of each point and zeros elsewhere.
# Use `np.linalg.solve`, not an explicit inverse.

# %% [raw]
# # BEGIN SOLUTION


# %%
def conditional_moments(X, mu, Sigma):
    """Completed points X_hat (N, D) and conditional covariances V (N, D, D)."""
    # BEGIN SOLUTION
    N, D = X.shape
    X_hat, V = X.copy(), np.zeros((N, D, D))
    patterns, which = np.unique(np.isnan(X), axis=0, return_inverse=True)
    which = np.ravel(which)
    for k, m in enumerate(patterns):
        if not m.any():
            continue
        rows, o = which == k, ~m
        gain = np.linalg.solve(
            Sigma[np.ix_(o, o)], Sigma[np.ix_(o, m)]
        ).T  # S_mo S_oo^-1
        resid = X[np.ix_(rows, o)] - mu[o]
        X_hat[np.ix_(rows, m)] = mu[m] + resid @ gain.T
        V[np.ix_(rows, m, m)] = Sigma[np.ix_(m, m)] - gain @ Sigma[np.ix_(o, m)]
    return X_hat, V
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_conditional_moments_bivariate(conditional_moments):
    import numpy as np

    mu = np.array([0.0, 1.0])
    Sigma = np.array([[1.0, 0.6], [0.6, 2.0]])
    Xs = np.array([[2.0, np.nan], [0.5, 1.5]])
    X_hat, V = conditional_moments(Xs, mu, Sigma)
    assert np.shape(X_hat) == (2, 2) and np.shape(V) == (2, 2, 2), (
        "shapes (N, D), (N, D, D)"
    )
    assert np.allclose(X_hat[1], [0.5, 1.5]) and np.allclose(V[1], 0), (
        "a fully observed point is unchanged and has V = 0"
    )
    assert np.isclose(X_hat[0, 1], 1.0 + 0.6 * 2.0), (
        "conditional mean of x_2 given x_1 = 2 is mu_2 + S_21 / S_11 (x_1 - mu_1) = 2.2"
    )
    assert np.allclose(V[0], [[0.0, 0.0], [0.0, 2.0 - 0.36]]), (
        "conditional variance of x_2 given x_1 is S_22 - S_21^2 / S_11 = 1.64"
    )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_conditional_moments_three_dimensions(conditional_moments):
    import numpy as np

    r = np.random.default_rng(13)
    A = r.normal(size=(3, 3))
    Sigma, mu = A @ A.T + np.eye(3), r.normal(size=3)
    Xh = r.normal(size=(25, 3))
    Xh[r.random((25, 3)) < 0.35] = np.nan
    Xh[np.isnan(Xh).all(axis=1), 2] = -0.3
    X_hat, V = conditional_moments(Xh, mu, Sigma)
    for x, xh, v in zip(Xh, X_hat, V):
        m = np.isnan(x)
        o = ~m
        if not m.any():
            continue
        S_oo, S_mo = Sigma[np.ix_(o, o)], Sigma[np.ix_(m, o)]
        want_mean = mu[m] + S_mo @ np.linalg.solve(S_oo, x[o] - mu[o])
        if np.allclose(xh[m], mu[m]) and not np.allclose(want_mean, mu[m]):
            raise AssertionError(
                "missing entries are filled with the mean mu_m: the conditional mean also "
                "uses the observed coordinates, mu_m + S_mo S_oo^-1 (x_o - mu_o)"
            )
        assert np.allclose(xh[o], x[o]), "observed entries must be kept"
        assert np.allclose(xh[m], want_mean), "conditional mean wrong"
        want_V = Sigma[np.ix_(m, m)] - S_mo @ np.linalg.solve(S_oo, S_mo.T)
        assert np.allclose(v[np.ix_(m, m)], want_V), "conditional covariance wrong"
        assert np.allclose(v[o], 0) and np.allclose(v[:, o], 0), (
            "V must be zero outside mm"
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
# ## Question 3 — the M-step with expected statistics (3 points)
#
# Write `m_step_missing(q, X_hat, V)` for responsibilities `q` `(N, C)`, completed
# points `X_hat` `(N, C, D)` (one completion per component) and conditional covariances
# `V` `(N, C, D, D)`. It returns `(pi, mu, Sigma)` by the equations above.

# %% [raw]
# # BEGIN SOLUTION


# %%
def m_step_missing(q, X_hat, V):
    """Weights (C,), means (C, D), covariances (C, D, D) from expected statistics."""
    # BEGIN SOLUTION
    Nc = q.sum(axis=0)
    mu = np.einsum("ic,icd->cd", q, X_hat) / Nc[:, None]
    diff = X_hat - mu[None]
    scatter = np.einsum("ic,icd,ice->cde", q, diff, diff) + np.einsum(
        "ic,icde->cde", q, V
    )
    return Nc / len(q), mu, scatter / Nc[:, None, None]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_m_step_without_missing_values_is_the_usual_one(m_step_missing):
    import numpy as np

    r = np.random.default_rng(3)
    Xs = r.normal(size=(20, 2))
    q = r.dirichlet([1.0, 1.0], size=20)
    pi, mu, Sigma = m_step_missing(
        q, np.repeat(Xs[:, None], 2, axis=1), np.zeros((20, 2, 2, 2))
    )
    Nc = q.sum(axis=0)
    assert np.allclose(pi, Nc / 20), "pi_c = N_c / N"
    assert np.allclose(mu, q.T @ Xs / Nc[:, None]), "mu_c = sum_i q_ic x_hat_ic / N_c"
    want = np.array(
        [((Xs - mu[c]) * q[:, c, None]).T @ (Xs - mu[c]) / Nc[c] for c in range(2)]
    )
    assert np.allclose(Sigma, want), "Sigma_c wrong even with no missing values"


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_m_step_adds_conditional_covariance(m_step_missing):
    import numpy as np

    r = np.random.default_rng(4)
    N, C, D = 30, 2, 3
    q = r.dirichlet([1.0, 1.0], size=N)
    X_hat = r.normal(size=(N, C, D))
    B = r.normal(size=(N, C, D, D)) * 0.3
    V = B @ np.swapaxes(B, -1, -2)
    pi, mu, Sigma = m_step_missing(q, X_hat, V)
    Nc = q.sum(axis=0)
    mu_want = np.einsum("ic,icd->cd", q, X_hat) / Nc[:, None]
    d = X_hat - mu_want[None]
    scatter = np.einsum("ic,icd,ice->cde", q, d, d)
    with_V = (scatter + np.einsum("ic,icde->cde", q, V)) / Nc[:, None, None]
    assert np.allclose(mu, mu_want), "mu_c = sum_i q_ic x_hat_ic / N_c"
    if np.allclose(Sigma, scatter / Nc[:, None, None]):
        raise AssertionError(
            "the conditional covariance V is missing from Sigma_c: filling in the "
            "conditional means alone underestimates the covariance"
        )
    assert np.allclose(Sigma, with_V), "Sigma_c wrong"


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
# ## Question 4 — the loop (2 points)
#
# Write `fit_gmm_missing(X, pi, mu, Sigma, n_iter)` that runs `n_iter` EM iterations
# from the given start and returns `(pi, mu, Sigma, history)` with `history` the
# observed-data log-likelihoods $\sum_i \log \sum_c \pi_c \mathcal{N}(\mathbf{x}_{i,o}
# \mid \boldsymbol{\mu}_{c,o}, \boldsymbol{\Sigma}_{c,oo})$ of the E-steps. Compute the
# responsibilities in log space and raise a `RuntimeError` if the log-likelihood
# decreases by more than `1e-8 * abs(previous)`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def fit_gmm_missing(X, pi, mu, Sigma, n_iter):
    """EM with missing values; returns pi, mu, Sigma and the log-likelihood history."""
    # BEGIN SOLUTION
    history = []
    C = len(pi)
    for _ in range(n_iter):
        log_joint = np.column_stack(
            [np.log(pi[c]) + observed_log_density(X, mu[c], Sigma[c]) for c in range(C)]
        )
        log_px = special.logsumexp(log_joint, axis=1)
        ll = float(log_px.sum())
        if history and ll < history[-1] - 1e-8 * abs(history[-1]):
            raise RuntimeError(f"log-likelihood decreased: {history[-1]} -> {ll}")
        history.append(ll)
        moments = [conditional_moments(X, mu[c], Sigma[c]) for c in range(C)]
        X_hat = np.stack([m[0] for m in moments], axis=1)
        V = np.stack([m[1] for m in moments], axis=1)
        pi, mu, Sigma = m_step_missing(np.exp(log_joint - log_px[:, None]), X_hat, V)
    return pi, mu, Sigma, history
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 0.5
"""  # END TEST CONFIG


def test_fit_history_is_monotone(fit_gmm_missing, X):
    import numpy as np

    start = (
        np.array([0.5, 0.5]),
        np.array([[-1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]),
        np.array([np.eye(3)] * 2),
    )
    pi, mu, Sigma, history = fit_gmm_missing(X, *start, 10)
    h = np.asarray(history, dtype=float)
    assert h.shape == (10,), "history holds one log-likelihood per iteration"
    assert np.all(np.isfinite(h)), "the log-likelihood is NaN: missing values leaked in"
    assert np.all(np.diff(h) >= -1e-8 * np.abs(h[:-1])), "the log-likelihood decreased"


# %%
""" # BEGIN TEST CONFIG
points: 1.5
hidden: true
"""  # END TEST CONFIG


def test_fit_recovers_covariance_and_matches_reference(fit_gmm_missing):
    import numpy as np
    from scipy import special, stats

    r = np.random.default_rng(31)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    Xf = np.vstack(
        [
            r.multivariate_normal([0, 0], cov, 150),
            r.multivariate_normal([5, 5], cov, 150),
        ]
    )
    Xh = Xf.copy()
    drop = r.random(300) < 0.4
    Xh[drop, r.integers(0, 2, size=drop.sum())] = np.nan
    start = (
        np.array([0.5, 0.5]),
        np.array([[1.0, 0.0], [4.0, 4.0]]),
        np.array([np.eye(2)] * 2),
    )
    pi, mu, Sigma, history = fit_gmm_missing(Xh, *[a.copy() for a in start], 30)
    # reference EM written point by point
    p, m, S = [a.copy() for a in start]
    for _ in range(30):
        lj = np.zeros((300, 2))
        xh, V = np.zeros((300, 2, 2)), np.zeros((300, 2, 2, 2))
        for i, x in enumerate(Xh):
            o = ~np.isnan(x)
            for c in range(2):
                lj[i, c] = np.log(p[c]) + stats.multivariate_normal(
                    m[c][o], S[c][np.ix_(o, o)]
                ).logpdf(x[o])
                xh[i, c] = x
                if not o.all():
                    mm = ~o
                    g = S[c][np.ix_(mm, o)] @ np.linalg.inv(S[c][np.ix_(o, o)])
                    xh[i, c, mm] = m[c][mm] + g @ (x[o] - m[c][o])
                    V[i, c][np.ix_(mm, mm)] = (
                        S[c][np.ix_(mm, mm)] - g @ S[c][np.ix_(o, mm)]
                    )
        q = np.exp(lj - special.logsumexp(lj, axis=1, keepdims=True))
        Nc = q.sum(axis=0)
        p = Nc / 300
        m = np.einsum("ic,icd->cd", q, xh) / Nc[:, None]
        d = xh - m[None]
        S = (
            np.einsum("ic,icd,ice->cde", q, d, d) + np.einsum("ic,icde->cde", q, V)
        ) / Nc[:, None, None]
    assert np.allclose(mu, m, atol=1e-6), (
        "final means differ from EM from the same start"
    )
    assert np.allclose(Sigma, S, atol=1e-6), (
        "final covariances differ from EM from the same start (is V added in the M-step?)"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Run it
#
# Once the self-checks pass, the cell below fits two components to the data with 20%
# of the entries missing and compares the estimated covariance of the larger component
# with the one used to simulate the data, and with what complete-case analysis (dropping
# every point with a missing entry) would give.

# %%
if ready("q1", "q2", "q3", "q4"):
    mu0 = np.array([[-1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    pi_hat, mu_hat, Sigma_hat, history = fit_gmm_missing(
        X, np.array([0.5, 0.5]), mu0, np.array([np.eye(3)] * 2), 100
    )
    big = int(np.argmax(pi_hat))
    print("weights:", np.round(pi_hat, 3))
    print(
        "estimated covariance of the larger component:\n", np.round(Sigma_hat[big], 2)
    )
    print("covariance used to simulate:\n", true_cov)
    complete = ~np.isnan(X).any(axis=1)
    print("points with no missing entry:", int(complete.sum()), "of", len(X))
