"""Sphinx extension: the book on paper (loaded via ``local_extensions``; acts only in LaTeX).

The PDF (``make pdf``) is built from the same sources as the web book by Jupyter Book's
LaTeX route. Five things differ on paper, and this extension makes them right:

1. **Math macros, from one source.** The web book defines TeX macros for MathJax in
   ``_config.yml`` (``sphinx.config.mathjax3_config.tex.macros``). The same entries are
   turned into ``\\newcommand`` lines of the LaTeX preamble here, read from Sphinx's
   configuration at start-up, so that there is no second copy to keep in step.
2. **Tagged equations.** The book numbers the article's equations with ``\\tag{n}``
   inside ``$$ ... $$`` (often around an ``aligned`` block). Sphinx's LaTeX writer would
   wrap such a display in ``split``, where amsmath refuses ``\\tag``. A tagged display is
   written as ``equation*`` instead, so it carries exactly its own number, and it gets the
   PDF destination ``eq-n`` that the pages' ``[...](#eq-n)`` links point to.
3. **The animation.** An HTML-only output (the JavaScript player of chapter 6) has no
   printed form: its cell, input and output, is replaced by a short note pointing to the
   static panels the chapter shows next to it.
4. **Solutions at the end of each chapter.** On the web a solution is a dropdown right
   below its exercise. On paper, answers right below questions give them away, so every
   solution of a chapter (the ``{solution}`` block and the code cells tagged
   ``solution``) is moved, in order, to a final section "Solutions" of that chapter.
5. **Room on the page.** Long code lines and outputs wrap (Sphinx's ``sphinxVerbatim``,
   forced to break inside a word when a line has no space; inline code may break after
   an underscore), tables are set small with no column narrower than a number, and
   figures are scaled to the text width.
6. **Bold Greek.** unicode-math, which the jupyterBook LaTeX theme loads, ignores
   amsmath's ``\\boldsymbol``; it is mapped to ``\\symbf`` so that the bold parameters
   of the notation stay bold. The theme also loads ``bbm``, which Debian ships only in the
   1.4 GB texlive-fonts-extra: a small stand-in (``scripts/latex/bbm.sty``) is copied
   next to the ``.tex``.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.writers.latex import LaTeXTranslator

__all__ = [
    "macro_preamble",
    "tagged_display",
    "is_html_only_cell",
    "solutions_by_page",
    "collect_solutions",
    "setup",
]

TAG = re.compile(r"\\tag\*?\{([^}]*)\}")
SOLUTIONS_TITLE = "Solutions"
ANIMATION_NOTE = (
    "The animation plays in the web book and in the notebook; on paper, the figures "
    "of this chapter show its states."
)


def macro_preamble(macros: dict) -> str:
    """LaTeX definitions of MathJax's ``tex.macros`` (``name: body`` or ``name: [body, n]``)."""
    lines = []
    for name, value in sorted((macros or {}).items()):
        if not re.fullmatch(r"[A-Za-z]+", str(name)):
            raise ValueError(f"mathjax3_config tex macro names must be letters; got {name!r}")
        if isinstance(value, (list, tuple)):
            body, nargs = value[0], int(value[1])
            args = f"[{nargs}]"
        else:
            body, args = value, ""
        # \providecommand + \renewcommand: define it whether or not LaTeX already has it.
        lines.append(f"\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}{args}{{{body}}}")
    return "\n".join(lines)


def tagged_display(latex: str) -> str | None:
    """``equation*`` LaTeX for a display that numbers itself with ``\\tag``; None otherwise."""
    match = TAG.search(latex)
    if not match:
        return None
    anchor = ""
    if re.fullmatch(r"\d+", match.group(1).strip()):
        anchor = f"\\hypertarget{{eq-{match.group(1).strip()}}}{{}}"
    return f"{anchor}\\begin{{equation*}}\n{latex.strip()}\n\\end{{equation*}}\n"


def _is_latex(app) -> bool:
    return app.builder is not None and app.builder.format == "latex"


def is_html_only_cell(cell: nodes.Element) -> bool:
    """True for a notebook cell whose only outputs have no printed form (HTML/JavaScript)."""
    outputs = [n for n in cell.findall(nodes.container) if "cell_output" in n.get("classes", [])]
    if not outputs:
        return False
    text = outputs[0].astext().strip()
    return bool(text) and all(
        line.strip().startswith("<IPython.core.display.") for line in text.splitlines()
    )


def _is_solution(node: nodes.Node) -> bool:
    classes = node.get("classes", []) if isinstance(node, nodes.Element) else []
    if type(node).__name__ in {"solution_node", "enumerable_solution_node"}:
        return True
    return "tag_solution" in classes and "cell" in classes


def solutions_by_page(tree: nodes.Element) -> list:
    """``[(page, [(container, solution), ...]), ...]``: the solutions of each page of the
    book, in reading order, with the element that holds each one.

    The LaTeX builder inlines every page into one tree, each inside a ``start_of_file``
    node, without resetting the ``parent`` links of the moved nodes: the walk therefore
    goes down from the root and never up through ``parent``."""
    pages = []

    def walk(element, found):
        for child in list(element.children):
            if isinstance(child, addnodes.start_of_file):
                inner = []
                pages.append((child, inner))
                walk(child, inner)
            elif _is_solution(child):
                found.append((element, child))
            elif isinstance(child, nodes.Element):
                walk(child, found)

    walk(tree, [])
    return pages


def collect_solutions(tree: nodes.Element) -> int:
    """Move every solution of each page, in order, into a last section "Solutions" of its
    chapter (the page's first section). Returns the number of solutions moved."""
    moved = 0
    for page, found in solutions_by_page(tree):
        chapter = next((c for c in page.children if isinstance(c, nodes.section)), None)
        if not found or chapter is None:
            continue
        ident = chapter["ids"][0] if chapter["ids"] else page.get("docname", "page")
        section = nodes.section(ids=[f"solutions-{ident}"])
        section += nodes.title(text=SOLUTIONS_TITLE)
        for container, node in found:
            container.children.remove(node)
            section.append(node)
        chapter.append(section)
        moved += len(found)
    return moved


def add_macros(app, config) -> None:
    """config-inited: append the MathJax macros of ``_config.yml`` to the LaTeX preamble."""
    macros = ((config.mathjax3_config or {}).get("tex") or {}).get("macros") or {}
    elements = dict(config.latex_elements or {})
    preamble = macro_preamble(macros)
    # unicode-math (loaded by sphinx-jupyterbook-latex) ignores amsmath's \boldsymbol:
    # bold theta, mu, Sigma, pi (the notation's parameters) would print as plain letters.
    extra = (
        "\n% scripts/sphinx_print.py: bold Greek as in the web book (unicode-math)\n"
        "\\AtBeginDocument{\\renewcommand{\\boldsymbol}[1]{\\symbf{#1}}}\n"
    )
    # Inline code (a long keyword argument in prose) may break after an underscore.
    extra += (
        "% scripts/sphinx_print.py: inline code may break after an underscore\n"
        "\\AtBeginDocument{\\let\\lvmupquote\\sphinxupquote"
        "\\protected\\def\\sphinxupquote#1{{\\def\\_{\\textunderscore\\allowbreak}"
        "\\lvmupquote{#1}}}}\n"
    )
    # Tables (the benchmark results) in a smaller font, and no column narrower than a
    # number such as 7.88e+06: tabulary would otherwise clip it.
    extra += (
        "% scripts/sphinx_print.py: tables small, columns wide enough for a number\n"
        "\\AtBeginDocument{\\setlength{\\tymin}{42pt}}\n"
        "\\AtBeginEnvironment{tabulary}{\\footnotesize}\n"
    )
    if preamble:
        extra += "% scripts/sphinx_print.py: the web book's MathJax macros\n" + preamble + "\n"
    elements["preamble"] = elements.get("preamble", "") + extra
    # A code or output line with no space to break at (a long repr, a long name) is
    # broken at any character rather than running off the page.
    setup = elements.get("sphinxsetup", "")
    if "verbatimforcewraps" not in setup:
        elements["sphinxsetup"] = ", ".join(filter(None, [setup, "verbatimforcewraps=true"]))
    config.latex_elements = elements
    # The jupyterBook class loads bbm, which Debian ships only in the 1.4 GB
    # texlive-fonts-extra: a stand-in (scripts/latex/bbm.sty) is put next to the .tex.
    shim = Path(__file__).resolve().parent / "latex" / "bbm.sty"
    files = list(config.latex_additional_files or [])
    if str(shim) not in files:
        config.latex_additional_files = files + [str(shim)]


def print_transforms(app, doctree, docname) -> None:
    """doctree-resolved (LaTeX only): equations, HTML-only outputs, solutions."""
    if not _is_latex(app):
        return
    for node in list(doctree.findall(nodes.math_block)):
        latex = tagged_display(node.astext())
        if latex is not None and not node.get("nowrap"):
            node.replace_self(nodes.raw("", latex, format="latex"))
    for cell in list(doctree.findall(nodes.container)):
        if "cell" in cell.get("classes", []) and is_html_only_cell(cell):
            note = nodes.paragraph()
            note += nodes.emphasis(text=ANIMATION_NOTE)
            cell.replace_self(note)
    collect_solutions(doctree)
    for solution in [n for n in doctree.findall(nodes.Element) if _is_solution(n)]:
        for figure in solution.findall(nodes.figure):
            figure["in_box"] = True


def visit_figure(self, node: nodes.Element) -> None:
    """A figure inside a solution box cannot float in LaTeX ("Not in outer par mode"):
    it is set in place, centred, with its numbered caption (Sphinx's minipage path)."""
    if node.get("in_box"):
        node["outer_minipage"] = self.in_minipage
        self.in_minipage = 1
    LaTeXTranslator.visit_figure(self, node)


def depart_figure(self, node: nodes.Element) -> None:
    LaTeXTranslator.depart_figure(self, node)
    if node.get("in_box"):
        self.in_minipage = node["outer_minipage"]


def setup(app):
    app.add_node(nodes.figure, override=True, latex=(visit_figure, depart_figure))
    app.connect("config-inited", add_macros, priority=900)
    app.connect("doctree-resolved", print_transforms)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
