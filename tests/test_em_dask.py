"""EM at scale (lvmbook.dask_em and lvmbook.online_em): Dask batch EM, the seeded generator, online EM.

Pins down: the Dask fit equals the in-memory EM to 1e-10 whatever the chunking,
the scheduler (local threads, a two-process LocalCluster) and a worker killed in
the middle of a fit; the generator's data do not depend on the chunking; bad
input is refused with a ValueError before anything runs; online EM ends near the
batch solution. One LocalCluster is shared by the whole module.
"""

import concurrent.futures
import logging
import os

import numpy as np
import pytest

import latent_variable_models_util as lvm

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.filterwarnings("ignore::latent_variable_models_util.EMConvergenceWarning")

TOL = 1e-10          # parameters of two fits from the same start
N_SMALL = 30_000     # rows in the equality tests
N_ITER = 12          # iterations of every equality fit (tol=0: exactly this many)
FIT_TIMEOUT = 60     # seconds; a fit that takes longer fails the test


@pytest.fixture(scope="module")
def cluster_client():
    """Two single-threaded worker processes on 127.0.0.1, shared by this module's tests."""
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    """The book's mixture, N_SMALL rows, as a lazy dask.array and the same values in memory."""
    X = lvm.mixture_dask_array(N_SMALL, chunk_size=7_000, seed=8)
    return X, X.compute()


def start_params(X):
    """A deliberately poor start, so the fits move far: three rows as means, unit covariances."""
    return np.full(3, 1 / 3), X[[0, 1, 2]].copy(), np.stack([np.eye(2)] * 3)


def in_memory_em(X, init, n_iter):
    """The in-memory EM of lvmbook.fast_em (fit_gmm), exactly n_iter M-steps from init."""
    return lvm.fit_gmm(X, 3, init=init, max_iter=n_iter, tol=0.0, n_threads=1)


def max_param_diff(fit, ref):
    """Largest absolute difference between the two fits' pi, mu and sigma."""
    return max(np.abs(getattr(fit, k) - getattr(ref, k)).max() for k in ("pi", "mu", "sigma"))


@pytest.fixture(scope="module")
def reference(data):
    _, Xn = data
    init = start_params(Xn)
    return init, in_memory_em(Xn, init, N_ITER)


# --- the generator --------------------------------------------------------------

@pytest.mark.parametrize("chunks", [1_000, 7_000, 10_000, 30_000, (4_321, 15_679, 10_000)])
def test_generator_gives_the_same_rows_whatever_the_chunking(data, chunks):
    _, Xn = data
    X = lvm.mixture_dask_array(N_SMALL, chunk_size=chunks, seed=8)
    assert X.chunks[1] == (2,)
    np.testing.assert_array_equal(X.compute(), Xn)


def test_generator_prefix_does_not_depend_on_n_and_seed_changes_the_data(data):
    _, Xn = data
    np.testing.assert_array_equal(lvm.mixture_dask_array(12_345, chunk_size=5_000, seed=8).compute(),
                                  Xn[:12_345])
    other = lvm.mixture_dask_array(N_SMALL, chunk_size=7_000, seed=9).compute()
    assert np.abs(other - Xn).max() > 1.0


def test_generator_draws_the_books_mixture():
    X = lvm.mixture_dask_array(200_000, chunk_size=50_000, seed=1).compute()
    mean_true = lvm.pi_true @ lvm.mu_true
    # Standard error of each mean is below 2.5 / sqrt(2e5) ~ 0.006.
    np.testing.assert_allclose(X.mean(axis=0), mean_true, atol=0.03)


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        lvm.mixture_dask_array(0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        lvm.mixture_dask_array(10, seed=-1)
    with pytest.raises(ValueError, match="chunk_size must be positive sizes summing to n=10"):
        lvm.mixture_dask_array(10, chunk_size=(4, 4))
    with pytest.raises(ValueError, match="pass all of pi, mu and sigma"):
        lvm.mixture_dask_array(10, mu=lvm.mu_true)


# --- batch EM on Dask: equality with the in-memory EM ----------------------------

@pytest.mark.parametrize("chunks", [1_000, 7_000, (29_999, 1), N_SMALL])
def test_dask_fit_on_the_local_scheduler_equals_in_memory_em(data, reference, chunks):
    _, Xn = data
    init, ref = reference
    X = da.from_array(Xn, chunks=(chunks, 2))
    fit = lvm.fit_gmm_dask(X, init, max_iter=N_ITER, tol=0.0)
    assert fit.n_iter == N_ITER and len(fit.lower_bound_history) == N_ITER + 1
    assert max_param_diff(fit, ref) < TOL
    np.testing.assert_allclose(fit.lower_bound_history, ref.lower_bound_history, rtol=1e-12)


def test_dask_fit_of_a_numpy_array_and_of_the_lazy_generator_equal_in_memory_em(data, reference):
    X, Xn = data
    init, ref = reference
    assert max_param_diff(lvm.fit_gmm_dask(Xn, init, max_iter=N_ITER, tol=0.0, chunk_size=4_000), ref) < TOL
    assert max_param_diff(lvm.fit_gmm_dask(X, init, max_iter=N_ITER, tol=0.0), ref) < TOL


def test_converged_fit_stops_where_fit_gmm_stops_and_reports_every_iteration(data, reference):
    X, Xn = data
    init, _ = reference
    calls = []
    fit = lvm.fit_gmm_dask(X, init, max_iter=500, tol=1e-9, callback=lambda *a: calls.append(a))
    ref = lvm.fit_gmm(Xn, 3, init=init, max_iter=500, tol=1e-9)
    assert fit.converged and ref.converged and fit.n_iter == ref.n_iter < 500
    assert max_param_diff(fit, ref) < TOL
    assert abs(fit.log_likelihood - ref.log_likelihood) < 1e-8
    assert [c[:2] for c in calls] == [(0, i) for i in range(fit.n_iter + 1)]
    assert [c[2] for c in calls] == fit.lower_bound_history
    # EM never decreases the log-likelihood (the bound of Eq. (13) is tight after each E-step).
    assert np.all(np.diff(fit.lower_bound_history) > -1e-9 * N_SMALL)


def test_without_convergence_the_fit_warns_like_fit_gmm(data, reference):
    X, _ = data
    init, _ = reference
    with pytest.warns(lvm.EMConvergenceWarning, match="did not converge in max_iter = 2"):
        lvm.fit_gmm_dask(X, init, max_iter=2, tol=1e-12)


def test_print_progress_writes_one_line_per_iteration(data, reference, capsys):
    X, _ = data
    init, _ = reference
    lvm.fit_gmm_dask(X, init, max_iter=2, tol=0.0, callback=lvm.print_progress)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("restart 0, iteration    2: log-likelihood -")


def test_dask_fit_on_a_two_process_cluster_equals_in_memory_em(cluster_client, data, reference):
    X, Xn = data
    init, ref = reference
    assert len(cluster_client.scheduler_info()["workers"]) == 2
    assert max_param_diff(lvm.fit_gmm_dask(X, init, max_iter=N_ITER, tol=0.0, client=cluster_client), ref) < TOL
    fit = lvm.fit_gmm_dask(Xn, init, max_iter=N_ITER, tol=0.0, client=cluster_client, chunk_size=3_000)
    assert max_param_diff(fit, ref) < TOL


@pytest.mark.parametrize("source", ["generator", "numpy"])
def test_fit_survives_a_worker_killed_mid_fit(cluster_client, data, reference, source):
    import psutil

    X, Xn = data
    init, ref = reference
    client = cluster_client
    client.wait_for_workers(2, timeout=FIT_TIMEOUT)
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed = []

    def kill_after_second_iteration(restart, iteration, *_):
        if iteration == 2:
            psutil.Process(pids[victim]).kill()
            killed.append(victim)

    # persist=True: the chunks live in the workers' memory, so the kill loses some and
    # Dask must recompute them (from the seeded generator, or from the array it was sent).
    kwargs = dict(max_iter=N_ITER, tol=0.0, client=client, callback=kill_after_second_iteration, persist=True)
    data_in = X if source == "generator" else Xn
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(lvm.fit_gmm_dask, data_in, init, chunk_size=3_000, **kwargs)
        try:
            fit = future.result(timeout=FIT_TIMEOUT)
        except concurrent.futures.TimeoutError:
            pytest.fail(f"the fit did not finish within {FIT_TIMEOUT} s after a worker was killed")
    assert killed == [victim]
    assert not psutil.pid_exists(pids[victim]) or psutil.Process(pids[victim]).status() == psutil.STATUS_ZOMBIE
    assert fit.n_iter == N_ITER
    assert max_param_diff(fit, ref) < TOL


# --- bad input: refused before anything is scheduled ------------------------------

def _explodes():
    raise RuntimeError("the data were read")


def never_read(n=1_000, d=2, chunks=500):
    """A dask.array whose chunks raise RuntimeError if anything ever computes them."""
    import dask

    blocks = [da.from_delayed(dask.delayed(_explodes)(), shape=(chunks, d), dtype=float) for _ in range(n // chunks)]
    return da.concatenate(blocks)


def test_bad_shapes_are_refused_before_any_chunk_is_read():
    X = never_read()
    init = start_params(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"X must be chunked along N \(rows\) only"):
        lvm.fit_gmm_dask(X.rechunk((500, 1)), init)
    with pytest.raises(ValueError, match="X must not be empty"):
        lvm.fit_gmm_dask(da.zeros((0, 2), chunks=(10, 2)), init)
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        lvm.fit_gmm_dask(da.zeros((10,), chunks=5), init)
    pi, mu, sigma = init
    with pytest.raises(ValueError, match="mu must have 2 columns"):
        lvm.fit_gmm_dask(X, (pi, np.zeros((3, 3)), sigma))
    with pytest.raises(ValueError, match=r"pi must have shape \(3,\)"):
        lvm.fit_gmm_dask(X, (np.full(2, 0.5), mu, sigma))
    with pytest.raises(ValueError, match="sigma must hold 3 matrices"):
        lvm.fit_gmm_dask(X, (pi, mu, sigma[:2]))
    with pytest.raises(ValueError, match=r"sigma\[1\] must be positive definite"):
        lvm.fit_gmm_dask(X, (pi, mu, np.stack([np.eye(2), -np.eye(2), np.eye(2)])))
    with pytest.raises(ValueError, match="init must be"):
        lvm.fit_gmm_dask(X, (pi, mu))
    with pytest.raises(ValueError, match="tol must be a non-negative finite number"):
        lvm.fit_gmm_dask(X, init, tol=-1.0)


def test_nan_in_a_numpy_array_is_refused_up_front():
    X = np.zeros((100, 2))
    X[17, 1] = np.nan
    with pytest.raises(ValueError, match="X must hold only finite values"):
        lvm.fit_gmm_dask(X, start_params(np.arange(6.0).reshape(3, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_in_lazy_chunks_stop_the_first_pass_and_name_the_chunks(data, bad):
    _, Xn = data
    Xb = Xn.copy()
    Xb[7_500, 0] = bad        # chunks of 3_000 rows: row 7_500 is in chunk 2
    Xb[25_000, 1] = bad       # and row 25_000 in chunk 8
    X = da.from_array(Xb, chunks=(3_000, 2))
    calls = []
    with pytest.raises(ValueError, match=r"finite values; found NaN or infinity in chunk 2 \(1 values\), chunk 8"):
        lvm.fit_gmm_dask(X, start_params(Xn), callback=calls.append)
    assert calls == []  # no M-step, no iteration completed


# --- online EM --------------------------------------------------------------------

def test_step_sizes_follow_the_schedule_and_reject_bad_exponents():
    np.testing.assert_allclose(lvm.step_sizes(3, kappa=0.6, k0=10.0), np.array([11.0, 12.0, 13.0]) ** -0.6)
    np.testing.assert_allclose(lvm.step_sizes(2, kappa=1.0, k0=0.0), [1.0, 0.5])
    for kappa in (0.5, 0.3, 1.2):
        with pytest.raises(ValueError, match=r"kappa must lie in \(0.5, 1\]"):
            lvm.step_sizes(3, kappa=kappa)
    with pytest.raises(ValueError, match="k0 must be a non-negative finite number"):
        lvm.step_sizes(3, k0=-1.0)


def test_recentering_moves_the_moments_exactly():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    q = rng.dirichlet(np.ones(3), size=50)
    m, m2 = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))

    def about(center):
        Y = X[None] - center[:, None]                        # (C, N, D)
        return lvm.SuffStats(n=50, sum_q=q.sum(0), sum_qx=np.einsum("nc,cnd->cd", q, Y),
                             sum_qxx=np.einsum("nc,cnd,cne->cde", q, Y, Y), log_likelihood=-1.0, center=center)

    moved = about(m).recentered(m2)
    np.testing.assert_allclose(moved.sum_qx, about(m2).sum_qx, atol=1e-12)
    np.testing.assert_allclose(moved.sum_qxx, about(m2).sum_qxx, atol=1e-11)


@pytest.fixture(scope="module")
def batch_solution(data):
    """Converged batch EM on the module's data, from a start near the truth."""
    _, Xn = data
    init = (lvm.pi_true, lvm.mu_true + 0.5, lvm.sigma_true)
    fit = lvm.fit_gmm(Xn, 3, init=init, max_iter=500, tol=1e-12)
    assert fit.converged
    return init, fit


def test_online_em_ends_in_the_neighbourhood_of_the_batch_solution(data, batch_solution):
    _, Xn = data
    init, batch = batch_solution
    online = lvm.online_em(Xn, init, batch_size=500, n_epochs=3, kappa=0.6, k0=10.0, seed=0)
    assert online.n_steps == 3 * N_SMALL // 500
    assert online.points_seen[-1] == 3 * N_SMALL
    # Mini-batch noise leaves online EM near, not at, the batch optimum: means within
    # 0.1 (the components' standard deviations are 0.8-2.2) and weights within 0.02.
    assert np.abs(online.mu - batch.mu).max() < 0.1
    assert np.abs(online.pi - batch.pi).max() < 0.02
    ll_online = lvm.gmm_log_density(Xn, online.pi, online.mu, online.sigma).mean()
    assert batch.log_likelihood / N_SMALL - ll_online < 2e-3


def test_online_em_on_lazy_chunks_matches_its_numpy_run_in_quality(data, batch_solution):
    X, Xn = data
    init, batch = batch_solution
    online = lvm.online_em(X, init, batch_size=500, n_epochs=2, seed=1)
    assert online.points_seen[-1] == 2 * N_SMALL
    assert np.abs(online.mu - batch.mu).max() < 0.15


def test_online_em_rejects_bad_arguments(data):
    _, Xn = data
    init = start_params(Xn)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        lvm.online_em(Xn, init, batch_size=0)
    with pytest.raises(ValueError, match=r"kappa must lie in \(0.5, 1\]"):
        lvm.online_em(Xn, init, kappa=0.5)
    Xb = Xn.copy()
    Xb[10, 0] = np.nan
    with pytest.raises(ValueError, match="X must hold only finite values"):
        lvm.online_em(Xb, init)
    Xb = Xn[:4_000].copy()
    Xb[3_500, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity in chunk 3"):
        lvm.online_em(da.from_array(Xb, chunks=(1_000, 2)), init, seed=0)
