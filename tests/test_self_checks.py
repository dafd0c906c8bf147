"""The exercise self-checks accept right answers and say plainly what is wrong with wrong ones.

Each check prints one verdict line and returns True/False; it never raises for a
mistake in the student's function, so a notebook of unfinished exercises runs on.
"""

import re

import numpy as np
import pytest
from scipy.special import logsumexp, xlogy
from scipy.stats import multivariate_normal

import latent_variable_models_util as lvm


# --- independent implementations (scipy.stats, not the module's code) ---------------

def log_joint(X, pi, mu, sigma):
    return np.column_stack([np.log(pi[c]) + multivariate_normal(mu[c], sigma[c]).logpdf(X)
                            for c in range(len(pi))])


def e_step_linear(X, pi, mu, sigma):
    """The article's E-step: multiply densities, then normalise (underflows far away)."""
    dens = np.column_stack([pi[c] * multivariate_normal(mu[c], sigma[c]).pdf(X) for c in range(len(pi))])
    return dens / dens.sum(axis=1, keepdims=True)


def e_step_log(X, pi, mu, sigma):
    lj = log_joint(X, pi, mu, sigma)
    return np.exp(lj - logsumexp(lj, axis=1, keepdims=True))


def m_step(X, q):
    Nc = q.sum(axis=0)
    pi = Nc / X.shape[0]
    mu = q.T @ X / Nc[:, None]
    sigma = np.array([(q[:, c, None] * (X - mu[c])).T @ (X - mu[c]) / Nc[c] for c in range(q.shape[1])])
    return pi, mu, sigma


def m_step_diagonal(X, q):
    pi, mu, sigma = m_step(X, q)
    return pi, mu, np.diagonal(sigma, axis1=1, axis2=2).copy()


def lower_bound(X, pi, mu, sigma, q):
    return np.sum(q * log_joint(X, pi, mu, sigma)) - np.sum(xlogy(q, q))


def stub(*args):
    raise NotImplementedError("Exercise: write the E-step")


def run(check, fn, capsys):
    """Run a check; return (verdict, the one line it printed)."""
    verdict = check(fn)
    out = capsys.readouterr().out.strip()
    assert "\n" not in out, out
    return verdict, out


# --- right answers -------------------------------------------------------------------

@pytest.mark.parametrize("check, fn", [
    (lvm.check_e_step, e_step_linear),
    (lvm.check_e_step, e_step_log),
    (lvm.check_log_e_step, e_step_log),
    (lvm.check_m_step, m_step),
    (lvm.check_m_step_diagonal, m_step_diagonal),
    (lvm.check_lower_bound, lower_bound),
], ids=["e_step-linear", "e_step-log", "log_e_step", "m_step", "m_step_diagonal", "lower_bound"])
def test_a_right_implementation_is_reported_correct(check, fn, capsys):
    verdict, out = run(check, fn, capsys)
    assert verdict is True
    assert out.startswith(f"{check.__name__}: correct --"), out


def test_diagonal_m_step_may_return_diagonal_matrices(capsys):
    def as_matrices(X, q):
        pi, mu, var = m_step_diagonal(X, q)
        return pi, mu, np.array([np.diag(v) for v in var])

    assert run(lvm.check_m_step_diagonal, as_matrices, capsys)[0] is True


def test_checks_do_not_depend_on_the_order_they_run_in(capsys):
    # The fixed cases are rebuilt on every call: a student function that mutates
    # its inputs must not change what the next check sees.
    def vandal(X, pi, mu, sigma):
        q = e_step_log(X, pi, mu, sigma)
        X[:] = 0.0
        pi[:] = 0.0
        return q

    assert run(lvm.check_e_step, vandal, capsys)[0] is True
    assert run(lvm.check_e_step, e_step_log, capsys)[0] is True


# --- stubs and crashes never raise ------------------------------------------------------

@pytest.mark.parametrize("check", [lvm.check_e_step, lvm.check_log_e_step, lvm.check_m_step,
                                   lvm.check_m_step_diagonal, lvm.check_lower_bound])
def test_a_stub_is_reported_not_implemented_without_raising(check, capsys):
    verdict, out = run(check, stub, capsys)
    assert verdict is False
    assert out.startswith(f"{check.__name__}: not implemented yet"), out


def test_an_exception_in_the_student_function_is_reported(capsys):
    def broken(X, pi, mu, sigma):
        return X @ mu  # (N, D) @ (C, D): shapes do not align

    verdict, out = run(lvm.check_e_step, broken, capsys)
    assert verdict is False
    assert "your function raised ValueError" in out


def test_a_non_function_is_reported(capsys):
    verdict, out = run(lvm.check_e_step, np.zeros(3), capsys)
    assert verdict is False
    assert "expected your function as the argument; got ndarray" in out


# --- wrong E-steps ----------------------------------------------------------------------

def test_e_step_transposed(capsys):
    verdict, out = run(lvm.check_e_step, lambda *a: e_step_log(*a).T, capsys)
    assert verdict is False
    assert "wrong shape of the responsibilities q in test case 1 (12 points, D = 2, C = 3)" in out
    assert "expected (N, C) = (12, 3), got (3, 12). It looks transposed." in out


def test_e_step_wrong_shape(capsys):
    verdict, out = run(lvm.check_e_step, lambda *a: e_step_log(*a)[:, :1], capsys)
    assert verdict is False
    assert "expected (N, C) = (12, 3), got (12, 1)." in out
    assert "transposed" not in out


def test_e_step_unnormalised(capsys):
    def joint_only(X, pi, mu, sigma):
        return np.exp(log_joint(X, pi, mu, sigma))  # forgot to divide by the evidence

    verdict, out = run(lvm.check_e_step, joint_only, capsys)
    assert verdict is False
    assert re.search(r"not normalised in test case 1 .*: row \d+ of q sums to [0-9.e-]+, expected 1\. "
                     r"Divide each row by its sum over the components, Eq\. \(6\)\.", out), out


def test_e_step_normalised_over_the_wrong_axis(capsys):
    def by_columns(X, pi, mu, sigma):
        joint = np.exp(log_joint(X, pi, mu, sigma))
        return joint / joint.sum(axis=0, keepdims=True)

    verdict, out = run(lvm.check_e_step, by_columns, capsys)
    assert verdict is False
    assert "each column sums to 1 instead of each row" in out


def test_e_step_wrong_value_names_row_component_expected_and_got(capsys):
    seen = []

    def forgot_weights(X, pi, mu, sigma):
        seen.append((X.copy(), pi.copy(), mu.copy(), sigma.copy()))   # the case the check ran
        return e_step_log(X, np.full_like(pi, 1.0 / len(pi)), mu, sigma)

    verdict, out = run(lvm.check_e_step, forgot_weights, capsys)
    assert verdict is False
    m = re.search(r"wrong value of the responsibilities q in test case 1 \(12 points, D = 2, C = 3\) "
                  r"at row (\d+), component (\d+): expected ([0-9.e-]+), got ([0-9.e-]+)\.", out)
    assert m, out
    # The reported numbers are the real entries at the reported place of the first case.
    args = seen[0]
    i, c = int(m.group(1)), int(m.group(2))
    assert float(m.group(3)) == pytest.approx(e_step_log(*args)[i, c], rel=1e-5)
    assert float(m.group(4)) == pytest.approx(forgot_weights(*args)[i, c], rel=1e-5)


def test_log_e_step_catches_linear_space_underflow(capsys):
    verdict, out = run(lvm.check_log_e_step, e_step_linear, capsys)
    assert verdict is False
    assert "NaN or infinity in the responsibilities q in test case 3 (7 points, D = 2, C = 3), with far-away points" in out
    assert "normalise with log-sum-exp" in out


def test_log_e_step_returning_logs_gets_a_hint(capsys):
    def returns_logs(X, pi, mu, sigma):
        lj = log_joint(X, pi, mu, sigma)
        return lj - logsumexp(lj, axis=1, keepdims=True)

    verdict, out = run(lvm.check_log_e_step, returns_logs, capsys)
    assert verdict is False
    assert "look like log responsibilities; return q itself" in out


# --- wrong M-steps ----------------------------------------------------------------------

def test_m_step_covariance_off_by_one(capsys):
    def unbiased(X, q):
        pi, mu, sigma = m_step(X, q)
        Nc = q.sum(axis=0)
        return pi, mu, sigma * (Nc / (Nc - 1))[:, None, None]

    verdict, out = run(lvm.check_m_step, unbiased, capsys)
    assert verdict is False
    assert re.search(r"wrong value of sigma \(Eq\. \(18\)\) in test case 1 .* at component \d, row \d, column \d: "
                     r"expected [0-9.e-]+, got [0-9.e-]+\. Hint: Eq\. \(18\) divides by N_c = sum_i q_ic, "
                     r"not by N_c - 1\.", out), out


def test_m_step_uncentred_covariance(capsys):
    def uncentred(X, q):
        pi, mu, _ = m_step(X, q)
        Nc = q.sum(axis=0)
        return pi, mu, np.array([(q[:, c, None] * X).T @ X / Nc[c] for c in range(q.shape[1])])

    verdict, out = run(lvm.check_m_step, uncentred, capsys)
    assert verdict is False
    assert "Hint: centre the points at the new mean mu_c" in out


def test_m_step_weights_not_divided_by_n(capsys):
    def counts(X, q):
        _, mu, sigma = m_step(X, q)
        return q.sum(axis=0), mu, sigma

    verdict, out = run(lvm.check_m_step, counts, capsys)
    assert verdict is False
    assert "pi must sum to 1 in test case 1 (12 points, D = 2, C = 3); it sums to 12 -- it sums to N" in out


def test_m_step_transposed_means(capsys):
    def transposed(X, q):
        pi, mu, sigma = m_step(X, q)
        return pi, mu.T, sigma

    verdict, out = run(lvm.check_m_step, transposed, capsys)
    assert verdict is False
    assert "wrong shape of mu in test case 1 (12 points, D = 2, C = 3): expected (C, D) = (3, 2), got (2, 3). It looks transposed." in out


def test_m_step_returning_two_values(capsys):
    verdict, out = run(lvm.check_m_step, lambda X, q: m_step(X, q)[:2], capsys)
    assert verdict is False
    assert "should return three values (pi, mu, sigma)" in out and "tuple of length 2" in out


def test_diagonal_m_step_with_full_covariances(capsys):
    verdict, out = run(lvm.check_m_step_diagonal, m_step, capsys)
    assert verdict is False
    assert re.search(r"sigma must be diagonal in test case 1 .*, but sigma\[0\]\[0, 1\] = [0-9.e-]+", out), out


def test_diagonal_m_step_off_by_one(capsys):
    def unbiased(X, q):
        pi, mu, var = m_step_diagonal(X, q)
        Nc = q.sum(axis=0)
        return pi, mu, var * (Nc / (Nc - 1))[:, None]

    verdict, out = run(lvm.check_m_step_diagonal, unbiased, capsys)
    assert verdict is False
    assert "at component" in out and "dimension" in out and "not by N_c - 1" in out


# --- wrong lower bounds -----------------------------------------------------------------

def test_lower_bound_without_the_entropy_term(capsys):
    verdict, out = run(lvm.check_lower_bound, lambda X, pi, mu, sigma, q: np.sum(q * log_joint(X, pi, mu, sigma)),
                       capsys)
    assert verdict is False
    assert re.search(r"wrong value in test case 1 .* with q = soft assignments with zeros: expected -?[0-9.]+, "
                     r"got -?[0-9.]+\. Hint: the - log q\(t_ic = 1\) term of Eq\. \(19\) is missing\.", out), out


def test_lower_bound_with_unguarded_log(capsys):
    verdict, out = run(lvm.check_lower_bound,
                       lambda X, pi, mu, sigma, q: np.sum(q * (log_joint(X, pi, mu, sigma) - np.log(q))), capsys)
    assert verdict is False
    assert "the lower bound is nan" in out and "0 log 0 = 0" in out


def test_lower_bound_per_point(capsys):
    verdict, out = run(lvm.check_lower_bound,
                       lambda X, pi, mu, sigma, q: (q * log_joint(X, pi, mu, sigma) - xlogy(q, q)).sum(axis=1),
                       capsys)
    assert verdict is False
    assert "should be one number; in test case 1" in out and "returned shape (12,)" in out


def test_lower_bound_as_a_mean(capsys):
    verdict, out = run(lvm.check_lower_bound, lambda *a: lower_bound(*a) / a[0].shape[0], capsys)
    assert verdict is False
    assert "Hint: Eq. (19) is a sum over the points, not a mean." in out


def test_a_linear_space_e_step_passes_the_regular_check_but_not_the_far_one(capsys):
    # The log-space check's extra case really underflows in linear space: the same function that
    # is correct on the regular cases fails there, and says NaN.
    assert run(lvm.check_e_step, e_step_linear, capsys)[0] is True
    verdict, out = run(lvm.check_log_e_step, e_step_linear, capsys)
    assert verdict is False and "NaN or infinity" in out
