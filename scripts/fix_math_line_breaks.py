"""Keep inline maths whole where a wrapped line starts with ``-``, ``+``, ``*`` or ``1.``.

Usage: ``python scripts/fix_math_line_breaks.py [file.ipynb|file.md ...]`` (default: every
book notebook of ``_toc.yml`` and every ``book/*.md``); ``--check`` only reports.

The cause of "raw TeX in the prose": a paragraph wrapped at 80-odd columns such that a
continuation line *inside* an inline formula begins with a list marker, e.g.::

    We compute it as $\\sum_i \\sum_c q_{ic} (\\log p(\\mathbf{x}_i \\lvert \\boldsymbol{\\theta})
    - \\log q_{ic})$, with the convention $0 \\log 0 = 0$.

CommonMark lets a bullet list item (``-``, ``+``, ``*`` followed by a space) or an
ordered item numbered 1 interrupt a paragraph. MyST reads the second line as a new
list, the ``$`` of the formula never finds its partner inside the first paragraph,
the TeX is printed as text, and the ``$`` pairs shift for the rest of the block (prose
set as italic maths). Jupyter's and Colab's renderers are more lenient, so the notebook
looks right there. No parser option of myst-parser changes this (the dollarmath
options ``dmath_allow_space`` / ``dmath_allow_digits`` govern ``$`` next to spaces and
digits, not block structure), so the fix is in the text: when a line starting with
such a marker falls inside an open ``$...$`` of its paragraph, the marker is moved to
the end of the previous line (``... \\boldsymbol{\\theta}) -`` / ``\\log q_{ic})$``),
which TeX typesets identically. Display maths (``$$`` blocks) and code fences are
left alone; markdown inside directive fences (exercises, solutions) is treated like
the rest. Running the script twice changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from book_notebooks import ROOT, notebooks  # noqa: E402

# A line that would open a list item able to interrupt a paragraph.
_MARKER = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-+*]|1[.)])(?P<space>[ \t]+)(?P<rest>\S.*)$")
_CODE_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})(?!\{)")
_DIRECTIVE = re.compile(r"^\s{0,3}(`{3,}|~{3,}|:{3,})\{")


def _single_dollars(line: str) -> int:
    """Number of ``$`` delimiters of inline maths in ``line`` (``\\$`` and ``$$`` excluded)."""
    line = re.sub(r"\\.", "", line)
    line = re.sub(r"`[^`]*`", "", line)
    return len(re.findall(r"(?<!\$)\$(?!\$)", line))


def fix_text(text: str) -> str:
    """``text`` with every list marker that would split an inline formula moved up a line."""
    lines = text.split("\n")
    out: list[str] = []
    open_math = False  # inside $...$ of the current paragraph
    code_fence = None  # the fence of a code block we are in
    display = False  # inside a $$ ... $$ block
    directives: list[str] = []  # fences of the directives we are in (their body is markdown)
    for line in lines:
        stripped = line.strip()
        if code_fence:
            out.append(line)
            if stripped.startswith(code_fence) and set(stripped) == {code_fence[0]}:
                code_fence = None
            continue
        if directives and set(stripped) == {directives[-1][0]} and len(stripped) >= len(directives[-1]):
            directives.pop()  # the closing fence of an exercise, a solution, ...
            open_math = False
            out.append(line)
            continue
        m_dir = _DIRECTIVE.match(line)
        if m_dir and not open_math:
            directives.append(m_dir.group(1))
            out.append(line)
            continue
        m_code = _CODE_FENCE.match(line)
        if m_code and not open_math:
            code_fence = m_code.group(1)
            out.append(line)
            continue
        if display:
            out.append(line)
            if stripped.endswith("$$"):
                display = False
            continue
        if stripped.startswith("$$") and not open_math:
            # "$$" alone or "$$ ..." opens a display block; "$$ ... $$" is one whole line
            display = stripped == "$$" or not (len(stripped) >= 4 and stripped.endswith("$$"))
            out.append(line)
            continue
        if not stripped:
            open_math = False
            out.append(line)
            continue
        m = _MARKER.match(line)
        if m and open_math and out and out[-1].strip():
            out[-1] = out[-1].rstrip() + " " + m["marker"]
            line = m["indent"] + m["rest"]
        if _single_dollars(line) % 2 == 1:
            open_math = not open_math
        out.append(line)
    return "\n".join(out)


def _markdown_files(paths):
    if paths:
        return paths
    return list(notebooks()) + sorted((ROOT / "book").glob("*.md"))


def fix_file(path: Path, write: bool) -> bool:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        changed = False
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                new = fix_text(cell.source)
                if new != cell.source:
                    cell.source, changed = new, True
        if changed and write:
            nbformat.write(nb, path)
        return changed
    text = path.read_text()
    new = fix_text(text)
    if new != text and write:
        path.write_text(new)
    return new != text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args(argv)
    changed = [p for p in _markdown_files(args.paths) if fix_file(p, write=not args.check)]
    for path in changed:
        print(f"{'would fix' if args.check else 'fixed'} math line breaks in {path}")
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
