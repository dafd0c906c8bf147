"""Benchmark of EM at scale (chapter 9): in memory vs Dask, and a streamed fit of 1e8 points.

Run with ``make bench`` (BLAS threads are not pinned there) or
``.venv/bin/python benchmarks/bench_scale.py``. It measures, for a mixture with
D = 10 and C = 5:

* seconds per EM iteration and points per second at N = 1e6 and 1e7 for the
  in-memory EM, `fit_gmm_dask` on the same array with Dask's local (threaded)
  scheduler, and `fit_gmm_dask` on a LocalCluster of two worker processes with
  the same rows persisted in the workers' memory;
* a streamed fit at N = 1e8 (the rows generated chunk by chunk by
  `mixture_dask_array` on the two-process cluster, never held in memory), with
  its peak resident memory (this process plus every child process, sampled by
  a thread every 20 ms) against the 8 GB the rows would take in memory;
* this machine's memory bandwidth (best of a few sums over 1 GiB), to compare
  with the bytes each iteration reads.

Few iterations are timed (it is a measurement of cost per iteration, not a fit
to convergence). Writes ``benchmarks/results/scale.md`` and ``scale.png``.
``--quick`` runs a small version (N up to 1e6, streamed 2e6) to try the script.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import latent_variable_models_util as lvm  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SEED = 2026
D, C = 10, 5
CHUNK = 250_000           # rows per chunk: 20 MB of float64 at D = 10


def benchmark_mixture(seed=SEED):
    """A well-separated mixture with D = 10, C = 5: weights, means, covariances."""
    rng = np.random.default_rng(seed)
    pi = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    mu = rng.normal(scale=3.0, size=(C, D))
    A = rng.normal(size=(C, D, D)) / np.sqrt(D)
    sigma = A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)
    return pi, mu, sigma


def start_params(pi, mu, sigma):
    """A start near, not at, the truth, so every timed iteration does real work."""
    return np.full(C, 1.0 / C), mu + 0.5, 1.5 * sigma


class PeakRSS:
    """Sample the summed resident memory of this process and all its children in a thread."""

    def __init__(self, interval=0.02):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        import psutil
        self._me = psutil.Process()

    def _rss(self):
        import psutil
        total = 0
        for p in [self._me] + self._me.children(recursive=True):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self):
        self.start_rss = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


def memory_bandwidth(gib=1.0, repeats=5):
    """Read bandwidth in bytes/s: best of ``repeats`` sums over a ``gib`` GiB array."""
    a = np.ones(int(gib * 2**30) // 8)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best


def iteration_intervals(run):
    """Call ``run(callback)``; return the seconds between consecutive callbacks, shape (n_iter,).

    fit_gmm and fit_gmm_dask call back after the first pass (iteration 0) and
    after every M-step and pass, so one interval is one EM iteration.
    """
    import warnings

    stamps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lvm.EMConvergenceWarning)
        run(lambda *args: stamps.append(time.perf_counter()))
    return np.diff(stamps)


CONFIGS = ["in memory (NumPy)", "Dask, local threads", "Dask, 2-process cluster"]


def time_configs(n, pi, mu, sigma, init, k, rounds, client):
    """Intervals per iteration of the three configurations on the same N rows, interleaved over rounds.

    Interleaving spreads the disturbance of other jobs on a shared machine over
    all three configurations alike.
    """
    import dask
    import dask.array as da
    from distributed import wait
    from threadpoolctl import threadpool_limits

    lazy = lvm.mixture_dask_array(n, pi, mu, sigma, chunk_size=CHUNK, seed=SEED)
    with dask.config.set(scheduler="threads"), threadpool_limits(limits=1, user_api="blas"):
        X = lazy.compute()                       # the same rows, in this process's memory
    persisted = client.persist(lazy)             # and in the two workers' memory
    wait(persisted)
    runs = {
        # fit_gmm on all cores (each thread with a one-thread BLAS), like Dask's thread pool.
        CONFIGS[0]: lambda cb: lvm.fit_gmm(X, C, init=init, max_iter=k, tol=0.0, callback=cb,
                                           n_threads=os.cpu_count()),
        CONFIGS[1]: lambda cb: lvm.fit_gmm_dask(da.from_array(X, chunks=(CHUNK, D)), init, max_iter=k,
                                                tol=0.0, callback=cb),
        CONFIGS[2]: lambda cb: lvm.fit_gmm_dask(persisted, init, max_iter=k, tol=0.0, client=client,
                                                callback=cb),
    }
    intervals = {name: [] for name in CONFIGS}
    for _ in range(rounds):
        for name in CONFIGS:
            with dask.config.set(scheduler="threads"):   # local runs: not the Client (now the default)
                intervals[name] += list(iteration_intervals(runs[name]))
    del persisted
    return intervals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    args = parser.parse_args(argv)
    from dask.distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    sizes = [10**5, 10**6] if args.quick else [10**6, 10**7]
    n_stream = 2 * 10**6 if args.quick else 10**8
    iters, rounds = {sizes[0]: 3, sizes[1]: 2}, 3
    stream_iters = 2          # M-steps: three passes over the 1e8 rows, two timed intervals
    pi, mu, sigma = benchmark_mixture()
    init = start_params(pi, mu, sigma)
    rows = []

    bandwidth = memory_bandwidth(0.25 if args.quick else 1.0)
    print(f"memory read bandwidth: {bandwidth / 1e9:.1f} GB/s", flush=True)

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        for n in sizes:
            intervals = time_configs(n, pi, mu, sigma, init, iters[n], rounds, client)
            best_memory = min(intervals[CONFIGS[0]])
            for name in CONFIGS:
                t = np.array(intervals[name])
                rows.append((name, n, len(t), t.min(), float(np.median(t)), t.min() / best_memory - 1.0))
                print(f"N={n:.0e} {name}: min {t.min():.3f}, median {np.median(t):.3f} s/iteration", flush=True)

        stream = lvm.mixture_dask_array(n_stream, pi, mu, sigma, chunk_size=CHUNK, seed=SEED)
        client.run(lambda: __import__("gc").collect())
        with PeakRSS() as mem:
            t = iteration_intervals(lambda cb: lvm.fit_gmm_dask(
                stream, init, max_iter=stream_iters, tol=0.0, client=client, callback=cb))
        rows.append(("Dask streamed, 2-process cluster", n_stream, len(t), t.min(), float(np.median(t)), np.nan))
        print(f"N={n_stream:.0e} streamed: min {t.min():.1f} s/iteration, peak RSS {mem.peak / 2**30:.2f} GiB",
              flush=True)
    finally:
        client.close()
        cluster.close()

    # Generation cost alone (it is part of every streamed iteration), on one chunk in this process.
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        lvm.mixture_dask_array(CHUNK, pi, mu, sigma, chunk_size=CHUNK, seed=SEED).compute(scheduler="sync")
        gen_rate = CHUNK / (time.perf_counter() - t0)

    write_results(rows, mem, bandwidth, gen_rate, n_stream, sizes, args.quick)


def write_results(rows, mem, bandwidth, gen_rate, n_stream, sizes, quick):
    RESULTS.mkdir(parents=True, exist_ok=True)
    data_bytes = n_stream * D * 8
    big = sizes[-1]
    overhead = {r[0]: r[-1] for r in rows if r[1] == big}
    lines = [
        "# EM at scale: benchmark results",
        "",
        f"Mixture with D = {D}, C = {C}; chunks of {CHUNK:,} rows ({CHUNK * D * 8 / 1e6:.0f} MB). "
        f"Machine: {os.cpu_count()} logical CPUs ({platform.machine()}), shared with other jobs "
        f"(load average {os.getloadavg()[0]:.1f} when the run ended), so single timings vary by tens of "
        "per cent. BLAS threads not pinned. "
        "Each configuration ran in interleaved rounds; *s / iteration* is the fastest timed "
        "iteration (the one least disturbed by other jobs), the median is shown beside it, and the "
        "overhead compares fastest with fastest" + (" (quick run: small sizes)." if quick else "."),
        "",
        "| configuration | N | iterations timed | s / iteration | median | points / s | overhead vs in memory "
        "| bytes read / iteration | that read at memory bandwidth |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, n, k, t, t_med, o in rows:
        nbytes = n * D * 8
        over = "--" if np.isnan(o) else f"{100 * o:+.0f} %"
        lines.append(f"| {name} | {n:.0e} | {k} | {t:.3f} | {t_med:.3f} | {n / t:.3g} | {over} | "
                     f"{nbytes / 1e9:.2f} GB | {nbytes / bandwidth:.3f} s |")
    lines += [
        "",
        "| quantity | value |",
        "| --- | ---: |",
        f"| measured memory read bandwidth | {bandwidth / 1e9:.1f} GB/s |",
        f"| Dask overhead at N = {big:.0e}, local threads | {100 * overhead['Dask, local threads']:+.0f} % |",
        f"| Dask overhead at N = {big:.0e}, 2-process cluster | "
        f"{100 * overhead['Dask, 2-process cluster']:+.0f} % |",
        f"| streamed fit, N = {n_stream:.0e}: size of the data in memory | {data_bytes / 1e9:.1f} GB "
        f"({data_bytes / 2**30:.2f} GiB) |",
        f"| streamed fit: peak resident memory (all processes) | {mem.peak / 2**30:.2f} GiB |",
        f"| streamed fit: resident memory before the fit | {mem.start_rss / 2**30:.2f} GiB |",
        f"| generating the data alone (one process) | {gen_rate:.3g} points / s |",
        "",
    ]
    (RESULTS / "scale.md").write_text("\n".join(lines))
    plot_results(rows, mem, data_bytes, RESULTS / "scale.png")
    print("\n".join(lines))


def plot_results(rows, mem, data_bytes, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lvm.set_book_style()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    names = CONFIGS
    colors = ["0.45", "tab:blue", "tab:orange"]
    sizes = sorted({r[1] for r in rows if r[0] in names})
    width = 0.25
    for j, (name, color) in enumerate(zip(names, colors)):
        rate = [next(r[1] / r[3] / 1e6 for r in rows if r[0] == name and r[1] == size) for size in sizes]
        ax0.bar(np.arange(len(sizes)) + (j - 1) * width, rate, width, color=color, label=name)
    stream = next(r for r in rows if r[0].startswith("Dask streamed"))
    ax0.bar(len(sizes), stream[1] / stream[3] / 1e6, width, color="tab:green", label="Dask streamed (generated)")
    ax0.set_xticks(np.arange(len(sizes) + 1), [f"N = {n:.0e}" for n in sizes] + [f"N = {stream[1]:.0e}\nstreamed"])
    ax0.set_ylabel("million points per second")
    ax0.set_title("Throughput of one EM iteration (D = 10, C = 5)")
    ax0.legend(loc="upper right", fontsize=9)
    ax1.bar([0, 1], [data_bytes / 2**30, mem.peak / 2**30], color=["0.6", "tab:green"])
    ax1.axhline(2.0, color="tab:red", linestyle="--", label="target: 2 GiB")
    ax1.set_xticks([0, 1], ["data size\nin memory", "peak RSS of\nstreamed fit"])
    ax1.set_ylabel("GiB")
    ax1.set_title(f"Memory, N = {stream[1]:.0e}")
    ax1.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
