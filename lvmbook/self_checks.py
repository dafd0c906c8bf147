"""Self-checks for learners: ``check_e_step``, ``check_log_e_step``, ``check_m_step``,
``check_m_step_diagonal`` and ``check_lower_bound`` grade a student's exercise function anywhere
(Colab included). Each runs the function on a few fixed cases , compares
the result with the library's own EM functions (``lvmbook.article_em``) and prints, in plain
words, what is wrong -- the shape, the normalisation, or the first wrong value and where it is --
or that the function is correct. They return True or False and never raise for a mistake in the
student's function: a stub that raises NotImplementedError is reported as "not implemented yet",
so a notebook of exercises runs to the end. The exercises are in chapter 3 (03_em_for_gmms).
"""

from __future__ import annotations

import numpy as np

from .article_em import e_step, lower_bound, m_step

__all__ = [
    "check_e_step", "check_log_e_step", "check_m_step", "check_m_step_diagonal", "check_lower_bound",
]


class _CheckFailed(Exception):
    """A student's function gave a wrong answer; the message says what is wrong."""


class _NotImplementedYet(Exception):
    """A student's function raised NotImplementedError."""


_CHECK_RTOL = 1e-6
_CHECK_ATOL = 1e-8


def _grading_cases(kind):
    """Fixed test cases for the self-checks, built the same way on every call.

    ``kind`` is ``"regular"`` (two well-posed mixtures with soft responsibilities)
    or ``"far"`` (points so far from every component that their densities
    underflow to zero in linear space). Each case is a dict with ``X`` (N, D),
    ``pi`` (C,), ``mu`` (C, D), ``sigma`` (C, D, D), ``q`` (N, C) soft
    assignments that are *not* the posterior of these parameters (zeros
    included), and a ``name`` for messages. N, D and C differ, so a transposed
    result always has the wrong shape.
    """
    rng = np.random.default_rng(20191121)
    cases = []
    if kind == "regular":
        for N, D, C in ((12, 2, 3), (9, 3, 2)):
            mu = rng.normal(0.0, 2.0, size=(C, D))
            A = rng.normal(0.0, 0.5, size=(C, D, D))
            sigma = A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)
            pi = rng.uniform(0.5, 1.5, size=C)
            pi = pi / pi.sum()
            X = mu[rng.integers(0, C, size=N)] + rng.normal(0.0, 1.5, size=(N, D))
            q = rng.uniform(0.05, 1.0, size=(N, C))
            q[0] = 0.0
            q[0, -1] = 1.0                      # one hard assignment: zeros in q
            q = q / q.sum(axis=1, keepdims=True)
            cases.append({"X": X, "pi": pi, "mu": mu, "sigma": sigma, "q": q})
    elif kind == "far":
        mu = np.array([[-1.0, 0.0], [1.0, 0.5], [0.0, 3.0]])
        sigma = np.array([np.eye(2), [[0.5, 0.1], [0.1, 0.3]], [[2.0, -0.4], [-0.4, 1.0]]])
        pi = np.array([0.5, 0.3, 0.2])
        X = np.array([[0.3, 0.2], [-1.2, 1.1], [40.0, 0.0], [-55.0, 8.0], [3.0, 250.0], [1.0e3, -1.0e3],
                      [0.5, 2.0]])
        cases.append({"X": X, "pi": pi, "mu": mu, "sigma": sigma, "q": None})
    else:
        raise ValueError(f"kind must be 'regular' or 'far'; got {kind!r}")
    for k, case in enumerate(cases, start=1):
        N, D = case["X"].shape
        C = case["mu"].shape[0]
        case["name"] = f"test case {k} ({N} points, D = {D}, C = {C})"
    return cases


def _call_student(fn, *args):
    """Call ``fn`` on copies of ``args``; turn its exceptions into check outcomes."""
    import warnings

    copies = [np.array(a, copy=True) for a in args]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*copies)
    except NotImplementedError:
        raise _NotImplementedYet() from None
    except Exception as exc:  # the student's bug, reported instead of raised
        raise _CheckFailed(f"your function raised {type(exc).__name__}: {exc}") from None


def _as_result(value, what, case):
    """The student's result as a float array, or a _CheckFailed saying why not."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _CheckFailed(f"{what} should be an array of numbers; in {case} your function "
                           f"returned {type(value).__name__}") from None
    return arr


def _require_shape(arr, expected, what, case, meaning):
    """Raise _CheckFailed unless ``arr.shape == expected``; spot a transposed result."""
    if arr.shape == expected:
        return
    msg = f"wrong shape of {what} in {case}: expected {meaning} = {expected}, got {arr.shape}."
    if arr.ndim == 2 and arr.shape == expected[::-1]:
        msg += " It looks transposed."
    raise _CheckFailed(msg)


def _require_finite(arr, what, case, hint=""):
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = ", ".join(str(int(i)) for i in bad[0])
        raise _CheckFailed(f"NaN or infinity in {what} in {case}, first at index [{where}].{hint}")


def _first_mismatch(got, expected, what, case, index_names):
    """Raise _CheckFailed naming the worst wrong entry of ``got``, if any."""
    err = np.abs(got - expected) - (_CHECK_ATOL + _CHECK_RTOL * np.abs(expected))
    if np.all(err <= 0):
        return
    idx = np.unravel_index(int(np.argmax(err)), got.shape)
    where = ", ".join(f"{n} {int(i)}" for n, i in zip(index_names, idx))
    raise _CheckFailed(f"wrong value of {what} in {case} at {where}: expected {expected[idx]:.6g}, "
                       f"got {got[idx]:.6g}.")


def _run_check(name, fn, body):
    """Run ``body(fn)``; print the verdict of check ``name`` and return True if correct."""
    if not callable(fn):
        print(f"{name}: expected your function as the argument; got {type(fn).__name__}.")
        return False
    try:
        summary = body(fn)
    except _NotImplementedYet:
        print(f"{name}: not implemented yet -- your function raises NotImplementedError. "
              "Write its body, run its cell, then run this check again.")
        return False
    except _CheckFailed as exc:
        print(f"{name}: not correct yet -- {exc}")
        return False
    print(f"{name}: correct -- {summary}")
    return True


def _compare_responsibilities(got, expected, case, far=False):
    """Check student responsibilities against the reference (both (N, C))."""
    what = "the responsibilities q"
    got = _as_result(got, what, case)
    N, C = expected.shape
    _require_shape(got, expected.shape, what, case, "(N, C)")
    hint = ""
    if far:
        hint = (" Far from every component all densities underflow to 0, and 0/0 is NaN: compute "
                "log pi_c + log N(x_i | mu_c, Sigma_c) and normalise with log-sum-exp.")
    _require_finite(got, what, case, hint)
    rows = got.sum(axis=1)
    if np.any(np.abs(rows - 1.0) > 1e-6):
        i = int(np.argmax(np.abs(rows - 1.0)))
        if np.allclose(got.sum(axis=0), 1.0, atol=1e-6):
            raise _CheckFailed(f"in {case} each column sums to 1 instead of each row: normalise over the "
                               "components (axis=1), not over the points.")
        if np.all(got <= 0):
            raise _CheckFailed(f"in {case} all values are <= 0: these look like log responsibilities; "
                               "return q itself (np.exp of them).")
        raise _CheckFailed(f"not normalised in {case}: row {i} of q sums to {rows[i]:.6g}, expected 1. "
                           "Divide each row by its sum over the components, Eq. (6).")
    if np.any(got < -1e-12):
        i, c = np.argwhere(got < -1e-12)[0]
        raise _CheckFailed(f"{what} must be probabilities, but in {case} row {i}, component {c} is {got[i, c]:.6g}.")
    _first_mismatch(got, expected, what, case, ("row", "component"))


def check_e_step(fn):
    """Check a student's E-step, Eq. (6): ``fn(X, pi, mu, sigma)`` -> q of shape (N, C).

    ``fn`` receives ``X`` (N, D), ``pi`` (C,), ``mu`` (C, D), ``sigma``
    (C, D, D) and must return the posterior responsibilities, one row per point
    summing to 1. Prints what is wrong (shape, normalisation, first wrong value
    and where) or that it is correct; returns True if correct.

    Chapter 3 (03_em_for_gmms), equation (6).
    """
    def body(fn):
        cases = _grading_cases("regular")
        for case in cases:
            X, pi, mu, sigma = case["X"], case["pi"], case["mu"], case["sigma"]
            got = _call_student(fn, X, pi, mu, sigma)
            _compare_responsibilities(got, e_step(X, pi, mu, sigma), case["name"])
        return f"{len(cases)} test cases match the reference to a relative {_CHECK_RTOL:g}."
    return _run_check("check_e_step", fn, body)


def check_log_e_step(fn):
    """Check a log-space E-step: ``fn(X, pi, mu, sigma)`` -> q of shape (N, C), finite for far points.

    Same contract as :func:`check_e_step` (it returns the responsibilities q,
    not their logarithms), but the test cases include points hundreds of
    standard deviations from every component, where every density underflows
    to 0 in floating point: only an E-step computed in log space (log-sum-exp)
    returns the right, finite answer there. Prints the verdict; returns True if correct.

    Chapter 3 (03_em_for_gmms), equation (6).
    """
    def body(fn):
        cases = _grading_cases("regular") + _grading_cases("far")
        for k, case in enumerate(cases):
            X, pi, mu, sigma = case["X"], case["pi"], case["mu"], case["sigma"]
            got = _call_student(fn, X, pi, mu, sigma)
            far = k == len(cases) - 1
            name = f"test case {k + 1}" + case["name"][case["name"].index(" ("):]
            name += ", with far-away points" if far else ""
            _compare_responsibilities(got, e_step(X, pi, mu, sigma), name, far=far)
        return (f"{len(cases)} test cases, far-away points included, match the reference to a "
                f"relative {_CHECK_RTOL:g}.")
    return _run_check("check_log_e_step", fn, body)


def _unpack_m_step(result, case):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        raise _CheckFailed(f"your function should return three values (pi, mu, sigma); in {case} it returned {got}.")
    return result


def _check_pi_mu(pi, mu, pi_ref, mu_ref, N, case):
    C, D = mu_ref.shape
    pi = _as_result(pi, "pi", case)
    _require_shape(pi, (C,), "pi", case, "(C,)")
    _require_finite(pi, "pi", case)
    if abs(pi.sum() - 1.0) > 1e-6:
        extra = " -- it sums to N: divide N_c by N" if abs(pi.sum() - N) < 1e-6 * N else ""
        raise _CheckFailed(f"pi must sum to 1 in {case}; it sums to {pi.sum():.6g}{extra}. See Eq. (16).")
    _first_mismatch(pi, pi_ref, "pi (Eq. (16))", case, ("component",))
    mu = _as_result(mu, "mu", case)
    _require_shape(mu, (C, D), "mu", case, "(C, D)")
    _require_finite(mu, "mu", case)
    _first_mismatch(mu, mu_ref, "mu (Eq. (17))", case, ("component", "dimension"))


def _covariance_hint(got, X, q, mu_ref, Nc, diagonal):
    """Name a common covariance mistake that ``got`` matches, or return ''."""
    weighted = np.einsum("nc,cnd,cne->cde", q, X[None] - mu_ref[:, None], X[None] - mu_ref[:, None])
    uncentred = np.einsum("nc,nd,ne->cde", q, X, X) / Nc[:, None, None]
    variants = {
        "Eq. (18) divides by N_c = sum_i q_ic, not by N_c - 1": weighted / (Nc - 1.0)[:, None, None],
        "Eq. (18) divides by N_c = sum_i q_ic, not by N": weighted / X.shape[0],
        "Eq. (18) divides by N_c = sum_i q_ic; you did not divide": weighted,
        "centre the points at the new mean mu_c before taking the outer products": uncentred,
    }
    for hint, wrong in variants.items():
        if diagonal:
            wrong = np.diagonal(wrong, axis1=1, axis2=2)
        if got.shape == wrong.shape and np.allclose(got, wrong, rtol=1e-6, atol=1e-8):
            return " Hint: " + hint + "."
    return ""


def _m_step_body(fn, diagonal):
    cases = _grading_cases("regular")
    for case in cases:
        X, q, name = case["X"], case["q"], case["name"]
        N, D = X.shape
        C = q.shape[1]
        pi_ref, mu_ref, sigma_ref = m_step(X, q)
        pi, mu, sigma = _unpack_m_step(_call_student(fn, X, q), name)
        _check_pi_mu(pi, mu, pi_ref, mu_ref, N, name)
        sigma = _as_result(sigma, "sigma", name)
        _require_finite(sigma, "sigma", name)
        Nc = q.sum(axis=0)
        if diagonal:
            if sigma.shape == (C, D, D):
                off = sigma * (1.0 - np.eye(D))
                if np.any(np.abs(off) > 1e-12):
                    c, d, e = np.argwhere(np.abs(off) > 1e-12)[0]
                    raise _CheckFailed(f"sigma must be diagonal in {name}, but sigma[{c}][{d}, {e}] = "
                                       f"{sigma[c, d, e]:.6g}; keep only the variances of each dimension.")
                sigma = np.diagonal(sigma, axis1=1, axis2=2)
            _require_shape(sigma, (C, D), "sigma", name, "(C, D) variances or (C, D, D) diagonal matrices")
            ref = np.diagonal(sigma_ref, axis1=1, axis2=2)
            index_names = ("component", "dimension")
        else:
            _require_shape(sigma, (C, D, D), "sigma", name, "(C, D, D)")
            ref = sigma_ref
            index_names = ("component", "row", "column")
        try:
            _first_mismatch(sigma, ref, "sigma (Eq. (18))", name, index_names)
        except _CheckFailed as exc:
            raise _CheckFailed(str(exc) + _covariance_hint(sigma, X, q, mu_ref, Nc, diagonal)) from None
    return f"pi, mu and sigma match Eqs. (16)-(18) in {len(cases)} test cases (relative {_CHECK_RTOL:g})."


def check_m_step(fn):
    """Check a student's M-step, Eqs. (16)-(18): ``fn(X, q)`` -> (pi, mu, sigma).

    ``fn`` receives ``X`` (N, D) and soft assignments ``q`` (N, C) and must
    return ``pi`` (C,), ``mu`` (C, D) and full covariances ``sigma`` (C, D, D).
    Prints what is wrong (which parameter, shape, value and where, and a hint
    for common covariance mistakes) or that it is correct; returns True if correct.

    Chapter 3 (03_em_for_gmms), equations (16)-(18).
    """
    return _run_check("check_m_step", fn, lambda f: _m_step_body(f, diagonal=False))


def check_m_step_diagonal(fn):
    """Check a diagonal-covariance M-step: ``fn(X, q)`` -> (pi, mu, sigma).

    As :func:`check_m_step`, but each covariance is restricted to be diagonal:
    the maximiser keeps the diagonal of Eq. (18), the responsibility-weighted
    variance of each dimension. ``sigma`` may be returned as (C, D) variances or
    as (C, D, D) diagonal matrices. Prints the verdict; returns True if correct.

    Chapter 3 (03_em_for_gmms), equation (18).
    """
    return _run_check("check_m_step_diagonal", fn, lambda f: _m_step_body(f, diagonal=True))


def check_lower_bound(fn):
    """Check a student's lower bound, Eq. (19): ``fn(X, pi, mu, sigma, q)`` -> a number.

    ``q`` (N, C) may contain exact zeros, whose terms count as 0 (0 log 0 = 0).
    The cases use both arbitrary soft assignments and the exact posterior (for
    which the bound equals the log likelihood, Eq. (13)). Prints what is wrong
    or that it is correct; returns True if correct.

    Chapter 3 (03_em_for_gmms), equation (19).
    """
    def body(fn):
        cases = _grading_cases("regular")
        n = 0
        for case in cases:
            X, pi, mu, sigma = case["X"], case["pi"], case["mu"], case["sigma"]
            for label, q in (("soft assignments with zeros", case["q"]),
                             ("the posterior", e_step(X, pi, mu, sigma))):
                name = f"{case['name']} with q = {label}"
                got = _as_result(_call_student(fn, X, pi, mu, sigma, q), "the lower bound", name)
                if got.ndim != 0 and got.size != 1:
                    raise _CheckFailed(f"the lower bound should be one number; in {name} your function returned "
                                       f"shape {got.shape}. Sum over points and components.")
                got = float(got.reshape(()))
                if not np.isfinite(got):
                    raise _CheckFailed(f"the lower bound is {got} in {name}. Terms with q = 0 contribute 0 "
                                       "(0 log 0 = 0): guard log q, e.g. with scipy.special.xlogy.")
                expected = lower_bound(X, pi, mu, sigma, q)
                if abs(got - expected) > _CHECK_ATOL + _CHECK_RTOL * abs(expected):
                    from scipy.special import xlogy

                    entropy = -float(np.sum(xlogy(q, q)))
                    msg = f"wrong value in {name}: expected {expected:.6f}, got {got:.6f}."
                    if abs(got - (expected - entropy)) < 1e-6 * max(1.0, abs(expected)):
                        msg += " Hint: the - log q(t_ic = 1) term of Eq. (19) is missing."
                    elif abs(got - (expected - 2 * entropy)) < 1e-6 * max(1.0, abs(expected)):
                        msg += " Hint: the log q term has the wrong sign; Eq. (19) subtracts it."
                    elif abs(got - expected / X.shape[0]) < 1e-6 * max(1.0, abs(expected)):
                        msg += " Hint: Eq. (19) is a sum over the points, not a mean."
                    raise _CheckFailed(msg)
                n += 1
        return f"{n} test cases match Eq. (19) to a relative {_CHECK_RTOL:g}."
    return _run_check("check_lower_bound", fn, body)
