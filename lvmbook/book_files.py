"""Files of the book's repository that chapters read: stored benchmark results and data.
``read_book_file`` finds a file in the installed package (copied in as package data when the
package is built), in a checkout or under ``$LVM_BOOK_ROOT``; ``benchmark_markdown`` prepares a
stored benchmark result for display and ``benchmark_tables`` parses its tables (the one parser
of chapters 10 (10_robust_fast_em) and 13 (13_em_at_scale)).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["read_book_file", "benchmark_markdown", "benchmark_tables"]

#: Where an installed package keeps its copies of the book's files (see pyproject.toml / setup.py).
PACKAGE_DATA = Path(__file__).resolve().parent / "book_data"
#: The checkout this module sits in, when it does (lvmbook/ is at the root of the repository).
CHECKOUT = Path(__file__).resolve().parent.parent


def _roots():
    roots = [PACKAGE_DATA, CHECKOUT]
    if os.environ.get("LVM_BOOK_ROOT"):
        roots.append(Path(os.environ["LVM_BOOK_ROOT"]))
    return roots


def book_file_path(relative_path):
    """The local path of a file of the book's repository (``"book/data/faithful.csv"``), or None.

    Looked up in the installed package's data, in the checkout the package
    sits in, and under ``$LVM_BOOK_ROOT``. (Used by ``read_book_file`` and
    ``lvmbook.data.load_faithful``; not part of the book's API.)
    """
    if not isinstance(relative_path, str) or not relative_path or relative_path.startswith("/"):
        raise ValueError(f"relative_path must be a path inside the repository; got {relative_path!r}")
    return next((root / relative_path for root in _roots() if (root / relative_path).is_file()), None)


def read_book_file(relative_path):
    """Bytes of a file of the book's repository, e.g. ``"benchmarks/results/scale.md"``, or None.

    Looked up by :func:`book_file_path`: the installed package's copy (made
    when the package is built, so Colab's installed copy has it), the
    checkout, ``$LVM_BOOK_ROOT``. Returns None when the file is in none of
    them, so that a chapter can say so instead of failing. Nothing is
    downloaded. Chapters 10 (10_robust_fast_em) and 13 (13_em_at_scale) show
    stored benchmark results with it.
    """
    path = book_file_path(relative_path)
    return None if path is None else path.read_bytes()


def benchmark_markdown(relative_path):
    """A stored benchmark result (Markdown) ready to display in a chapter, or None.

    Reads ``relative_path`` with :func:`read_book_file`, drops the file's
    title line and turns its ``##`` sub-headings into bold lines, so that the
    tables sit under the chapter's own headings. Chapters 10
    (10_robust_fast_em) and 13 (13_em_at_scale).
    """
    raw = read_book_file(relative_path)
    if raw is None:
        return None
    lines = [line for line in raw.decode().splitlines() if not line.startswith("# ")]
    return "\n".join(f"**{line[3:]}**" if line.startswith("## ") else line for line in lines)


def benchmark_tables(markdown):
    """The tables of a benchmark result, in order: each a list of rows, each row a dict of strings keyed by column title.

    ``markdown`` is the text of a result file (or of :func:`benchmark_markdown`).
    A table is a run of lines starting with ``|``; its first line gives the
    column titles, its alignment row (``| --- | ---: |``) is skipped, and
    cells are stripped of spaces (Markdown emphasis such as ``**2.5×**`` is
    kept). The one parser of the benchmark tables: chapter 10
    (10_robust_fast_em) reads the speed-up table of ``em_speed.md`` and
    chapter 13 (13_em_at_scale) the quantities of ``scale.md`` with it, e.g.
    ``{row["quantity"]: row["value"] for row in benchmark_tables(text)[1]}``.
    """
    if not isinstance(markdown, str):
        raise ValueError(f"markdown must be the text of a benchmark result; got {type(markdown).__name__}")
    tables, current = [], None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if current is None:
            current = {"header": cells, "rows": []}
            tables.append(current)
        elif all(set(cell) <= set("-: ") and cell for cell in cells):
            continue                                    # the alignment row
        elif len(cells) == len(current["header"]):
            current["rows"].append(dict(zip(current["header"], cells)))
    return [table["rows"] for table in tables]
