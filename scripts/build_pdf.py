"""Build the PDF of the whole book (``make pdf``): Jupyter Book's LaTeX route, XeLaTeX.

The web book renders the notebooks' stored figures, PNGs at 100 dpi: sharp on a screen,
soft on paper. For print, each chapter is run once more in a clean kernel whose inline
backend draws figures at ``--dpi`` (300 by default), and only the figures are taken from
that run: every text output, and so every number the PDF shows, stays the stored one.
A cell whose run shows a different number of figures keeps its stored ones, and so does
a notebook that fails to run; the build says so (and tests/test_pdf.py then fails). The sources go to a staging copy (``build/pdf-src``), never back to
``book/``; Jupyter Book builds the PDF there (``--builder pdflatex``, which runs XeLaTeX
through latexmk with ``scripts/sphinx_print.py``), and the PDF is copied to
``_build/latex/<name>.pdf`` and, for the web site, to ``_build/html/<name>.pdf``.

Usage: ``python scripts/build_pdf.py [--dpi N] [--stage DIR]`` (``--dpi 0`` keeps the
stored figures and skips the runs).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_notebooks  # noqa: E402

__all__ = ["pdf_name", "stage_sources", "transplant_figures", "main"]

ROOT = book_notebooks.ROOT
IMAGE = "image/png"


def pdf_name() -> str:
    """``<name>.pdf`` from ``latex.latex_documents.targetname`` in ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    target = ((config.get("latex") or {}).get("latex_documents") or {}).get("targetname")
    if not target:
        raise SystemExit("error: _config.yml needs latex.latex_documents.targetname")
    return Path(target).with_suffix(".pdf").name


def stage_sources(stage: Path) -> None:
    """Copy what Jupyter Book reads (config, table of contents, pages, extensions)."""
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, stage / name)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "_build")
    for name in ("book", "scripts", "_static"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, stage / name, ignore=ignore)


def _figures(cell) -> list:
    return [o for o in cell.get("outputs", []) if IMAGE in o.get("data", {})]


def transplant_figures(stored, rerun) -> list[int]:
    """Put the PNGs of ``rerun`` into ``stored`` cell by cell (in place); returns the
    indices of cells whose figure count differs (those keep their stored figures)."""
    if len(stored.cells) != len(rerun.cells):
        raise ValueError("the re-run notebook has a different number of cells")
    mismatched = []
    for i, (old, new) in enumerate(zip(stored.cells, rerun.cells)):
        if old.cell_type != "code":
            continue
        old_figs, new_figs = _figures(old), _figures(new)
        if len(old_figs) != len(new_figs):
            mismatched.append(i)
            continue
        for old_out, new_out in zip(old_figs, new_figs):
            old_out["data"][IMAGE] = new_out["data"][IMAGE]
            old_out.setdefault("metadata", {}).pop(IMAGE, None)
            if IMAGE in new_out.get("metadata", {}):
                old_out["metadata"][IMAGE] = new_out["metadata"][IMAGE]
    return mismatched


def _print_profile(dpi: int) -> str:
    """An IPython directory whose kernels draw inline figures at ``dpi``."""
    ipython_dir = tempfile.mkdtemp(prefix="lvm-print-ipython-")
    profile = Path(ipython_dir) / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.InlineBackend.print_figure_kwargs = {{'bbox_inches': 'tight', 'dpi': {dpi}}}\n"
    )
    return ipython_dir


def print_notebook(path: Path, dpi: int):
    """The stored notebook with its figures redrawn at ``dpi`` (text outputs unchanged)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    stored = nbformat.read(path, as_version=4)
    if dpi <= 0 or not any(_figures(c) for c in stored.cells):
        return stored
    rerun = nbformat.read(path, as_version=4)
    try:
        NotebookClient(rerun, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except CellExecutionError as error:
        # nbval fails on such a notebook anyway; the PDF still builds, with the stored
        # figures, and tests/test_pdf.py reports them as below print resolution.
        first = re.sub(r"\x1b\[[0-9;]*m", "", str(error).strip().splitlines()[-1])[:200]
        print(f"  warning: {path.name} did not run ({first}); its figures stay as stored",
              file=sys.stderr, flush=True)
        return stored
    mismatched = transplant_figures(stored, rerun)
    if mismatched:
        print(f"  {path.name}: cells {mismatched} keep their stored figures "
              "(the re-run showed a different number)", flush=True)
    return stored


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--stage", type=Path, default=ROOT / "build" / "pdf-src")
    args = parser.parse_args(argv)
    name = pdf_name()
    start = time.perf_counter()
    stage_sources(args.stage)
    if args.dpi > 0:
        os.environ["IPYTHONDIR"] = _print_profile(args.dpi)
    for path in book_notebooks.notebooks():
        t0 = time.perf_counter()
        nb = print_notebook(path, args.dpi)
        nbformat.write(nb, args.stage / path.relative_to(ROOT))
        print(f"{path.name}: figures at {args.dpi or 'stored'} dpi "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    t_latex = time.perf_counter()
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(args.stage), "--builder", "pdflatex"], check=True)
    built = args.stage / "_build" / "latex" / name
    if not built.is_file():
        raise SystemExit(f"error: the LaTeX build wrote no {built}")
    for folder in (ROOT / "_build" / "latex", ROOT / "_build" / "html"):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(built, folder / name)
    print(f"{name}: figures {t_latex - start:.0f} s, LaTeX {time.perf_counter() - t_latex:.0f} s; "
          f"copied to _build/latex/ and _build/html/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
