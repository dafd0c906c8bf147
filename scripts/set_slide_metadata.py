"""Give every cell of the book's notebooks a slide type for the lecture decks (`make slides`).

nbconvert's slides exporter builds a reveal.js deck from each chapter notebook, reading
the standard Jupyter cell metadata ``{"slideshow": {"slide_type": ...}}``. This script
fills it in by one rule, so that the decks show the key equations, figures and results
of each chapter, and not every line of code:

- a markdown cell that opens with a heading (``#`` or ``##``) starts a new ``slide``;
- another markdown cell with a display equation (``$$``) becomes a ``subslide``;
- a code cell whose output is a figure, a table or an HTML player becomes a
  ``subslide`` (the deck shows its output only: ``scripts/build_slides.py`` drops
  every code input);
- everything else is ``skip``: prose between the equations, code, printed checks,
  exercises and solutions (cells tagged ``solution``), and the hidden Colab set-up
  cell (tagged ``remove-cell``).

A slide type already present in a cell is kept: it was set by this rule or by hand,
and a human choice wins. ``--reset`` recomputes every cell (after a change of rule).
The script is deterministic and idempotent, and writes a notebook only when it changes.

Usage: ``python scripts/set_slide_metadata.py [--reset] [--check] [NOTEBOOK ...]``
(default: every notebook of ``_toc.yml``). ``--check`` writes nothing and exits 1 if any
notebook would change.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_notebooks  # noqa: E402

__all__ = ["SLIDE_TYPES", "slide_type_for", "apply", "main"]

SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
SKIP_TAGS = {"remove-cell", "solution", "remove-input", "remove-output"}
SHOWN_MIME = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "text/markdown")
HEADING = re.compile(r"\A\s*#{1,2} \S")
DIRECTIVE = re.compile(r"^```\{(exercise|solution)\}", re.MULTILINE)


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _shows_output(cell) -> bool:
    """True when a code cell displays a figure, a table or an HTML player."""
    for output in cell.get("outputs", []):
        if any(mime in output.get("data", {}) for mime in SHOWN_MIME):
            return True
    return False


def slide_type_for(cell) -> str:
    """The slide type the rule gives ``cell`` (an nbformat cell or dict)."""
    if _tags(cell) & SKIP_TAGS:
        return "skip"
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    if cell.get("cell_type") == "markdown":
        if HEADING.match(source):
            return "slide"
        if DIRECTIVE.search(source):
            return "skip"
        if "$$" in source:
            return "subslide"
        return "skip"
    if cell.get("cell_type") == "code" and _shows_output(cell):
        return "subslide"
    return "skip"


def apply(nb, reset: bool = False) -> int:
    """Set the slide type of every cell of ``nb`` in place; returns the number changed."""
    changed = 0
    for cell in nb.cells:
        slideshow = cell.metadata.get("slideshow", {})
        current = slideshow.get("slide_type")
        if current in SLIDE_TYPES and not reset:
            continue
        wanted = slide_type_for(cell)
        if current != wanted:
            cell.metadata["slideshow"] = {**slideshow, "slide_type": wanted}
            changed += 1
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--reset", action="store_true", help="recompute every cell")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on change")
    args = parser.parse_args(argv)
    paths = args.notebooks or book_notebooks.notebooks()
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if apply(nb, reset=args.reset):
            stale.append(path)
            if not args.check:
                nbformat.write(nb, path)
    for path in stale:
        print(f"{'would update' if args.check else 'updated'} {path}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
