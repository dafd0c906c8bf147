"""Code a reader can read: every code cell is formatted by ruff, fits the column, and
carries no comments meant for tools.

- ``ruff format`` (pinned in requirements.txt; it formats ``.ipynb`` files directly)
  would change nothing, at line length 88. Run ``.venv/bin/ruff format book/<nb>.ipynb``
  to comply.
- No line of a code cell is longer than 88 characters: ruff does not split long
  strings or comments, and 88 monospace characters are what the web page's code box
  shows without scrolling at 1400 px (tests/test_browser.py measures it).
- No tooling comment in a cell the reader sees: nbval's ``# NBVAL_*`` markers become
  the cell tags ``nbval-ignore-output`` / ``nbval-skip``; linters' ``noqa``,
  ``type: ignore``, ``fmt: off`` and ``pylint:`` have no place in a book. (Cells tagged
  ``remove-cell`` or ``remove-input`` never show their code on the web page.)
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_support import NOTEBOOKS, read

LINE_LENGTH = 88
TOOLING = re.compile(r"#.*\b(?:NBVAL_\w+|noqa(?=:|\s|$)|type:\s*ignore|fmt:\s*(?:off|on|skip)|pylint:|pragma:)", re.I)
HIDDEN_TAGS = {"remove-cell", "remove-input"}


def ruff() -> str:
    candidate = Path(sys.executable).parent / "ruff"
    path = str(candidate) if candidate.is_file() else shutil.which("ruff")
    if not path:
        pytest.fail("ruff is not installed: it is pinned in requirements.txt (make deps)")
    return path


def test_the_format_check_can_fail(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = tmp_path / "ugly.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x=[1,2 ,3]")]), nb)
    result = subprocess.run([ruff(), "format", "--check", f"--line-length={LINE_LENGTH}", str(nb)],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert TOOLING.search("y = f(x)  # NBVAL_IGNORE_OUTPUT") and TOOLING.search("import os  # noqa: F401")
    assert not TOOLING.search("# the noqa-free version of the helper")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_ruff_formatted(path):
    result = subprocess.run([ruff(), "format", "--check", "--diff", f"--line-length={LINE_LENGTH}", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, (
        f"run `ruff format {path.name}`; it would change:\n{result.stdout[:3000]}{result.stderr[:500]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_code_line_is_longer_than_88_characters(path):
    long = [(i, len(line), line[:60]) for i, cell in enumerate(read(path).cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > LINE_LENGTH]
    assert long == [], f"(cell, length, start) of lines over {LINE_LENGTH} characters: {long[:8]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_tooling_comment_in_a_visible_cell(path):
    found = [(i, line.strip()) for i, cell in enumerate(read(path).cells)
             if cell.cell_type == "code" and not HIDDEN_TAGS & set(cell.metadata.get("tags", []))
             for line in cell.source.splitlines() if TOOLING.search(line)]
    assert found == [], f"tooling comments a reader would see (cell, line): {found[:8]}"
