"""lvmbook.convergence: the EM map on one parameter vector, its Jacobian, SQUAREM."""

import numpy as np
import pytest

import latent_variable_models_util as lvm
from lvmbook import convergence as cv


def _random_mixture(rng, C, D):
    pi = rng.dirichlet(np.ones(C))
    mu = rng.normal(size=(C, D))
    A = rng.normal(size=(C, D, D))
    sigma = A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)
    return pi, mu, sigma


@pytest.fixture(scope="module")
def overlapping():
    """Two overlapping clusters (means 2 apart), where EM is slow."""
    rng = np.random.default_rng(0)
    X, _ = lvm.generate_data(
        np.array([150, 150]),
        np.array([[0.0, 0.0], [2.0, 0.0]]),
        np.array([np.eye(2), np.eye(2)]),
        seed=rng,
    )
    start = cv.pack_params(*lvm.random_init_params(X, 2, seed=rng))
    return X, start


@pytest.mark.parametrize("C, D", [(1, 1), (2, 1), (3, 2), (2, 3)])
def test_pack_then_unpack_returns_the_same_mixture(C, D):
    pi, mu, sigma = _random_mixture(np.random.default_rng(C + 10 * D), C, D)
    theta = cv.pack_params(pi, mu, sigma)
    assert theta.shape == (cv.n_params(C, D),)
    pi2, mu2, sigma2, chol2 = cv.unpack_params(theta, C, D)
    np.testing.assert_allclose(pi2, pi, rtol=1e-12)
    np.testing.assert_allclose(mu2, mu, rtol=1e-12)
    np.testing.assert_allclose(sigma2, sigma, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(chol2 @ np.swapaxes(chol2, 1, 2), sigma2, rtol=1e-12)


def test_every_vector_is_a_valid_mixture():
    rng = np.random.default_rng(3)
    for _ in range(20):
        pi, mu, sigma, _ = cv.unpack_params(
            3.0 * rng.normal(size=cv.n_params(3, 2)), 3, 2
        )
        assert np.isclose(pi.sum(), 1.0) and np.all(pi > 0)
        assert np.all(np.linalg.eigvalsh(sigma) > 0)


def test_parameter_count_is_weights_means_and_cholesky_factors():
    assert cv.n_params(3, 2) == 2 + 6 + 9
    assert cv.n_params(2, 1) == 1 + 2 + 2


@pytest.mark.parametrize(
    "theta, match",
    [
        (np.zeros(4), r"shape \(5,\)"),
        (np.array([0.0, 0.0, 1.0, np.nan, 0.0]), "finite"),
    ],
)
def test_unpack_rejects_bad_vectors(theta, match):
    with pytest.raises(ValueError, match=match):
        cv.unpack_params(theta, 2, 1)


def test_pack_rejects_zero_weights_and_indefinite_covariances():
    with pytest.raises(ValueError, match="pi"):
        cv.pack_params([1.0, 0.0], np.zeros((2, 1)), np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match="positive definite"):
        cv.pack_params([0.5, 0.5], np.zeros((2, 1)), -np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match="C"):
        cv.n_params(0, 2)


def test_em_step_is_the_library_e_step_then_m_step(overlapping):
    X, theta = overlapping
    pi, mu, sigma, _ = cv.unpack_params(theta, 2, 2)
    new, ll = cv.em_step(theta, X, 2)
    q = lvm.e_step(X, pi, mu, sigma)
    expected = cv.pack_params(*lvm.m_step(X, q))
    np.testing.assert_allclose(new, expected, rtol=1e-10, atol=1e-12)
    assert np.isclose(ll, lvm.gmm_log_density(X, pi, mu, sigma).sum(), rtol=1e-12)
    np.testing.assert_array_equal(cv.em_map(theta, X, 2), new)


def test_numerical_jacobian_of_a_linear_map_is_its_matrix():
    A = np.array([[0.5, 0.2, 0.0], [0.1, -0.3, 1.0]])
    J = cv.numerical_jacobian(lambda t: A @ t + 1.0, np.array([1.0, -2.0, 0.5]))
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J, A, atol=1e-9)


def test_numerical_jacobian_of_a_nonlinear_map():
    J = cv.numerical_jacobian(
        lambda t: np.array([np.sin(t[0]) * t[1]]), np.array([0.3, 2.0])
    )
    np.testing.assert_allclose(J, [[np.cos(0.3) * 2.0, np.sin(0.3)]], rtol=1e-8)


def test_numerical_jacobian_rejects_a_bad_step():
    with pytest.raises(ValueError, match="h"):
        cv.numerical_jacobian(lambda t: t, np.zeros(2), h=0.0)


def test_spectral_radius():
    assert np.isclose(
        cv.spectral_radius([[0.0, -0.9], [0.9, 0.0]]), 0.9
    )  # complex pair
    with pytest.raises(ValueError, match="square"):
        cv.spectral_radius(np.zeros((2, 3)))


def _fixed_point(X, theta, n=4000, tol=1e-13):
    for _ in range(n):
        new = cv.em_map(theta, X, 2)
        if np.linalg.norm(new - theta) < tol:
            return new
        theta = new
    raise AssertionError("EM did not converge")


def test_em_error_shrinks_by_the_spectral_radius_of_the_jacobian(overlapping):
    X, start = overlapping
    res = cv.squarem(lambda t: cv.em_step(t, X, 2), start, tol=1e-13, max_passes=5000)
    star = _fixed_point(X, res.theta)
    J = cv.numerical_jacobian(lambda t: cv.em_map(t, X, 2), star)
    rho = cv.spectral_radius(J)
    assert 0.5 < rho < 1.0
    # Plain EM from a point near the optimum: the error ratio tends to rho.
    values, vectors = np.linalg.eig(J)
    lead = np.real(vectors[:, np.argmax(np.abs(values))])
    theta = star + 1e-4 * lead
    errors = [np.linalg.norm(theta - star)]
    for _ in range(15):
        theta = cv.em_map(theta, X, 2)
        errors.append(np.linalg.norm(theta - star))
    ratio = errors[-1] / errors[-2]
    assert abs(ratio - rho) < 1e-3, (ratio, rho)


def test_squarem_solves_a_linear_fixed_point_in_few_passes():
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    A = Q @ np.diag([0.99, 0.95, 0.9, 0.5, 0.3, 0.1]) @ Q.T
    target = rng.normal(size=6)

    def step(t):  # a contraction towards target; the objective rises along it
        return target + A @ (t - target), -np.sum((t - target) ** 2)

    res = cv.squarem(step, np.zeros(6), tol=1e-12, max_passes=5000)
    assert res.converged
    np.testing.assert_allclose(res.theta, target, atol=1e-9)
    assert (
        res.passes[-1] < 300
    )  # plain iteration needs about 2,700 steps (0.99**2700 ~ 2e-12)
    assert len(res.objective) == len(res.passes)


def test_squarem_on_em_is_monotone_and_faster_than_em(overlapping):
    X, start = overlapping
    res = cv.squarem(lambda t: cv.em_step(t, X, 2), start, tol=1e-10, max_passes=3000)
    assert res.converged
    assert np.all(np.diff(res.objective) > -1e-9)  # never falls, up to rounding
    ll_final = res.objective[-1]
    theta, em_passes = start, 0
    while True:
        theta, ll = cv.em_step(theta, X, 2)
        if ll > ll_final - 1e-6:
            break
        em_passes += 1
    squarem_passes = res.passes[
        int(np.argmax(np.array(res.objective) > ll_final - 1e-6))
    ]
    assert 2 * squarem_passes < em_passes


def test_squarem_falls_back_when_extrapolation_lowers_the_objective():
    # The step halves the distance to 0, but the objective punishes leaving [-1, 1]:
    # every extrapolation that overshoots is rejected and the iteration stays monotone.
    def step(t):
        obj = -np.sum(t**2) - 100.0 * np.sum(np.maximum(np.abs(t) - 1.0, 0.0))
        return np.where(np.abs(t) > 0.9, 0.5 * t, 0.999 * t), obj

    res = cv.squarem(step, np.array([0.95, -0.5]), tol=1e-8, max_passes=400)
    assert np.all(np.diff(res.objective) >= 0)


def test_squarem_falls_back_when_the_step_fails():
    # The step works only at points that plain iteration reaches (an EM step
    # raises, for example, when a component collapses): every extrapolation
    # fails, and SQUAREM still converges, monotonically, by plain steps.
    rates = np.array([0.9, 0.5])
    reached = {(0.0, 0.0)}

    def step(t):
        if tuple(t) not in reached:
            raise ValueError("collapsed")
        new = 5.0 + rates * (t - 5.0)
        reached.add(tuple(new))
        return new, -np.sum((t - 5.0) ** 2)

    res = cv.squarem(step, np.zeros(2), tol=1e-10, max_passes=2000)
    assert res.converged and res.n_fallbacks >= 1
    assert len(res.rejected_at) == res.n_fallbacks
    assert res.rejected_at == sorted(res.rejected_at) and res.rejected_at[0] >= 3
    np.testing.assert_allclose(res.theta, [5.0, 5.0], atol=1e-8)
    assert np.all(np.diff(res.objective) >= 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(step=None), "step"),
        (dict(theta0=np.array([np.nan])), "theta0"),
        (dict(tol=0.0), "tol"),
        (dict(max_passes=0), "max_passes"),
        (dict(mstep=1.0), "mstep"),
    ],
)
def test_squarem_rejects_bad_arguments(kwargs, match):
    args = dict(step=lambda t: (0.5 * t, 0.0), theta0=np.ones(1))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cv.squarem(**args)
