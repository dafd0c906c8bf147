"""Validation: bad input gets a ValueError that names the argument and what was expected."""

import numpy as np
import pytest

import latent_variable_models_util as lvm


def test_check_data_returns_float64_and_names_the_argument():
    out = lvm.validate_data([[1, 2], [3, 4]])
    assert out.dtype == np.float64 and out.shape == (2, 2)
    with pytest.raises(ValueError, match="Y must be a 2-D array; got shape"):
        lvm.validate_data([1, 2], name="Y")
    with pytest.raises(ValueError, match="X must be an array of numbers"):
        lvm.validate_data([["a", "b"]])


def test_check_weights_accepts_a_valid_simplex_point():
    np.testing.assert_array_equal(lvm.validate_weights([0.25, 0.75], 2), [0.25, 0.75])


def test_check_means_checks_both_dimensions():
    with pytest.raises(ValueError, match="mu must have 4 rows"):
        lvm.validate_means(np.zeros((3, 2)), 4, 2)
    with pytest.raises(ValueError, match="mu must have 5 columns"):
        lvm.validate_means(np.zeros((3, 2)), 3, 5)


def test_check_covariances_returns_cholesky_factors():
    sigma, chol = lvm.validate_covariances(lvm.sigma_true)
    np.testing.assert_allclose(chol @ np.swapaxes(chol, 1, 2), sigma, rtol=1e-14)
    with pytest.raises(ValueError, match="square matrices"):
        lvm.validate_covariances(np.zeros((2, 2, 3)))


def test_check_responsibilities_requires_probability_rows():
    q = lvm.validate_responsibilities([[0.2, 0.8], [1.0, 0.0]], n_samples=2)
    assert q.shape == (2, 2)
    with pytest.raises(ValueError, match="q must have 3 rows"):
        lvm.validate_responsibilities([[0.2, 0.8]], n_samples=3)
    with pytest.raises(ValueError, match=r"q must hold probabilities in \[0, 1\]"):
        lvm.validate_responsibilities([[-0.2, 1.2]])
    with pytest.raises(ValueError, match="every row of q must sum to 1"):
        lvm.validate_responsibilities([[0.2, 0.2]])


def test_check_counts_accepts_whole_floats_and_integers():
    assert lvm.validate_counts([1.0, 2.0]).tolist() == [1, 2]
    assert lvm.validate_counts(np.array([3, 0], dtype=np.uint8)).dtype == np.int64


def test_make_rng_passes_generators_through_and_seeds_integers():
    g = np.random.default_rng(1)
    assert lvm.make_rng(g) is g
    assert lvm.make_rng(5).integers(1000) == np.random.default_rng(5).integers(1000)
