"""Every chapter runs as Colab runs it: one notebook, alone, nothing beside it.

Colab opens a single ``.ipynb`` from GitHub in an empty ``/content`` folder. Here each
chapter is copied alone into an empty temporary ``content/`` folder and run top to
bottom by nbclient there, with a stand-in ``google.colab`` module on the kernel's
path and the helper download of the set-up cell redirected (``LVM_BOOK_BASE_URL``)
to a local HTTP server on 127.0.0.1 that serves this checkout, as GitHub serves the
pinned ref. Colab brings its own numpy, scipy, matplotlib and scikit-learn: the
notebooks must use those as they are (README.md, "Supported library versions").
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from book_notebooks import ROOT, repository_and_ref
from browser_support import LOCAL_HOST, serve, unused_port
from notebook_support import NOTEBOOK_IDS, NOTEBOOKS, code_cells, read

HELPER = "latent_variable_models_util.py"
PRELOADED = ("numpy", "scipy", "matplotlib", "scikit-learn", "sklearn")
# `make test-oldest` sets this to a Python 3.10 with tests/requirements-oldest.txt installed.
OLDEST_PYTHON = os.environ.get("LVM_OLDEST_PYTHON")
CELL_TIMEOUT_S = 300

# Appended to the copy that runs: what the set-up cell decided, read back from the kernel.
PROBE = "print(f'IN_COLAB={IN_COLAB} HELPER_DIR={Path(lvm.__file__).resolve().parent}')"
VERSIONS_PROBE = """\
import sys, numpy, scipy, matplotlib, sklearn
print('python', '.'.join(map(str, sys.version_info[:3])))
for module in (numpy, scipy, matplotlib, sklearn):
    print(module.__name__.replace('sklearn', 'scikit-learn'), module.__version__)
"""


@pytest.fixture(scope="module")
def checkout():
    """This checkout over HTTP on 127.0.0.1, standing in for raw.githubusercontent.com."""
    with serve(ROOT) as served:
        yield served


@pytest.fixture(scope="module")
def colab_module(tmp_path_factory):
    """A folder holding a stand-in ``google.colab`` package (``google`` a namespace package)."""
    folder = tmp_path_factory.mktemp("colab_stub")
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab module (tests only)."""\n')
    return folder


def kernel_env(colab_module: Path | None, base_url: str) -> dict:
    """The kernel's environment: ours, plus the Colab stand-in and the helper's address."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LVM_BOOK_ROOT")}
    env["LVM_BOOK_BASE_URL"] = base_url
    env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    if colab_module is not None:
        env["PYTHONPATH"] = str(colab_module)
    return env


def content_folder(tmp_path: Path, notebook: Path) -> Path:
    """An empty ``content/`` folder holding only a copy of ``notebook``."""
    folder = tmp_path / "colab" / "content"
    folder.mkdir(parents=True)
    shutil.copy(notebook, folder / notebook.name)
    return folder


def run(nb, folder: Path, env: dict, kernel_name: str = "python3"):
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=kernel_name,
                   resources={"metadata": {"path": str(folder)}}).execute(env=env)
    return nb


def run_as_in_colab(notebook: Path, tmp_path: Path, checkout, colab_module, kernel_name="python3"):
    """Run a lone copy of ``notebook`` (plus a probe cell); check what Colab would need."""
    folder = content_folder(tmp_path, notebook)
    nb = nbformat.read(folder / notebook.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nb.cells.append(nbformat.v4.new_code_cell(VERSIONS_PROBE))
    before = len(checkout.requests)

    run(nb, folder, kernel_env(colab_module, checkout.url), kernel_name)  # raises on a failing cell

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    probe = "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    assert probe.strip() == f"IN_COLAB=True HELPER_DIR={folder.resolve()}"
    # The helper came from the server, byte for byte, and nothing else of the checkout was used.
    assert (folder / HELPER).read_bytes() == (ROOT / HELPER).read_bytes()
    fetched = checkout.requests[before:]
    assert (f"/{HELPER}", 200) in fetched
    assert [r for r in fetched if r[1] != 200] == []
    versions = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return dict(line.split(" ", 1) for line in versions.strip().splitlines())


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_runs_alone_as_in_colab(notebook, tmp_path, checkout, colab_module):
    run_as_in_colab(notebook, tmp_path, checkout, colab_module)


@pytest.mark.skipif(OLDEST_PYTHON is None, reason="only in `make test-oldest` (sets LVM_OLDEST_PYTHON)")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_runs_as_in_colab_with_the_oldest_supported_libraries(
        notebook, tmp_path, checkout, colab_module, monkeypatch):
    # A kernel spec for the interpreter that has the README's lowest versions installed.
    spec = tmp_path / "jupyter" / "kernels" / "lvm-oldest"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [OLDEST_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "oldest supported", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    used = run_as_in_colab(notebook, tmp_path, checkout, colab_module, kernel_name="lvm-oldest")

    for name, (low, _high) in supported_ranges().items():
        assert _version(used[name])[:2] == _version(low)[:2], f"{name} {used[name]} is not the lowest, {low}"


@pytest.mark.parametrize("in_colab, where", [(True, "Colab's Files pane"), (False, "the folder of this notebook")])
def test_setup_cell_says_what_to_do_when_the_helper_cannot_be_downloaded(in_colab, where, tmp_path, colab_module):
    notebook = NOTEBOOKS[0]
    folder = content_folder(tmp_path, notebook)
    nb = nbformat.read(folder / notebook.name, as_version=4)
    nb.cells = nb.cells[:1]
    base_url = f"http://{LOCAL_HOST}:{unused_port()}"  # nothing listens: the server is down
    repository, ref = repository_and_ref()

    with pytest.raises(CellExecutionError) as failure:
        run(nb, folder, kernel_env(colab_module if in_colab else None, base_url))

    assert failure.value.ename == "RuntimeError"
    message = failure.value.evalue
    assert message.startswith(f"Could not download the book's helper module from {base_url}/{HELPER} (")
    assert "Connection refused" in message
    assert "Check the internet connection and run this cell again" in message
    assert (f"download {HELPER} from https://github.com/{repository} (ref {ref}) "
            f"and put it in {where}.") in message
    assert not (folder / HELPER).exists()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_setup_cell_downloads_the_helper_at_the_ref_colab_opens(notebook):
    # Colab opens the notebook at repository.branch of _config.yml (the launch button);
    # by default the set-up cell must fetch the helper from the same repository and ref.
    repository, ref = repository_and_ref()
    source = read(notebook).cells[0].source
    assert re.search(r'^BOOK_REPOSITORY = "([^"]+)"$', source, re.M).group(1) == repository
    assert re.search(r'^BOOK_REF = "([^"]+)"$', source, re.M).group(1) == ref
    assert 'f"https://raw.githubusercontent.com/{BOOK_REPOSITORY}/{BOOK_REF}"' in source
    assert f'HELPER = "{HELPER}"' in source
    assert (ROOT / HELPER).is_file(), "the helper must sit at the root of the repository"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_uses_colabs_own_scientific_libraries(notebook):
    # A shell or magic line that installs, a subprocess that runs pip or conda, a module reload.
    install = re.compile(
        r"^\s*[!%]+\s*(?:python\S*\s+-m\s+)?(?:pip|conda|mamba|uv)\b.*\binstall\b"
        r"|(?:subprocess\.\w+|os\.system)\(.*\b(?:pip|conda|mamba|uv)\b"
        r"|importlib\.reload\(|pkg_resources\.require\(", re.M)
    for cell in code_cells(read(notebook)):
        assert not install.search(cell.source), f"a cell installs or swaps packages:\n{cell.source}"
        for line in cell.source.splitlines():
            if line.lstrip().startswith(("!", "%")):
                assert not any(lib in line for lib in PRELOADED), f"shell command touching a preloaded library: {line}"


def supported_ranges() -> dict:
    """``{package: (lowest, highest)}`` from the README's "Supported library versions" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Supported library versions", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*([A-Za-z][\w-]*)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", section, re.M)
    return {name.lower(): (low, high) for name, low, high in rows}


def _version(text: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_readme_states_the_supported_range_of_every_preloaded_library():
    ranges = supported_ranges()
    assert sorted(ranges) == ["matplotlib", "numpy", "python", "scikit-learn", "scipy"]
    for name, (low, high) in ranges.items():
        assert _version(low) <= _version(high), name


def test_make_test_oldest_installs_the_bottom_of_the_supported_range():
    text = (ROOT / "tests" / "requirements-oldest.txt").read_text()
    pins = {k.lower(): v for k, v in re.findall(r"^([A-Za-z][\w-]*)==(\S+)$", text, re.M)}
    for name, (low, _high) in supported_ranges().items():
        if name != "python":
            assert _version(pins[name])[:2] == _version(low)[:2], f"{name}: {pins[name]} vs README {low}"


def test_the_pinned_versions_we_test_with_are_the_top_of_the_supported_range():
    pins = dict(re.findall(r"^([A-Za-z][\w-]*)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M))
    pins = {k.lower(): v for k, v in pins.items()}
    for name, (_low, high) in supported_ranges().items():
        if name == "python":
            continue
        assert _version(pins[name])[:2] == _version(high)[:2], (
            f"{name}: requirements.txt pins {pins[name]}, README says up to {high}")
