# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: hw3_bernoulli_mixture
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
# # Homework 3 — EM for a model the book does not derive: a mixture of Bernoullis (10 + 4 points)
#
# The book derives EM for Gaussian mixtures. Here you carry the same recipe to another
# latent variable model: each $8 \times 8$ handwritten digit of scikit-learn's
# `load_digits`, binarised, is a vector $\mathbf{x}_i \in \{0, 1\}^D$ with $D = 64$,
# drawn from one of $C$ components. Component $c$ switches pixel $d$ on with
# probability $P_{cd}$, independently of the other pixels:
#
# $$p(\mathbf{x}_i \mid t_{ic} = 1) = \prod_{d=1}^{D} P_{cd}^{x_{id}} (1 -
# P_{cd})^{1 - x_{id}}, \qquad p(t_{ic} = 1) = \pi_c.$$
#
# First you derive the E- and M-steps (question 0, graded by hand: 4 points), then you
# implement them (questions 1–4, autograded: 10 points).
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
from scipy import special
from sklearn.datasets import load_digits

# %%
# SELF-CHECK RUNNER

# %%
digits = load_digits()
X = (digits.data > 7).astype(float)  # pixel intensities 0..16 -> off / on
y = digits.target
EPS = 1e-10  # clip P to [EPS, 1 - EPS] before taking logs
print("binarised digits:", X.shape, "mean pixel on:", round(X.mean(), 3))

# %% [raw]
# # BEGIN QUESTION
# name: q0
# manual: true
# points: 4

# %% [markdown]
# ## Question 0 — derive the two steps (4 points, graded by hand)
#
# Write, in this markdown cell, with one line of reasoning per step:
#
# 1. the log of the joint $\log p(\mathbf{x}_i, t_{ic} = 1 \mid \boldsymbol{\theta})$;
# 2. the E-step: $q_{ic}$, and why it must be computed with logarithms when $D = 64$;
# 3. the expected complete-data log-likelihood $Q(\boldsymbol{\theta},
#    \boldsymbol{\theta}^{old})$;
# 4. the M-step: maximise $Q$ for $\pi_c$ (with a Lagrange multiplier for $\sum_c \pi_c =
#    1$) and for $P_{cd}$, and give both updates in terms of $N_c = \sum_i q_{ic}$.

# %% [raw]
# # BEGIN SOLUTION

# %% [markdown]
# 1. $\log p(\mathbf{x}_i, t_{ic} = 1) = \log \pi_c + \sum_d \left[x_{id} \log P_{cd} +
#    (1 - x_{id}) \log (1 - P_{cd})\right]$.
# 2. $q_{ic} = \exp\left(\log p(\mathbf{x}_i, t_{ic} = 1) - \log \sum_{c'}
#    p(\mathbf{x}_i, t_{ic'} = 1)\right)$, the normaliser by log-sum-exp: a product of 64
#    probabilities can be as small as $10^{-640}$ for $P_{cd}$ near $10^{-10}$, below the
#    smallest double.
# 3. $Q = \sum_i \sum_c q_{ic} \left[\log \pi_c + \sum_d x_{id} \log P_{cd} + (1 -
#    x_{id}) \log (1 - P_{cd})\right]$.
# 4. $\partial/\partial \pi_c$ of $Q + \lambda (1 - \sum_c \pi_c)$ gives $N_c / \pi_c =
#    \lambda$, and summing over $c$ gives $\lambda = N$: $\pi_c = N_c / N$.
#    $\partial Q / \partial P_{cd} = \sum_i q_{ic} \left[x_{id} / P_{cd} - (1 - x_{id}) / (1
#    - P_{cd})\right] = 0$ gives $P_{cd} = \frac{1}{N_c} \sum_i q_{ic} x_{id}$: the
#    responsibility-weighted frequency of pixel $d$ in component $c$.

# %% [raw]
# # END SOLUTION

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 3
# check_cell: false

# %% [markdown]
# ## Question 1 — the E-step (3 points)
#
# Write `e_step(X, pi, P)` for `X` `(N, D)` in $\{0, 1\}$, weights `pi` `(C,)` and
# probabilities `P` `(C, D)`. Clip `P` to `[EPS, 1 - EPS]`, then return `(log_q,
# log_likelihood)`: the log responsibilities `(N, C)` and $\sum_i \log
# p(\mathbf{x}_i)$ (a float). Both pixel states count: a pixel that is off has
# probability $1 - P_{cd}$. One matrix product per term, no loop over points.

# %% [raw]
# # BEGIN SOLUTION


# %%
def e_step(X, pi, P):
    """Log responsibilities (N, C) and log-likelihood of a Bernoulli mixture."""
    # BEGIN SOLUTION
    P = np.clip(P, EPS, 1.0 - EPS)
    log_joint = np.log(pi) + X @ np.log(P).T + (1.0 - X) @ np.log1p(-P).T
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


def test_e_step_two_pixels_by_hand(e_step):
    import numpy as np

    Xs = np.array([[1.0, 0.0], [0.0, 0.0]])
    pi = np.array([0.5, 0.5])
    P = np.array([[0.9, 0.2], [0.3, 0.6]])
    log_q, ll = e_step(Xs, pi, P)
    joint = np.array(
        [[0.5 * 0.9 * 0.8, 0.5 * 0.3 * 0.4], [0.5 * 0.1 * 0.8, 0.5 * 0.7 * 0.4]]
    )
    want_q = joint / joint.sum(axis=1, keepdims=True)
    assert np.shape(log_q) == (2, 2), "log_q must have shape (N, C)"
    assert np.allclose(np.exp(log_q), want_q), (
        "responsibilities wrong on a two-pixel example worked by hand"
    )
    assert np.isclose(ll, np.log(joint.sum(axis=1)).sum()), "log-likelihood wrong"


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_e_step_counts_pixels_that_are_off(e_step):
    import numpy as np
    from scipy import special

    r = np.random.default_rng(21)
    Xh = (r.random((50, 64)) < 0.3).astype(float)
    pi = np.array([0.2, 0.3, 0.5])
    P = r.uniform(0.05, 0.95, size=(3, 64))
    P[0, :5] = 0.0  # an exact 0: must be clipped, not give log(0)
    log_q, ll = e_step(Xh, pi, P)
    Pc = np.clip(P, 1e-10, 1 - 1e-10)
    on_only = np.log(pi) + Xh @ np.log(Pc).T
    full = on_only + (1 - Xh) @ np.log(1 - Pc).T
    if np.allclose(
        log_q, on_only - special.logsumexp(on_only, axis=1)[:, None], atol=1e-6
    ):
        raise AssertionError(
            "the E-step ignores the pixels that are off: add (1 - x_id) log(1 - P_cd)"
        )
    assert np.all(np.isfinite(log_q)), "log_q has NaN or inf: clip P to [EPS, 1 - EPS]"
    assert np.allclose(
        log_q, full - special.logsumexp(full, axis=1)[:, None], atol=1e-8
    ), "log responsibilities wrong on random binary data"
    assert np.isclose(ll, special.logsumexp(full, axis=1).sum()), "log-likelihood wrong"


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
# ## Question 2 — the M-step (3 points)
#
# Write `m_step(X, q)` for responsibilities `q` `(N, C)` (linear space). It returns
# `(pi, P)` as derived in question 0 (no clipping here).

# %% [raw]
# # BEGIN SOLUTION


# %%
def m_step(X, q):
    """Weights (C,) and pixel probabilities (C, D) from responsibilities (N, C)."""
    # BEGIN SOLUTION
    Nc = q.sum(axis=0)
    return Nc / len(X), (q.T @ X) / Nc[:, None]
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_m_step_hard_assignments(m_step):
    import numpy as np

    Xs = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    q = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    pi, P = m_step(Xs, q)
    assert np.allclose(pi, [2 / 3, 1 / 3]), "pi_c = N_c / N"
    assert np.allclose(P, [[1.0, 0.5], [0.0, 1.0]]), (
        "with hard assignments P_cd is the frequency of pixel d among the points of c"
    )


# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
"""  # END TEST CONFIG


def test_m_step_soft_responsibilities(m_step):
    import numpy as np

    r = np.random.default_rng(8)
    Xh = (r.random((40, 10)) < 0.4).astype(float)
    q = r.dirichlet([1.0, 1.0, 1.0], size=40)
    pi, P = m_step(Xh, q)
    Nc = q.sum(axis=0)
    assert np.allclose(pi, Nc / 40), "pi_c = N_c / N"
    S = q.T @ Xh
    if np.allclose(P, S / 40):
        raise AssertionError(
            "P_cd is divided by N; the Bernoulli M-step divides by N_c = sum_i q_ic"
        )
    if np.allclose(P, S / S.sum(axis=1, keepdims=True)):
        raise AssertionError(
            "P is normalised over pixels; each P_cd is its own Bernoulli mean: divide by N_c"
        )
    assert np.allclose(P, S / Nc[:, None]), "P_cd = sum_i q_ic x_id / N_c"


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 2
# check_cell: false

# %% [markdown]
# ## Question 3 — the loop (2 points)
#
# Write `fit_bernoulli_mixture(X, pi, P, n_iter)` that runs `n_iter` EM iterations from
# the given start and returns `(pi, P, history)`, `history` the list of the E-step
# log-likelihoods, one per iteration. Raise a `RuntimeError` if the log-likelihood
# decreases by more than `1e-8 * abs(previous)`.

# %% [raw]
# # BEGIN SOLUTION


# %%
def fit_bernoulli_mixture(X, pi, P, n_iter):
    """Run n_iter EM iterations for a Bernoulli mixture; return pi, P, history."""
    # BEGIN SOLUTION
    history = []
    for _ in range(n_iter):
        log_q, ll = e_step(X, pi, P)
        if history and ll < history[-1] - 1e-8 * abs(history[-1]):
            raise RuntimeError(f"log-likelihood decreased: {history[-1]} -> {ll}")
        history.append(ll)
        pi, P = m_step(X, np.exp(log_q))
    return pi, P, history
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 0.5
"""  # END TEST CONFIG


def test_fit_history_is_monotone(fit_bernoulli_mixture, X):
    import numpy as np

    r = np.random.default_rng(1)
    pi, P, history = fit_bernoulli_mixture(
        X[:200], np.full(3, 1 / 3), r.uniform(0.25, 0.75, size=(3, 64)), 10
    )
    h = np.asarray(history, dtype=float)
    assert h.shape == (10,), "history holds one log-likelihood per iteration"
    assert np.all(np.diff(h) >= 0), "the log-likelihood must not decrease"
    assert np.isclose(np.sum(pi), 1.0) and np.shape(P) == (3, 64), (
        "returns pi (C,), P (C, D)"
    )


# %%
""" # BEGIN TEST CONFIG
points: 1.5
hidden: true
"""  # END TEST CONFIG


def test_fit_matches_reference_em(fit_bernoulli_mixture, X):
    import numpy as np
    from scipy import special

    r = np.random.default_rng(0)
    Xs = X[:400]
    pi0, P0 = np.full(4, 0.25), r.uniform(0.25, 0.75, size=(4, 64))
    pi, P, history = fit_bernoulli_mixture(Xs, pi0.copy(), P0.copy(), 15)
    h = np.asarray(history, dtype=float)
    assert h.shape == (15,), "history holds one log-likelihood per iteration"
    assert np.all(np.diff(h) >= -1e-8 * np.abs(h[:-1])), "the log-likelihood decreased"
    p, Q = pi0.copy(), P0.copy()
    ref = []
    for _ in range(15):
        Qc = np.clip(Q, 1e-10, 1 - 1e-10)
        lj = np.log(p) + Xs @ np.log(Qc).T + (1 - Xs) @ np.log(1 - Qc).T
        lp = special.logsumexp(lj, axis=1)
        ref.append(lp.sum())
        q = np.exp(lj - lp[:, None])
        p, Q = q.sum(axis=0) / len(Xs), (q.T @ Xs) / q.sum(axis=0)[:, None]
    assert np.allclose(h, ref, rtol=1e-8), "history differs from EM from the same start"
    assert np.allclose(P, Q, atol=1e-6), "final P differs from EM from the same start"


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
# ## Question 4 — do the clusters find the digits? (2 points)
#
# The labels `y` were never used. Write `cluster_accuracy(log_q, y)`: assign each point
# to its most responsible component, give each component the most frequent label among
# its points, and return the fraction of points whose component's label is their own
# label. (A component with no points is ignored.)

# %% [raw]
# # BEGIN SOLUTION


# %%
def cluster_accuracy(log_q, y):
    """Accuracy of majority-label clusters from log responsibilities (N, C), labels (N,)."""
    # BEGIN SOLUTION
    cluster = np.argmax(log_q, axis=1)
    correct = 0
    for c in np.unique(cluster):
        correct += np.bincount(y[cluster == c]).max()
    return correct / len(y)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
"""  # END TEST CONFIG


def test_cluster_accuracy_small_example(cluster_accuracy):
    import numpy as np

    log_q = np.log(np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]))
    y = np.array([3, 3, 5, 5])
    got = cluster_accuracy(log_q, y)
    assert np.isclose(got, 0.75), f"expected 3 of 4 points correct (0.75), got {got}"


# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
"""  # END TEST CONFIG


def test_cluster_accuracy_many_clusters(cluster_accuracy):
    import numpy as np

    r = np.random.default_rng(2)
    y = r.integers(0, 10, size=300)
    log_q = np.log(r.dirichlet(np.ones(12), size=300))
    cluster = np.argmax(log_q, axis=1)
    want = sum(np.bincount(y[cluster == c]).max() for c in np.unique(cluster)) / 300
    assert np.isclose(cluster_accuracy(log_q, y), want), (
        "accuracy wrong with 12 clusters"
    )


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Run it
#
# Once the self-checks pass, the cell below fits $C = 10$ components to all 1797 digits
# from a random start and prints the log-likelihood and the accuracy of the clusters.

# %%
if ready("q1", "q2", "q3", "q4"):
    rng = np.random.default_rng(0)
    pi_hat, P_hat, history = fit_bernoulli_mixture(
        X, np.full(10, 0.1), rng.uniform(0.25, 0.75, size=(10, 64)), 50
    )
    print(
        "log-likelihood, first and last:", round(history[0], 1), round(history[-1], 1)
    )
    log_q, _ = e_step(X, pi_hat, P_hat)
    print("cluster accuracy:", round(cluster_accuracy(log_q, y), 3))
