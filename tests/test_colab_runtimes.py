"""Every chapter runs alone on Colab's own library versions, not only on our pins.

Colab publishes the packages of its runtimes (``googlecolab/backend-info``); the two
we support are checked in under ``tests/colab_runtimes/`` with the commit they come
from: the current runtime and the newest pinnable past one. For each, a virtual
environment with the same minor Python and exactly those versions is built by
``scripts/colab_runtime_env.py`` (``build/colab-NAME``), and every chapter runs in
it as in ``tests/test_colab.py``: a lone copy in an empty folder, the stand-in
``google.colab`` module, the book fetched from a local server. The seconds each
chapter takes are written to ``test-artifacts/colab_runtime_times.json``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from book_notebooks import ROOT
from notebook_support import NOTEBOOK_IDS, NOTEBOOKS
from package_support import site_packages
from test_colab import checkout, colab_module, kernel_spec, run_as_in_colab  # noqa: F401  (fixtures)

RUNTIMES = sorted(p.stem for p in (ROOT / "tests" / "colab_runtimes").glob("*.txt"))
REPORTED = ("numpy", "scipy", "matplotlib", "scikit-learn")
TIMES = ROOT / "test-artifacts" / "colab_runtime_times.json"


def published_versions(runtime: str) -> dict[str, str]:
    text = (ROOT / "tests" / "colab_runtimes" / f"{runtime}.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", text, re.MULTILINE))
    python = re.search(r"^# python: (\d+\.\d+)", text, re.MULTILINE)[1]
    return {"python": python, **{name: pins[name] for name in REPORTED}}


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request, tmp_path_factory):
    """(name, kernel) of a kernel running in Colab runtime ``name``'s versions, where the
    chapters' set-up cell installs the book's package as it does in Colab."""
    name = request.param
    built = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_runtime_env.py"), name],
                           capture_output=True, text=True)
    if built.returncode == 3:
        pytest.skip(f"SKIPPED LOUDLY: Colab runtime {name} cannot be reproduced here: {built.stderr.strip()}")
    assert built.returncode == 0, built.stderr[-3000:]
    python = Path(built.stdout.strip().splitlines()[-1])
    folder = tmp_path_factory.mktemp(f"kernels-{name}")
    kernel = (kernel_spec(folder, python, f"colab-{name}"), f"colab-{name}", site_packages(python))
    return name, kernel


def test_runtime_files_name_their_backend_info_commit():
    for runtime in RUNTIMES:
        head = (ROOT / "tests" / "colab_runtimes" / f"{runtime}.txt").read_text()[:600]
        assert re.search(r"googlecolab/backend-info \(pip-freeze\.txt at commit [0-9a-f]{40}\)", head), runtime
        assert "scikit-learn" in published_versions(runtime)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_runs_alone_on_colab_runtime(notebook, runtime, tmp_path, checkout, colab_module):  # noqa: F811
    name, kernel = runtime
    start = time.perf_counter()

    used = run_as_in_colab(notebook, tmp_path, checkout, colab_module, kernel)

    elapsed = time.perf_counter() - start
    expected = published_versions(name)
    assert used["python"].rsplit(".", 1)[0] == expected.pop("python")
    assert {k: used[k] for k in expected} == expected
    TIMES.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times.setdefault(name, {})[notebook.stem] = round(elapsed, 1)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True))


def test_readme_states_the_colab_runtimes_we_test_and_the_floor_includes_them():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Supported library versions", 1)[1].split("\n## ", 1)[0]
    header = re.search(r"^\| library \|.*$", section, re.M)[0]
    columns = [c.strip() for c in header.strip("|").split("|")]
    rows = {r[0]: r for r in (
        [c.strip() for c in line.strip("|").split("|")]
        for line in section.splitlines() if re.match(r"^\| [a-z]", line) and not line.startswith("| library"))}
    for runtime, title in (("current", "Colab, current runtime"), ("2026.07", "Colab, runtime 2026.07")):
        column = columns.index(title)
        published = published_versions(runtime)
        for name, version in published.items():
            assert rows[name][column] == version, (runtime, name)
            low = tuple(int(x) for x in rows[name][1].split("."))
            assert low <= tuple(int(x) for x in version.split("."))[:len(low)], (name, low, version)
