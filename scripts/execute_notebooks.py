"""Re-run notebooks in place from a clean kernel, in order (``make execute``).

Usage: ``python scripts/execute_notebooks.py [NOTEBOOK ...]`` -- all notebooks
of ``_toc.yml`` when none is named. Each runs with the working directory of its
own folder, one BLAS thread (set by the Makefile) and a 600 s cell timeout; the
wall time of each is printed. A failing cell stops with its error and the
notebook is not written.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from book_notebooks import notebooks


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def main(argv):
    paths = [Path(a).resolve() for a in argv] or notebooks()
    for path in paths:
        print(f"{path.name}: ", end="", flush=True)
        print(f"{execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
