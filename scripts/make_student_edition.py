"""Write the student edition of the book (``make student``): same sources, no solutions.

Usage: ``python scripts/make_student_edition.py [--out build/student] [--no-execute] [--no-html]``

It copies the book's sources into ``--out`` (``_config.yml`` with the title
marked "student edition", ``_toc.yml``, the helper module, everything under
``book/``) and transforms them on the way:

- a code cell tagged ``solution`` becomes a stub: each top-level function keeps
  its decorators, ``def`` line(s) and docstring, and its body becomes
  ``raise NotImplementedError("Exercise: ...")``; everything else in the cell
  (statements, imports, comments) is dropped and a cell without functions
  becomes a comment asking for the student's code;
- ``solution`` directives of sphinx-exercise are removed from markdown cells
  and ``.md`` pages, in both fence forms (```` ```{solution} ```` and
  ``:::{solution}``), as are ``solution-start`` ... ``solution-end`` blocks, also
  when the block spans cells (the form ``scripts/gate_solutions.py`` writes: a
  markdown cell opens it, code cells follow, a later markdown cell closes it):
  the markdown of the block goes, its ``solution`` code cells become stubs and
  its other code cells (self-checks) stay;
- stored outputs are cleared.

Then it runs every student notebook top to bottom (the exercise stubs raise
NotImplementedError, which the helper module's self-checks catch and report)
and builds the student HTML book into ``<out>/_build/html``. No chapter has a
hand-edited second copy: this script is the only source of the student edition.
"""

from __future__ import annotations

import argparse
import ast
import copy
import io
import re
import shutil
import subprocess
import sys
import time
import tokenize
from pathlib import Path

import nbformat

from book_notebooks import ROOT, toc_entries
from execute_notebooks import execute

SOLUTION_TAG = "solution"
STUB_TAG = "exercise-stub"
HELPER = "latent_variable_models_util.py"
NO_FUNCTION_STUB = "# Exercise: write your code here (the solution is not part of the student edition)."


# --- code cells ----------------------------------------------------------------------

def _header_end(lines: list[str], def_line: int) -> int:
    """1-based number of the line holding the ``:`` that ends the ``def`` starting at ``def_line``."""
    text = "".join(lines[def_line - 1:])
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                elif tok.string in ")]}":
                    depth -= 1
                elif tok.string == ":" and depth == 0:
                    return def_line - 1 + tok.start[0]
    except (tokenize.TokenError, IndentationError):
        pass
    raise ValueError(f"could not find the end of the def statement on line {def_line}")


def _stub_function(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Decorators, signature and docstring of ``node``, with a body that raises NotImplementedError."""
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    end = _header_end(lines, node.lineno)
    first = node.body[0]
    out = [line.rstrip("\n") for line in lines[start - 1:end]]
    if first.lineno <= end:
        # "def f(x): return x" -- body on the def line: rebuild a clean header.
        prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        out = out[:-1] + [" " * node.col_offset + f"{prefix} {node.name}({ast.unparse(node.args)}){returns}:"]
        indent = node.col_offset + 4
    else:
        indent = first.col_offset
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            out += [line.rstrip("\n") for line in lines[first.lineno - 1:first.end_lineno]]
    out.append(" " * indent + f'raise NotImplementedError("Exercise: write the body of {node.name}")')
    return out


def stub_solution_code(source: str, checked: bool = False) -> str:
    """The student version of a solution code cell (see the module docstring).

    ``checked`` says that a self-check of the book (``lvm.check_...``) follows;
    the stub's first comment then points the student to it.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return NO_FUNCTION_STUB
    lines = source.splitlines(keepends=True)
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not functions:
        return NO_FUNCTION_STUB
    blocks = ["\n".join(_stub_function(lines, f)) for f in functions]
    then = ", then run the self-check in the next cell" if checked else ", then run this cell"
    return f"# Exercise: complete the function(s) below{then}.\n" + "\n\n\n".join(blocks)


# --- markdown --------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^ {0,3}(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z-]+)\}")


def _is_closing(line: str, fence: str) -> bool:
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def _skip_block(lines: list[str], i: int, fence: str) -> int:
    """Index just past the closing fence of the block opened at ``lines[i]``."""
    j = i + 1
    while j < len(lines) and not _is_closing(lines[j], fence):
        j += 1
    return j + 1


def _remove_solutions(text: str, gated: bool) -> tuple[str, bool]:
    """``text`` without its solutions, and whether a gated solution is still open at its end.

    ``gated`` says that ``text`` starts inside a ``solution-start`` block opened earlier
    (in a previous cell): everything up to its ``solution-end`` is solution text.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if gated:
            if m and m["name"] == "solution-end":
                gated = False
                i = _skip_block(lines, i, m["fence"])
            else:
                i = _skip_block(lines, i, m["fence"]) if m else i + 1
        elif m and m["name"] == "solution":
            i = _skip_block(lines, i, m["fence"])
        elif m and m["name"] == "solution-start":
            i = _skip_block(lines, i, m["fence"])
            gated = True
        else:
            out.append(lines[i])
            i += 1
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(out))
    return result.strip("\n") + ("\n" if text.endswith("\n") and result.strip() else ""), gated


def remove_solution_directives(text: str) -> str:
    """``text`` with every sphinx-exercise solution removed (both fence forms, gated form too)."""
    return _remove_solutions(text, gated=False)[0]


# --- notebooks -------------------------------------------------------------------------

def transform_notebook(nb):
    """A student copy of notebook ``nb``: solution cells stubbed, solution directives gone, no outputs."""
    nb = copy.deepcopy(nb)
    cells = []
    gated = False  # inside a solution-start ... solution-end block that spans cells
    for k, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if SOLUTION_TAG in tags:
                following = next((c for c in nb.cells[k + 1:] if c.cell_type == "code"), None)
                checked = following is not None and "lvm.check_" in following.source
                cell.source = stub_solution_code(cell.source, checked)
                cell.metadata["tags"] = [t for t in tags if t != SOLUTION_TAG] + [STUB_TAG]
        elif cell.cell_type == "markdown":
            cell.source, gated = _remove_solutions(cell.source, gated)
            if not cell.source.strip():
                continue
        cells.append(cell)
    nb.cells = cells
    return nb


def has_solution_cells(nb) -> bool:
    return any(c.cell_type == "code" and SOLUTION_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells)


def _student_config(text: str) -> str:
    return re.sub(r'^title:\s*"?(.*?)"?\s*$', lambda m: f'title: "{m.group(1)} (student edition)"',
                  text, count=1, flags=re.M)


def _extra_paths(root: Path) -> list[str]:
    """What ``_config.yml`` needs beside the book, relative to the root: the folders of
    ``html_extra_path`` (copied into the site) and the folders of ``local_extensions``
    (whole: an extension may import a module beside it, as sphinx_decks does)."""
    import yaml

    sphinx = yaml.safe_load((root / "_config.yml").read_text()).get("sphinx") or {}
    paths = list((sphinx.get("config") or {}).get("html_extra_path") or [])
    for name, folder in (sphinx.get("local_extensions") or {}).items():
        folder = str(Path(folder))
        if folder in ("", ".") or not (root / folder).is_dir():  # an extension at the root
            paths += [f"{name}.py"] if (root / f"{name}.py").is_file() else []
        elif folder not in paths:
            paths.append(folder)
    return paths


def write_edition(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the student sources into ``out``; return the student notebooks, in reading order."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    (out / "book").mkdir(parents=True)
    (out / "_config.yml").write_text(_student_config((root / "_config.yml").read_text()))
    shutil.copy2(root / "_toc.yml", out / "_toc.yml")
    shutil.copy2(root / HELPER, out / HELPER)
    for extra in _extra_paths(root):  # e.g. the self-hosted MathJax staged by `make mathjax`
        src, dst = root / extra, out / extra
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    for src in sorted((root / "book").rglob("*")):
        rel = src.relative_to(root)
        if src.is_dir() or any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".ipynb":
            nbformat.write(transform_notebook(nbformat.read(src, as_version=4)), dst)
        elif src.suffix == ".md":
            dst.write_text(remove_solution_directives(src.read_text()))
        else:
            shutil.copy2(src, dst)
    return [out / f"{e}.ipynb" for e in toc_entries(out) if (out / f"{e}.ipynb").exists()]


def build_html(out: Path) -> Path:
    """Build the student HTML book into ``out/_build/html``, failing on any warning."""
    jb = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "build", str(out), "-W", "-n", "--keep-going"], check=True)
    index = out / "_build" / "html" / "index.html"
    if not index.is_file():
        raise SystemExit(f"error: the student build wrote no {index}")
    return index


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    parser.add_argument("--no-execute", action="store_true", help="do not run the student notebooks")
    parser.add_argument("--no-html", action="store_true", help="do not build the HTML book")
    args = parser.parse_args(argv)
    notebooks = write_edition(args.out)
    print(f"wrote {len(notebooks)} student notebooks into {args.out}")
    if not args.no_execute:
        from nbclient.exceptions import CellExecutionError

        failed = []
        for path in notebooks:
            start = time.perf_counter()
            try:
                execute(path)
            except CellExecutionError as exc:
                failed.append(path.name)
                print(f"  FAILED {path.name}: {str(exc).strip().splitlines()[-1]}", flush=True)
                continue
            print(f"  ran {path.name}: {time.perf_counter() - start:.1f} s", flush=True)
        if failed:
            raise SystemExit(f"error: {len(failed)} student notebook(s) did not run to the end: {', '.join(failed)}")
    if not args.no_html:
        print(f"student book: {build_html(args.out)}")


if __name__ == "__main__":
    main()
