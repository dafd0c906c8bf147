# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: hw1_gmm_em_log_space
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
# # Homework 1 — EM for a Gaussian mixture, from scratch, in log space (10 points)
#
# You write the EM algorithm for a Gaussian mixture model with full covariances: the
# log density, the E-step (in log space, so that no point underflows), the M-step, the
# lower bound $\mathcal{L}(\boldsymbol{\theta}, q)$ and the loop that checks that the
# log-likelihood never decreases. Chapters 2 and 3 of the book derive every equation
# you need; chapter 10 explains why the E-step must work with logarithms.
#
# **Rules.** Use numpy and scipy only (no scikit-learn in your functions). Replace
# every `...` by your code; do not rename the functions or change their arguments.
# After each question a *self-check* cell runs the public tests; the grader runs
# them again plus hidden tests, on other data. A self-check that passes is a good
# sign, not a guarantee of full marks.
#
# **Handing in.** Run every cell from the top (*Runtime → Run all* in Colab), then
# download the notebook (*File → Download → Download .ipynb*) and hand it in. The
# grader runs it from the top in a fresh kernel: code that only works when cells run in
# another order loses points.
#
# Notation (the book's): points $\mathbf{x}_i$, $i = 1..N$, in dimension $D$;
# components $c = 1..C$; weights $\pi_c$, means $\boldsymbol{\mu}_c$, covariances
# $\boldsymbol{\Sigma}_c$; responsibilities $q_{ic}$.

# %%
import numpy as np
from scipy import special

# %%
# SELF-CHECK RUNNER

# %%
rng = np.random.default_rng(2026)
true_means = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
true_covs = np.array(
    [[[1.0, 0.3], [0.3, 0.6]], [[0.5, -0.2], [-0.2, 1.2]], [[0.8, 0.0], [0.0, 0.4]]]
)
labels = rng.choice(3, size=300, p=[0.5, 0.3, 0.2])
X = np.array([rng.multivariate_normal(true_means[c], true_covs[c]) for c in labels])
print("X:", X.shape)

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2
# check_cell: false

# %% [markdown]
# ## Question 1 — the log density (2 points)
#
# Write `log_gaussian(X, mu, Sigma)` that returns the vector of
# $\log \mathcal{N}(\mathbf{x}_i \mid \boldsymbol{\mu}, \boldsymbol{\Sigma})$, shape
# `(N,)`, for `X` of shape `(N, D)`. Use a Cholesky factor
# $\boldsymbol{\Sigma} = \mathbf{L}\mathbf{L}^\top$: the log-determinant is
# $2 \sum_d \log L_{dd}$ and the quadratic form is $\lVert \mathbf{L}^{-1}
# (\mathbf{x}_i - \boldsymbol{\mu}) \rVert^2$. Never form $\boldsymbol{\Sigma}^{-1}$ and
# never take the log of a density computed in linear space.

# %% [raw]
# # BEGIN SOLUTION


# %%
def log_gaussian(X, mu, Sigma):
    """Log density of N(mu, Sigma) at each row of X: (N, D), (D,), (D, D) -> (N,)."""
    # BEGIN SOLUTION
    L = np.linalg.cholesky(Sigma)
    z = np.linalg.solve(L, (X - mu).T)  # (D, N)
    log_det = 2.0 * np.sum(np.log(np.diag(L)))
    D = X.shape[1]
    return -0.5 * (D * np.log(2.0 * np.pi) + log_det + np.sum(z**2, axis=0))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_log_gaussian_matches_scipy(log_gaussian):
    import numpy as np
    from scipy import stats

    Xs = np.array([[0.0, 0.0], [1.0, -2.0], [3.0, 0.5]])
    mu, Sigma = np.array([0.5, -0.5]), np.array([[2.0, 0.4], [0.4, 1.0]])
    got = np.asarray(log_gaussian(Xs, mu, Sigma))
    assert got.shape == (3,), (
        f"log_gaussian must return shape (N,) = (3,), got {got.shape}"
    )
    want = stats.multivariate_normal(mu, Sigma).logpdf(Xs)
    assert np.allclose(got, want), "log_gaussian differs from scipy's logpdf"


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_log_gaussian_far_points_and_3d(log_gaussian):
    import numpy as np
    from scipy import stats

    r = np.random.default_rng(7)
    A = r.normal(size=(3, 3))
    Sigma = A @ A.T + 0.5 * np.eye(3)
    mu = r.normal(size=3)
    Xs = np.vstack([r.normal(size=(5, 3)), [[60.0, -80.0, 90.0]]])
    got = np.asarray(log_gaussian(Xs, mu, Sigma), dtype=float)
    assert got.shape == (6,), (
        f"log_gaussian must return shape (N,) = (6,), got {got.shape}"
    )
    assert np.all(np.isfinite(got)), (
        "log density is -inf or NaN for a far point: the density underflowed in "
        "linear space; compute the log directly"
    )
    assert np.allclose(got, stats.multivariate_normal(mu, Sigma).logpdf(Xs)), (
        "log_gaussian is wrong in 3 dimensions"
    )


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
# ## Question 2 — the E-step in log space (3 points)
#
# Write `e_step(X, pi, mu, Sigma)` for weights `pi` `(C,)`, means `mu` `(C, D)` and
# covariances `Sigma` `(C, D, D)`. It returns `(log_q, log_likelihood)`:
#
# - `log_q`, shape `(N, C)`: $\log q_{ic} = \log \pi_c + \log \mathcal{N}(\mathbf{x}_i
#   \mid \boldsymbol{\mu}_c, \boldsymbol{\Sigma}_c) - \log p(\mathbf{x}_i)$;
# - `log_likelihood`, a float: $\sum_i \log p(\mathbf{x}_i)$ with
#   $\log p(\mathbf{x}_i) = \operatorname{logsumexp}_c \left[\log \pi_c + \log
#   \mathcal{N}(\mathbf{x}_i \mid \boldsymbol{\mu}_c, \boldsymbol{\Sigma}_c)\right]$.
#
# Use `scipy.special.logsumexp`: a point 40 standard deviations from every mean has
# density $e^{-800}$, which is 0 in floating point.

# %% [raw]
# # BEGIN SOLUTION


# %%
def e_step(X, pi, mu, Sigma):
    """Log responsibilities (N, C) and the log-likelihood (float)."""
    # BEGIN SOLUTION
    log_joint = np.column_stack(
        [np.log(pi[c]) + log_gaussian(X, mu[c], Sigma[c]) for c in range(len(pi))]
    )
    log_px = special.logsumexp(log_joint, axis=1)
    return log_joint - log_px[:, None], float(np.sum(log_px))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_e_step_rows_normalised(e_step, X):
    import numpy as np

    pi = np.array([0.5, 0.3, 0.2])
    mu = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    Sigma = np.array([np.eye(2)] * 3)
    log_q, ll = e_step(X, pi, mu, Sigma)
    log_q = np.asarray(log_q)
    assert log_q.shape == (len(X), 3), (
        f"log_q must have shape (N, C), got {log_q.shape}"
    )
    assert np.allclose(np.exp(log_q).sum(axis=1), 1.0), (
        "the responsibilities exp(log_q) of each point must sum to 1 over components"
    )
    assert np.all(log_q <= 1e-12), "log responsibilities must be <= 0"
    assert np.ndim(ll) == 0, (
        "the log-likelihood must be a single number (the sum over points)"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_e_step_far_points_no_underflow(e_step):
    import numpy as np
    from scipy import special, stats

    Xf = np.array([[0.0, 0.0], [40.0, 40.0], [-60.0, 10.0], [1.0, 1.0]])
    pi = np.array([0.6, 0.4])
    mu = np.array([[0.0, 0.0], [2.0, 2.0]])
    Sigma = np.array([np.eye(2), 0.5 * np.eye(2)])
    log_q, ll = e_step(Xf, pi, mu, Sigma)
    log_q = np.asarray(log_q, dtype=float)
    assert np.all(np.isfinite(log_q)) and np.isfinite(ll), (
        "NaN or -inf for points far from every mean: the E-step underflows in linear "
        "space (exp of the log densities is 0, then 0/0); normalise with logsumexp"
    )
    log_joint = np.column_stack(
        [
            np.log(pi[c]) + stats.multivariate_normal(mu[c], Sigma[c]).logpdf(Xf)
            for c in range(2)
        ]
    )
    want = log_joint - special.logsumexp(log_joint, axis=1)[:, None]
    assert np.allclose(log_q, want, atol=1e-8), (
        "log responsibilities wrong for far points"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_e_step_log_likelihood_value(e_step, X):
    import numpy as np
    from scipy import stats

    pi = np.array([0.2, 0.5, 0.3])
    mu = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 4.0]])
    Sigma = np.array([[[1.0, 0.2], [0.2, 1.0]], np.eye(2), [[0.5, 0.0], [0.0, 2.0]]])
    _, ll = e_step(X, pi, mu, Sigma)
    dens = sum(
        pi[c] * stats.multivariate_normal(mu[c], Sigma[c]).pdf(X) for c in range(3)
    )
    want = np.sum(np.log(dens))
    assert np.isclose(ll, want, rtol=1e-10), (
        f"log-likelihood {float(ll):.4f} should be {want:.4f}: the sum over points of "
        "log sum_c pi_c N(x_i | mu_c, Sigma_c)"
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
# ## Question 3 — the M-step (3 points)
#
# Write `m_step(X, q)` for responsibilities `q` of shape `(N, C)` (in linear space). With
# $N_c = \sum_i q_{ic}$ it returns `(pi, mu, Sigma)`:
#
# $$\pi_c = \frac{N_c}{N}, \qquad \boldsymbol{\mu}_c = \frac{1}{N_c} \sum_i q_{ic}
# \mathbf{x}_i, \qquad \boldsymbol{\Sigma}_c = \frac{1}{N_c} \sum_i q_{ic} (\mathbf{x}_i -
# \boldsymbol{\mu}_c)(\mathbf{x}_i - \boldsymbol{\mu}_c)^\top.$$
#
# These are maximum-likelihood estimates: no "unbiased" correction.

# %% [raw]
# # BEGIN SOLUTION


# %%
def m_step(X, q):
    """Weights (C,), means (C, D) and covariances (C, D, D) from responsibilities (N, C)."""
    # BEGIN SOLUTION
    Nc = q.sum(axis=0)
    pi = Nc / len(X)
    mu = (q.T @ X) / Nc[:, None]
    Sigma = np.empty((q.shape[1], X.shape[1], X.shape[1]))
    for c in range(q.shape[1]):
        diff = X - mu[c]
        Sigma[c] = (q[:, c, None] * diff).T @ diff / Nc[c]
    return pi, mu, Sigma
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_m_step_shapes_and_weights(m_step, X):
    import numpy as np

    q = np.full((len(X), 3), 1.0 / 3.0)
    pi, mu, Sigma = m_step(X, q)
    assert (
        np.shape(pi) == (3,) and np.shape(mu) == (3, 2) and np.shape(Sigma) == (3, 2, 2)
    ), "m_step must return pi (C,), mu (C, D), Sigma (C, D, D)"
    assert np.isclose(np.sum(pi), 1.0), "the weights must sum to 1 (divide N_c by N)"
    assert np.allclose(mu, X.mean(axis=0)), (
        "with equal responsibilities every mean is the data mean"
    )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_m_step_weighted_covariance_is_mle(m_step):
    import numpy as np

    r = np.random.default_rng(11)
    Xh = r.normal(size=(40, 3)) * [1.0, 2.0, 0.5]
    q = r.dirichlet([1.0, 1.0], size=40)
    pi, mu, Sigma = m_step(Xh, q)
    Nc = q.sum(axis=0)
    assert np.allclose(pi, Nc / 40), "pi_c must be N_c / N"
    mu_want = (q.T @ Xh) / Nc[:, None]
    assert np.allclose(mu, mu_want), (
        "mu_c must be the q-weighted mean sum_i q_ic x_i / N_c"
    )
    for c in range(2):
        S = ((Xh - mu_want[c]) * q[:, c, None]).T @ (Xh - mu_want[c])
        if np.allclose(Sigma[c], S / (Nc[c] - 1)):
            raise AssertionError(
                "Sigma_c divides by N_c - 1: the M-step needs the maximum-likelihood "
                "estimate, divide by N_c"
            )
        assert np.allclose(Sigma[c], S / Nc[c]), (
            "Sigma_c must be sum_i q_ic (x_i - mu_c)(x_i - mu_c)^T / N_c, centred on the new mean"
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
# ## Question 4 — the lower bound and the monotone loop (2 points)
#
# (a) Write `lower_bound(X, log_q, pi, mu, Sigma)` that returns
#
# $$\mathcal{L}(\boldsymbol{\theta}, q) = \sum_i \sum_c q_{ic} \left[\log \pi_c + \log
# \mathcal{N}(\mathbf{x}_i \mid \boldsymbol{\mu}_c, \boldsymbol{\Sigma}_c) - \log
# q_{ic}\right],$$
#
# with $q_{ic} = \exp(\log q_{ic})$ (a term with $q_{ic} = 0$ contributes 0). After an
# E-step the bound equals the log-likelihood; for any other $q$ it is smaller.
#
# (b) Write `fit_gmm(X, pi, mu, Sigma, n_iter)` that runs `n_iter` EM iterations from the
# given parameters and returns `(pi, mu, Sigma, history)`, where `history[t]` is the
# log-likelihood computed by the E-step of iteration `t` (a list of `n_iter` floats).
# Inside the loop, **check the monotone property**: raise a `RuntimeError` if the
# log-likelihood decreases by more than `1e-8 * abs(previous)`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def lower_bound(X, log_q, pi, mu, Sigma):
    """The evidence lower bound L(theta, q) for log responsibilities log_q (N, C)."""
    # BEGIN SOLUTION
    log_joint = np.column_stack(
        [np.log(pi[c]) + log_gaussian(X, mu[c], Sigma[c]) for c in range(len(pi))]
    )
    q = np.exp(log_q)
    return float(np.sum(q * (log_joint - np.where(q > 0, log_q, 0.0))))
    # END SOLUTION


def fit_gmm(X, pi, mu, Sigma, n_iter):
    """Run n_iter EM iterations; return pi, mu, Sigma and the log-likelihood history."""
    # BEGIN SOLUTION
    history = []
    for _ in range(n_iter):
        log_q, ll = e_step(X, pi, mu, Sigma)
        if history and ll < history[-1] - 1e-8 * abs(history[-1]):
            raise RuntimeError(f"log-likelihood decreased: {history[-1]} -> {ll}")
        history.append(ll)
        pi, mu, Sigma = m_step(X, np.exp(log_q))
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


def test_lower_bound_is_tight_after_e_step(lower_bound, X):
    import numpy as np
    from scipy import special, stats

    pi = np.array([0.4, 0.4, 0.2])
    mu = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    Sigma = np.array([np.eye(2)] * 3)
    log_joint = np.log(pi) + np.column_stack(
        [stats.multivariate_normal(mu[c], Sigma[c]).logpdf(X) for c in range(3)]
    )
    log_px = special.logsumexp(log_joint, axis=1)
    log_q, ll = log_joint - log_px[:, None], log_px.sum()
    assert np.isclose(lower_bound(X, log_q, pi, mu, Sigma), ll, rtol=1e-9), (
        "after an E-step the lower bound must equal the log-likelihood: is the "
        "entropy term -sum q log q missing?"
    )


# %%
""" # BEGIN TEST CONFIG
points: 0.5
hidden: true
"""  # END TEST CONFIG


def test_lower_bound_below_log_likelihood_for_other_q(lower_bound):
    import numpy as np
    from scipy import stats

    r = np.random.default_rng(3)
    Xh = r.normal(size=(30, 2))
    pi = np.array([0.5, 0.5])
    mu = np.array([[-1.0, 0.0], [1.0, 0.0]])
    Sigma = np.array([np.eye(2)] * 2)
    q = r.dirichlet([2.0, 2.0], size=30)
    log_joint = np.column_stack(
        [
            np.log(pi[c]) + stats.multivariate_normal(mu[c], Sigma[c]).logpdf(Xh)
            for c in range(2)
        ]
    )
    want = float(np.sum(q * (log_joint - np.log(q))))
    got = lower_bound(Xh, np.log(q), pi, mu, Sigma)
    if np.isclose(got, float(np.sum(q * log_joint))):
        raise AssertionError(
            "the lower bound misses the entropy term -sum_ic q_ic log q_ic (the '- log q')"
        )
    assert np.isclose(got, want), (
        "lower bound wrong for responsibilities that are not the posterior"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_fit_gmm_matches_reference_and_is_monotone(fit_gmm, X):
    import numpy as np
    from scipy import special, stats

    pi0 = np.full(3, 1.0 / 3.0)
    mu0 = X[[0, 100, 200]].copy()
    Sigma0 = np.array([np.cov(X.T, bias=True)] * 3)
    pi, mu, Sigma, history = fit_gmm(X, pi0.copy(), mu0.copy(), Sigma0.copy(), 25)
    h = np.asarray(history, dtype=float)
    assert h.shape == (25,), (
        f"history must hold n_iter = 25 log-likelihoods, got {h.shape}"
    )
    assert np.all(np.diff(h) >= -1e-8 * np.abs(h[:-1])), "the log-likelihood decreased"
    # reference EM, written independently
    p, m, S = pi0.copy(), mu0.copy(), Sigma0.copy()
    ref = []
    for _ in range(25):
        lj = np.column_stack(
            [
                np.log(p[c]) + stats.multivariate_normal(m[c], S[c]).logpdf(X)
                for c in range(3)
            ]
        )
        lp = special.logsumexp(lj, axis=1)
        ref.append(lp.sum())
        q = np.exp(lj - lp[:, None])
        Nc = q.sum(axis=0)
        p, m = Nc / len(X), (q.T @ X) / Nc[:, None]
        S = np.array(
            [((X - m[c]) * q[:, c, None]).T @ (X - m[c]) / Nc[c] for c in range(3)]
        )
    assert np.allclose(h, ref, rtol=1e-8), (
        "history differs from EM from the same start: record the E-step log-likelihood "
        "of each iteration, before the M-step"
    )
    assert np.allclose(mu, m, atol=1e-6), (
        "final means differ from EM from the same start"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Run it
#
# Once all four self-checks pass, the cell below fits the mixture from a simple start
# and prints the log-likelihood every five iterations; it never decreases.

# %%
if ready("q1", "q2", "q3", "q4"):
    start = (
        np.full(3, 1 / 3),
        X[[0, 100, 200]].copy(),
        np.array([np.cov(X.T, bias=True)] * 3),
    )
    pi_hat, mu_hat, Sigma_hat, history = fit_gmm(X, *start, n_iter=40)
    print("log-likelihood every 5 iterations:", np.round(history[::5], 3))
    print("weights:", np.round(np.sort(pi_hat), 3))
