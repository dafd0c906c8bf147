"""Typical wrong answers to the graded homework, for the grading tests.

Each entry replaces one function of the instructor's solution by a wrong version (the
definition is appended to the cell that defines the function, so it wins) and states
what the autograder must do with it: the score it gets out of the autograded total and
a phrase the feedback must contain, naming the mistake. tests/test_course.py grades every
entry with Otter's own autograder.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    name: str
    function: str  # the function whose definition is replaced
    code: str  # the wrong definition
    score: float  # expected autograded score
    feedback: str  # phrase the grader's feedback must contain


MISTAKES = {
    "hw1_gmm_em_log_space": [
        Mistake(
            "linear-space E-step",
            "e_step",
            """
def e_step(X, pi, mu, Sigma):
    dens = np.column_stack(
        [pi[c] * np.exp(log_gaussian(X, mu[c], Sigma[c])) for c in range(len(pi))]
    )
    px = dens.sum(axis=1)
    return np.log(dens / px[:, None]), float(np.sum(np.log(px)))
""",
            9.0,
            "underflows in linear space",
        ),
        Mistake(
            "N_c - 1 in the covariance",
            "m_step",
            """
def m_step(X, q):
    Nc = q.sum(axis=0)
    mu = (q.T @ X) / Nc[:, None]
    Sigma = np.array(
        [((X - mu[c]) * q[:, c, None]).T @ (X - mu[c]) / (Nc[c] - 1) for c in range(len(Nc))]
    )
    return Nc / len(X), mu, Sigma
""",
            7.0,
            "divides by N_c - 1",
        ),
        Mistake(
            "missing -log q in the lower bound",
            "lower_bound",
            """
def lower_bound(X, log_q, pi, mu, Sigma):
    log_joint = np.column_stack(
        [np.log(pi[c]) + log_gaussian(X, mu[c], Sigma[c]) for c in range(len(pi))]
    )
    return float(np.sum(np.exp(log_q) * log_joint))
""",
            9.0,
            "misses the entropy term",
        ),
    ],
    "hw2_choosing_components": [
        Mistake(
            "BIC from the mean log-likelihood",
            "bic",
            """
def bic(X, gmm):
    k = n_parameters(gmm.n_components, X.shape[1], gmm.covariance_type)
    return -2.0 * gmm.score(X) + k * np.log(len(X))
""",
            7.0,
            "it needs the total",
        ),
        Mistake(
            "C free weights instead of C - 1",
            "n_parameters",
            """
def n_parameters(C, D, covariance_type="full"):
    if covariance_type not in ("full", "diag"):
        raise ValueError(f"covariance_type must be 'full' or 'diag', got {covariance_type!r}")
    per_cov = D * (D + 1) // 2 if covariance_type == "full" else D
    return C + C * D + C * per_cov
""",
            5.0,
            "C - 1 free parameters",
        ),
        Mistake(
            "held-out score on the training points",
            "heldout_log_likelihood",
            """
def heldout_log_likelihood(X_train, X_test, C, seed):
    gmm = GaussianMixture(n_components=C, covariance_type="full", n_init=3, random_state=seed)
    return float(gmm.fit(X_train).score(X_train))
""",
            7.0,
            "computed on the training points",
        ),
    ],
    "hw3_bernoulli_mixture": [
        Mistake(
            "pixels that are off ignored in the E-step",
            "e_step",
            """
def e_step(X, pi, P):
    P = np.clip(P, EPS, 1.0 - EPS)
    log_joint = np.log(pi) + X @ np.log(P).T
    log_px = special.logsumexp(log_joint, axis=1)
    return log_joint - log_px[:, None], float(np.sum(log_px))
""",
            5.5,
            "ignores the pixels that are off",
        ),
        Mistake(
            "Bernoulli M-step divided by N",
            "m_step",
            """
def m_step(X, q):
    Nc = q.sum(axis=0)
    return Nc / len(X), (q.T @ X) / len(X)
""",
            5.5,
            "divides by N_c = sum_i q_ic",
        ),
    ],
    "hw4_em_missing_values": [
        Mistake(
            "conditional covariance left out of the M-step",
            "m_step_missing",
            """
def m_step_missing(q, X_hat, V):
    Nc = q.sum(axis=0)
    mu = np.einsum("ic,icd->cd", q, X_hat) / Nc[:, None]
    diff = X_hat - mu[None]
    scatter = np.einsum("ic,icd,ice->cde", q, diff, diff)
    return Nc / len(q), mu, scatter / Nc[:, None, None]
""",
            6.0,
            "conditional covariance V is missing",
        ),
        Mistake(
            "missing entries filled with zeros in the density",
            "observed_log_density",
            """
def observed_log_density(X, mu, Sigma):
    return stats.multivariate_normal(mu, Sigma).logpdf(np.nan_to_num(X))
""",
            6.0,
            "filled with 0",
        ),
        Mistake(
            "missing entries filled with the unconditional mean",
            "conditional_moments",
            """
def conditional_moments(X, mu, Sigma):
    missing = np.isnan(X)
    X_hat = np.where(missing, mu, X)
    V = np.zeros((len(X), X.shape[1], X.shape[1]))
    for i, m in enumerate(missing):
        V[i][np.ix_(m, m)] = Sigma[np.ix_(m, m)]
    return X_hat, V
""",
            5.5,
            "filled with the mean mu_m",
        ),
    ],
}
