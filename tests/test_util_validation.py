"""Validation: bad input gets a ValueError that names the argument and what was expected."""

import numpy as np
import pytest

import latent_variable_models_util as lvm


def test_validate_data_returns_float64_and_names_the_argument():
    out = lvm.validate_data([[1, 2], [3, 4]])
    assert out.dtype == np.float64 and out.shape == (2, 2)
    with pytest.raises(ValueError, match="Y must be a 2-D array; got shape"):
        lvm.validate_data([1, 2], name="Y")
    with pytest.raises(ValueError, match="X must be an array of numbers"):
        lvm.validate_data([["a", "b"]])


def test_validate_weights_accepts_a_valid_simplex_point():
    np.testing.assert_array_equal(lvm.validate_weights([0.25, 0.75], 2), [0.25, 0.75])


def test_validate_means_checks_both_dimensions():
    with pytest.raises(ValueError, match="mu must have 4 rows"):
        lvm.validate_means(np.zeros((3, 2)), 4, 2)
    with pytest.raises(ValueError, match="mu must have 5 columns"):
        lvm.validate_means(np.zeros((3, 2)), 3, 5)


def test_validate_covariances_returns_cholesky_factors():
    sigma, chol = lvm.validate_covariances(lvm.sigma_true)
    np.testing.assert_allclose(chol @ np.swapaxes(chol, 1, 2), sigma, rtol=1e-14)
    with pytest.raises(ValueError, match="square matrices"):
        lvm.validate_covariances(np.zeros((2, 2, 3)))


def test_validate_responsibilities_requires_probability_rows():
    q = lvm.validate_responsibilities([[0.2, 0.8], [1.0, 0.0]], n_samples=2)
    assert q.shape == (2, 2)
    with pytest.raises(ValueError, match="q must have 3 rows"):
        lvm.validate_responsibilities([[0.2, 0.8]], n_samples=3)
    with pytest.raises(ValueError, match=r"q must hold probabilities in \[0, 1\]"):
        lvm.validate_responsibilities([[-0.2, 1.2]])
    with pytest.raises(ValueError, match="every row of q must sum to 1"):
        lvm.validate_responsibilities([[0.2, 0.2]])


def test_validate_counts_accepts_whole_floats_and_integers():
    assert lvm.validate_counts([1.0, 2.0]).tolist() == [1, 2]
    assert lvm.validate_counts(np.array([3, 0], dtype=np.uint8)).dtype == np.int64


def test_make_rng_passes_generators_through_and_seeds_integers():
    g = np.random.default_rng(1)
    assert lvm.make_rng(g) is g
    assert lvm.make_rng(5).integers(1000) == np.random.default_rng(5).integers(1000)


def test_validate_positive_int_rejects_bools_and_caps_at_n():
    assert lvm.validate_positive_int(3, "C", at_most=3) == 3
    with pytest.raises(ValueError, match="C must be a positive integer; got True"):
        lvm.validate_positive_int(True, "C")
    with pytest.raises(ValueError, match="C must be at most the number of points N = 2; got 3"):
        lvm.validate_positive_int(3, "C", at_most=2)


@pytest.mark.parametrize("value", [-1e-9, float("nan"), float("inf"), "0.1", True])
def test_one_rule_for_every_tolerance_and_reg_covar(value):
    for call in (lambda: lvm.validate_nonnegative(value, "reg_covar"),
                 lambda: lvm.m_step_from_stats(lvm.sufficient_statistics(lvm.mu_true, lvm.pi_true, lvm.mu_true,
                                                                         lvm.validate_covariances(lvm.sigma_true)[1]),
                                               reg_covar=value)):
        with pytest.raises(ValueError, match="reg_covar must be a non-negative finite number"):
            call()
    X, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=0)
    for fit in (lvm.fit_gmm, lvm.fit_vb_gmm):
        with pytest.raises(ValueError, match="tol must be a non-negative finite number"):
            fit(X, 3, tol=value)
    with pytest.raises(ValueError, match="reg_covar must be a non-negative finite number"):
        lvm.online_em(X, (lvm.pi_true, lvm.mu_true, lvm.sigma_true), reg_covar=value)
