"""The stored outputs do not depend on the CPU or on the number of BLAS threads.

The main nbval run of ``make test`` compares every notebook with its stored outputs
on this machine's OpenBLAS kernel, with one thread. Readers and CI machines have
other CPUs: OpenBLAS picks kernels by CPU (AVX-512 on SkylakeX, AVX2 with FMA on
Haswell and Zen, AVX without FMA on SandyBridge), and different kernels round
differently in the last bits. A printed number or iteration count that depends on
those bits is a defect of the chapter. Here every notebook is re-run by nbval under
each of the other kernels (``OPENBLAS_CORETYPE``, which the numpy and scipy wheels'
OpenBLAS honours) with one thread, and under this machine's kernel with two threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from book_notebooks import ROOT, notebooks

# (kernel, threads): every kernel family x86-64 readers get, plus a second thread.
VARIANTS = [("Haswell", 1), ("Zen", 1), ("SandyBridge", 1), (None, 2)]


def _variant_id(variant):
    kernel, threads = variant
    return f"{kernel or 'native'}-{threads}thread"


@pytest.mark.parametrize("variant", VARIANTS, ids=_variant_id)
def test_stored_outputs_are_reproduced_under_other_blas_kernels(variant):
    kernel, threads = variant
    # as the main nbval run: the kernel's inline backend stores the figures it compares
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "MPLBACKEND")}
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    if kernel is not None:
        env["OPENBLAS_CORETYPE"] = kernel
    paths = [str(p.relative_to(ROOT)) for p in notebooks()]

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
         "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-q", "-x", *paths],
        cwd=ROOT, env=env, capture_output=True, text=True)

    assert run.returncode == 0, f"nbval under {_variant_id(variant)}:\n{run.stdout[-6000:]}"


def test_the_kernel_override_reaches_openblas():
    """OPENBLAS_CORETYPE really selects another kernel (else the test above proves nothing)."""
    probe = ("import numpy, scipy.linalg, json; from threadpoolctl import threadpool_info; "
             "print(json.dumps([i.get('architecture') for i in threadpool_info() "
             "if i.get('internal_api') == 'openblas']))")
    env = dict(os.environ, OPENBLAS_CORETYPE="SandyBridge")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    architectures = [a.lower() for a in json.loads(out.stdout)]
    assert architectures and set(architectures) == {"sandybridge"}, out.stdout
