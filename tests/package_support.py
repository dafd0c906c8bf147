"""Helpers for tests that run the package away from the checkout (as in Colab, or installed)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_package_alone(dest):
    """Copy the facade and the package's modules (no data files, no book) into ``dest``; return ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "latent_variable_models_util.py", dest)
    (dest / "lvmbook").mkdir(exist_ok=True)
    for path in (ROOT / "lvmbook").glob("*.py"):
        shutil.copy(path, dest / "lvmbook" / path.name)
    return dest


def package_sources():
    """Paths, relative to the root, of what building the package needs (its sdist's contents)."""
    manifest = (ROOT / "MANIFEST.in").read_text()
    data = [name for line in manifest.splitlines() if line.startswith("include ") for name in line.split()[1:]]
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "lvmbook").glob("*.py"))
    return ["pyproject.toml", "setup.py", "MANIFEST.in", "LICENSE", "latent_variable_models_util.py", *modules, *data]


def site_packages(python):
    """The folder where ``python`` installs packages."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())


def throwaway_python(folder, python=sys.executable):
    """A new environment whose interpreter sees ``python``'s installed libraries but not their .pth hooks.

    So numpy, ipykernel, pip and setuptools are there, while an editable install of the book's
    package in ``python``'s environment is not. Returns the new interpreter.
    """
    folder = Path(folder)
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(folder)], check=True)
    new = folder / "bin" / "python"
    (site_packages(new) / "book_test_libraries.pth").write_text(f"{site_packages(python)}\n")
    return new
