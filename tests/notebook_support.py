"""Reading and running the book's notebooks, for the tests."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import nbformat

from book_notebooks import ROOT, notebooks, toc_entries

NOTEBOOKS = notebooks()
NOTEBOOK_IDS = [p.stem for p in NOTEBOOKS]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def markdown_sources():
    """``(name, text)`` of every markdown page and every markdown cell of the book."""
    out = []
    for entry in toc_entries():
        md = ROOT / f"{entry}.md"
        if md.exists():
            out.append((md.name, md.read_text()))
    for path in NOTEBOOKS:
        for cell in read(path).cells:
            if cell.cell_type == "markdown":
                out.append((path.name, cell.source))
    return out


def png_outputs(nb):
    """Decoded PNG bytes of every image output, in order."""
    pngs = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                pngs.append(base64.b64decode(data["image/png"]))
    return pngs


def execute(path: Path, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run a copy of the notebook at ``path`` top to bottom in a clean kernel; return it."""
    from nbclient import NotebookClient

    nb = read(path)
    old = dict(os.environ)
    try:
        os.environ.update(env or {})
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


EQ_TAG = re.compile(r"\\tag\{(\d+)\}")
EQ_REF = re.compile(r"\b(?:Eqs?\.|Equations?)\s*\((\d+)\)((?:\s*(?:,|and|to|–|-|or)\s*\((\d+)\))*)")


# A package Colab lacks that a chapter needs may be installed by a hidden cell of that
# chapter, in Colab only, pinned to the release matching a library Colab has:
# {package: the expression its version must equal}.
COLAB_ONLY_INSTALLS = {"distributed": "dask.__version__"}


def colab_only_install(cell) -> str | None:
    """The package a hidden, Colab-only install cell installs, or None for any other cell."""
    if "remove-cell" not in cell.metadata.get("tags", []) or not re.search(r"^if IN_COLAB\b", cell.source, re.M):
        return None
    for package, version in COLAB_ONLY_INSTALLS.items():
        pinned = re.search(rf'f"{package}=={{{re.escape(version)}}}"', cell.source)
        upgrades = re.search(r'"(?:--upgrade|-U)"', cell.source)
        if pinned and not upgrades:
            return package
    return None
