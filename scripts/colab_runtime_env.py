"""Build a virtual environment with the library versions of a Colab runtime.

Usage: ``python scripts/colab_runtime_env.py NAME [NAME ...]`` -- for each runtime
``tests/colab_runtimes/NAME.txt`` (Colab's published ``pip freeze``), create
``build/colab-NAME/`` with a Python of the same minor version (from ``~/.pyenv``
or the PATH) and install, with that file as pip constraints, what the chapters
import plus a Jupyter kernel -- so every version is the one Colab has. Packages
Colab lacks (``distributed``) are not installed: the set-up cell of a chapter
that needs one installs it, as it does in Colab.

Re-running is cheap: an environment whose stamp matches its runtime file is kept,
after uninstalling anything a previous run added to it.
Prints the environment's python, or exits with status 3 and a reason when no
interpreter of the right minor version exists on this machine.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = ROOT / "tests" / "colab_runtimes"
# What the chapters import, and the kernel that runs them (Colab's own versions of each).
PACKAGES = ("numpy", "scipy", "matplotlib", "scikit-learn", "pandas", "dask",
            "ipykernel", "ipython", "pip")
NO_INTERPRETER = 3


def runtime_python(name: str) -> str:
    """The ``major.minor`` version of Python that runtime ``name`` declares."""
    text = (RUNTIMES / f"{name}.txt").read_text()
    match = re.search(r"^# python: (\d+)\.(\d+)\.\d+", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"tests/colab_runtimes/{name}.txt has no '# python: X.Y.Z' line")
    return f"{match[1]}.{match[2]}"


def find_interpreter(minor: str) -> str | None:
    """A python of version ``minor`` (e.g. ``3.13``): pyenv's first, then the PATH."""
    for candidate in sorted((Path.home() / ".pyenv" / "versions").glob(f"{minor}.*/bin/python{minor}")):
        return str(candidate)
    return shutil.which(f"python{minor}")


def build(name: str) -> Path:
    """Create (or reuse) ``build/colab-NAME`` and return its python."""
    constraints = RUNTIMES / f"{name}.txt"
    venv = ROOT / "build" / f"colab-{name}"
    python = venv / "bin" / "python"
    stamp = venv / ".constraints-sha256"
    digest = hashlib.sha256(constraints.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        restore(python, venv / ".baseline-freeze")
        return python
    minor = runtime_python(name)
    interpreter = find_interpreter(minor)
    if interpreter is None:
        print(f"no Python {minor} on this machine (looked in ~/.pyenv/versions and the PATH)",
              file=sys.stderr)
        sys.exit(NO_INTERPRETER)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-c", str(constraints), *PACKAGES], check=True)
    (venv / ".baseline-freeze").write_text(freeze(python))
    stamp.write_text(digest)
    return python


def freeze(python: Path) -> str:
    done = subprocess.run([str(python), "-m", "pip", "freeze", "--all", "--disable-pip-version-check"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def _names(frozen: str) -> set[str]:
    return {line.split("==")[0].lower() for line in frozen.splitlines() if "==" in line}


def restore(python: Path, baseline: Path) -> None:
    """Uninstall what a chapter's Colab-only cell installed in an earlier run (e.g.
    ``distributed``), so every run starts from Colab's packages and no more."""
    extra = sorted(_names(freeze(python)) - _names(baseline.read_text()))
    if extra:
        subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", *extra], check=True)


if __name__ == "__main__":
    for runtime in sys.argv[1:] or sorted(p.stem for p in RUNTIMES.glob("*.txt")):
        print(build(runtime))
