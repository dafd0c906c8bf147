"""Helpers for tests that run the package away from the checkout (as in Colab, or installed)."""

import shutil
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
