"""Every chapter runs as Colab runs it: one notebook, alone, nothing beside it.

Colab opens a single ``.ipynb`` from GitHub in an empty ``/content`` folder. Here each
chapter is copied alone into an empty temporary ``content/`` folder and run top to
bottom by nbclient there, with a stand-in ``google.colab`` module on the kernel's
path, in a throwaway Python environment that sees our scientific libraries but not
the book's package. The set-up cell installs the package with pip (``--no-deps``) from
a source archive of this checkout that a local HTTP server on 127.0.0.1 serves as
GitHub serves ``archive/<ref>.tar.gz`` (``LVM_BOOK_BASE_URL`` points there); the
server's log shows what was fetched. Colab brings its own numpy, scipy, matplotlib
and scikit-learn: the notebooks must use those as they are (README.md, "Supported
library versions").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from book_notebooks import ROOT, repository_and_ref
from browser_support import LOCAL_HOST, serve, unused_port
from notebook_support import COLAB_ONLY_INSTALLS, NOTEBOOK_IDS, NOTEBOOKS, code_cells, colab_only_install, read
from package_support import package_sources, site_packages, throwaway_python

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


def source_archive(folder: Path) -> Path:
    """``<ref>.tar.gz`` of the package's sources in this checkout, laid out as GitHub's archive of the ref."""
    _, ref = repository_and_ref()
    files = package_sources()
    path = folder / f"{ref}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in files:
            archive.add(ROOT / name, arcname=f"book-{ref}/{name}")
    return path


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A source archive of this checkout over HTTP on 127.0.0.1, standing in for github.com/<repo>/archive."""
    folder = tmp_path_factory.mktemp("archive")
    source_archive(folder)
    with serve(folder) as served:
        yield served


def kernel_spec(folder: Path, python: Path, name: str) -> Path:
    """A Jupyter data folder with a kernel ``name`` that runs ``python``; for JUPYTER_PATH."""
    spec = folder / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name, "language": "python"}))
    return folder / "jupyter"


@pytest.fixture(scope="module")
def colab_kernel(tmp_path_factory):
    """``(JUPYTER_PATH, kernel name, site-packages)`` of a throwaway environment shared by the chapters."""
    folder = tmp_path_factory.mktemp("colab_env")
    python = throwaway_python(folder / "env")
    return kernel_spec(folder, python, "colab-env"), "colab-env", site_packages(python)


@pytest.fixture(scope="module")
def colab_module(tmp_path_factory):
    """A folder holding a stand-in ``google.colab`` package (``google`` a namespace package)."""
    folder = tmp_path_factory.mktemp("colab_stub")
    package = folder / "google" / "colab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab module (tests only)."""\n')
    return folder


def kernel_env(colab_module: Path | None, base_url: str, jupyter_path: Path | None = None) -> dict:
    """The kernel's environment: ours, plus the Colab stand-in and the package archive's address."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LVM_BOOK_ROOT")}
    env["LVM_BOOK_BASE_URL"] = base_url
    if jupyter_path is not None:
        env["JUPYTER_PATH"] = str(jupyter_path)
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
    saved = os.environ.get("JUPYTER_PATH")
    if "JUPYTER_PATH" in env:   # where the kernel spec is looked up, in this process
        os.environ["JUPYTER_PATH"] = env["JUPYTER_PATH"]
    try:
        NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=kernel_name,
                       resources={"metadata": {"path": str(folder)}}).execute(env=env)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    return nb


def run_as_in_colab(notebook: Path, tmp_path: Path, checkout, colab_module, kernel):
    """Run a lone copy of ``notebook`` (plus probe cells) in ``kernel``; check what Colab would need."""
    jupyter_path, kernel_name, site = kernel
    folder = content_folder(tmp_path, notebook)
    nb = nbformat.read(folder / notebook.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    nb.cells.append(nbformat.v4.new_code_cell(VERSIONS_PROBE))
    before = len(checkout.requests)

    run(nb, folder, kernel_env(colab_module, checkout.url, jupyter_path), kernel_name)  # raises on a failing cell

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    probe = "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    # The package was installed into the environment (by this chapter's set-up cell or an earlier one's).
    assert probe.strip() == f"IN_COLAB=True HELPER_DIR={site.resolve()}"
    _, ref = repository_and_ref()
    fetched = checkout.requests[before:]
    assert set(fetched) <= {(f"/{ref}.tar.gz", 200)}, fetched     # nothing else, nothing failed
    assert sorted(p.name for p in folder.iterdir()) == [notebook.name], "the chapter wrote beside itself"
    versions = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return dict(line.split(" ", 1) for line in versions.strip().splitlines())


def test_setup_cell_installs_the_package_from_the_archive_at_the_pinned_ref(tmp_path, checkout, colab_module):
    # A fresh environment without the package, an empty folder: the set-up cell fetches the archive
    # of the ref once, installs the package with its data, and the chapter can read that data.
    python = throwaway_python(tmp_path / "env")
    kernel = (kernel_spec(tmp_path, python, "fresh"), "fresh")
    folder = content_folder(tmp_path, NOTEBOOKS[0])
    nb = nbformat.read(folder / NOTEBOOKS[0].name, as_version=4)
    nb.cells = nb.cells[:1] + [nbformat.v4.new_code_cell(
        "print(lvm.__file__, lvm.load_faithful().shape, len(lvm.read_book_file('benchmarks/results/scale.md')) > 0)")]
    before = len(checkout.requests)

    run(nb, folder, kernel_env(colab_module, checkout.url, kernel[0]), kernel[1])

    _, ref = repository_and_ref()
    assert checkout.requests[before:] == [(f"/{ref}.tar.gz", 200)]        # the server's log
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()
    assert Path(out[0]).is_relative_to(tmp_path / "env") and out[1:] == ["(272,", "2)", "True"]
    assert sorted(p.name for p in folder.iterdir()) == [NOTEBOOKS[0].name]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_runs_alone_as_in_colab(notebook, tmp_path, checkout, colab_module, colab_kernel):
    run_as_in_colab(notebook, tmp_path, checkout, colab_module, colab_kernel)


@pytest.mark.skipif(OLDEST_PYTHON is None, reason="only in `make test-oldest` (sets LVM_OLDEST_PYTHON)")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_runs_as_in_colab_with_the_oldest_supported_libraries(
        notebook, tmp_path, checkout, colab_module):
    # A throwaway environment over the interpreter that has the README's lowest versions installed.
    python = throwaway_python(tmp_path / "oldest", OLDEST_PYTHON)
    kernel = (kernel_spec(tmp_path, python, "lvm-oldest"), "lvm-oldest", site_packages(python))

    used = run_as_in_colab(notebook, tmp_path, checkout, colab_module, kernel)

    for name, (low, _high) in supported_ranges().items():
        assert _version(used[name])[:2] == _version(low)[:2], f"{name} {used[name]} is not the lowest, {low}"


@pytest.mark.parametrize("in_colab", [True, False])
def test_setup_cell_says_what_to_do_when_the_package_cannot_be_installed(in_colab, tmp_path, colab_module):
    python = throwaway_python(tmp_path / "env")
    jupyter_path = kernel_spec(tmp_path, python, "fresh")
    notebook = NOTEBOOKS[0]
    folder = content_folder(tmp_path, notebook)
    nb = nbformat.read(folder / notebook.name, as_version=4)
    nb.cells = nb.cells[:1]
    base_url = f"http://{LOCAL_HOST}:{unused_port()}"  # nothing listens: the server is down
    _, ref = repository_and_ref()

    with pytest.raises(CellExecutionError) as failure:
        run(nb, folder, kernel_env(colab_module if in_colab else None, base_url, jupyter_path), "fresh")

    assert failure.value.ename == "RuntimeError"
    message = failure.value.evalue
    archive = f"{base_url}/{ref}.tar.gz"
    assert message.startswith(f"Could not install the book's package from {archive} (pip: ")
    assert "Check the internet connection and run this cell again" in message
    assert f"install it yourself with 'pip install --no-deps {archive}'." in message
    assert sorted(p.name for p in folder.iterdir()) == [notebook.name]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_setup_cell_installs_the_package_at_the_ref_colab_opens(notebook):
    # Colab opens the notebook at repository.branch of _config.yml (the launch button);
    # by default the set-up cell must install the package from the same repository and ref,
    # and nothing but the package.
    repository, ref = repository_and_ref()
    source = read(notebook).cells[0].source
    assert re.search(r'^BOOK_REPOSITORY = "([^"]+)"$', source, re.M).group(1) == repository
    assert re.search(r'^BOOK_REF = "([^"]+)"$', source, re.M).group(1) == ref
    assert 'f"https://github.com/{BOOK_REPOSITORY}/archive"' in source
    assert '_archive = f"{_base}/{BOOK_REF}.tar.gz"' in source
    assert '"pip", "install", "--no-deps"' in source
    assert f'HELPER = "{HELPER}"' in source
    assert (ROOT / HELPER).is_file(), "the facade must sit at the root of the repository"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_chapter_uses_colabs_own_scientific_libraries(notebook):
    # A shell or magic line that installs, a subprocess that runs pip or conda, a module reload.
    install = re.compile(
        r"^\s*[!%]+\s*(?:python\S*\s+-m\s+)?(?:pip|conda|mamba|uv)\b.*\binstall\b"
        r"|(?:subprocess\.\w+|os\.system)\(.*\b(?:pip|conda|mamba|uv)\b"
        r"|importlib\.reload\(|pkg_resources\.require\(", re.M)
    for cell in code_cells(read(notebook))[1:]:    # the set-up cell installs the book's package only
        if colab_only_install(cell):
            continue  # a package Colab lacks (test_colab_only_installs_add_only_what_colab_lacks)
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


def test_colab_only_installs_add_only_what_colab_lacks():
    # Each package a hidden cell installs in Colab is absent from every Colab runtime we
    # test, and the library its version is pinned to is present in each.
    runtimes = sorted((ROOT / "tests" / "colab_runtimes").glob("*.txt"))
    assert runtimes
    installed = {colab_only_install(c) for nb in NOTEBOOKS for c in code_cells(read(nb))} - {None}
    assert installed == {"distributed"}
    for path in runtimes:
        names = {n.lower() for n in re.findall(r"^([A-Za-z0-9_.-]+)==", path.read_text(), re.M)}
        for package, version in COLAB_ONLY_INSTALLS.items():
            assert package not in names, f"Colab {path.stem} has {package}: do not install it"
            assert version.split(".")[0] in names, f"Colab {path.stem} lacks {version.split('.')[0]}"
