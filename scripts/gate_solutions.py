"""Put the code of every solution inside its dropdown (a notebook transform; idempotent).

Usage: ``python scripts/gate_solutions.py [notebook.ipynb ...]`` (default: every book
notebook of ``_toc.yml``); ``--check`` only reports the notebooks it would change.

A solution with code used to be written as a markdown cell ending in a
sphinx-exercise directive, followed by code cells tagged ``solution`` and
``hide-input``::

    ```{solution} ex-label          | code cell [solution, hide-input]
    :class: dropdown                | code cell (a check, untagged)
    Text of the solution.           | code cell [solution, hide-input]
    ```                             |

On the web page the directive became a closed dropdown, but the code cells
stayed outside it: ``hide-input`` hid their source and left their *outputs*
(numbers, figures, tables: the answer) on the page under the closed solution.

This script rewrites such a solution into sphinx-exercise's *gated* form, whose
``solution-start`` ... ``solution-end`` pair takes every cell between them into
the solution node, so the dropdown hides text, code and outputs alike::

    ```{solution-start} ex-label    | code cells (solution / check)  | ```{solution-end}
    :class: dropdown                |                                | ```
    ```                             |                                |  (a new markdown cell)

    Text of the solution.

The gated block ends after the last ``solution``-tagged code cell of the run of
code cells that follows the directive; untagged code cells *between* two
solution cells (a self-check of the student's function) go inside with them.
The ``hide-input`` tag of the enclosed solution cells is dropped: once the reader
opened the solution, the code is what they came for. A solution followed by no
solution cell (text only) keeps the plain ``{solution}`` directive. Running the
script again changes nothing. ``scripts/make_student_edition.py`` reads both forms.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_notebooks import notebooks  # noqa: E402

SOLUTION_TAG = "solution"
HIDE_TAG = "hide-input"
END_MARKER = "```{solution-end}\n```"

# A directive fence at the start of a line: ```{name} args   or   :::{name} args
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}(?P<args>.*)$")
_OPTION = re.compile(r"^\s*:[\w-]+:")


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _last_solution_directive(text: str):
    """``(start, end, fence, args, options, body)`` of a top-level ``{solution}`` directive
    that closes the markdown ``text`` (only blank lines after it), else None."""
    lines = text.rstrip("\n").split("\n")
    i = 0
    found = None
    while i < len(lines):
        m = _OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence = m["fence"]
        j = i + 1
        while j < len(lines):
            s = lines[j].strip()
            if len(s) >= len(fence) and set(s) == {fence[0]}:
                break
            j += 1
        if m["name"] == SOLUTION_TAG:
            found = (i, j, fence, m["args"].strip(), lines[i + 1:j])
        else:
            found = None
        i = j + 1
    if found is None or found[1] < len(lines) - 1 or found[1] >= len(lines):
        return None
    start, end, fence, args, inner = found
    k = 0
    while k < len(inner) and _OPTION.match(inner[k]):
        k += 1
    return start, end, fence, args, inner[:k], inner[k:], lines


def _gated_run(cells, first: int) -> int:
    """Index just past the last ``solution`` code cell of the code-cell run starting at ``first``."""
    last = None
    k = first
    while k < len(cells) and cells[k].cell_type == "code":
        if SOLUTION_TAG in _tags(cells[k]):
            last = k
        k += 1
    return -1 if last is None else last + 1


def gate_notebook(nb) -> bool:
    """Rewrite ``nb`` in place into the gated form; True when something changed."""
    changed = False
    cells = nb.cells
    i = 0
    while i < len(cells):
        cell = cells[i]
        if cell.cell_type != "markdown" or i + 1 >= len(cells):
            i += 1
            continue
        parsed = _last_solution_directive(cell.source)
        stop = _gated_run(cells, i + 1) if parsed else -1
        if stop < 0:
            i += 1
            continue
        start, _end, fence, args, options, body, lines = parsed
        fence = "`" * max(3, len(fence)) if fence.startswith("`") else fence
        head = "\n".join(lines[:start]).rstrip("\n")
        opening = "\n".join([f"{fence}{{solution-start}} {args}".rstrip(), *options, fence])
        text = "\n".join(body).strip("\n")
        cell.source = "\n\n".join(part for part in (head, opening, text) if part)
        for code in cells[i + 1:stop]:
            tags = _tags(code)
            if SOLUTION_TAG in tags and HIDE_TAG in tags:
                code.metadata["tags"] = [t for t in tags if t != HIDE_TAG]
        cells.insert(stop, nbformat.v4.new_markdown_cell(END_MARKER))
        # nbformat >= 4.5 wants a cell id; derive a stable one from the opening cell's.
        base = str(cell.get("id") or f"cell{i}")
        cells[stop]["id"] = (base[:56] + "-solend")[:64]
        changed = True
        i = stop + 1
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    would_change = []
    for path in args.paths or notebooks():
        nb = nbformat.read(path, as_version=4)
        if gate_notebook(nb):
            would_change.append(path)
            if not args.check:
                nbformat.write(nb, path)
    verb = "would gate" if args.check else "gated"
    for path in would_change:
        print(f"{verb} solutions in {path}")
    return 1 if (args.check and would_change) else 0


if __name__ == "__main__":
    sys.exit(main())
