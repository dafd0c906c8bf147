"""Sphinx extension: the ``{decks}`` directive of ``book/slides_and_pdf.md``.

It lists, in the order of ``_toc.yml``, every chapter notebook with its title (the
notebook's first heading) and links to its reveal.js deck, ``slides/<stem>.slides.html``
(``make slides``), and to the PDF of the book (``make pdf``), both placed next to the web
pages in ``_build/html``. The links are written as raw HTML because Sphinx does not know
these files (its link checks, under ``-W``, would otherwise reject them); the list is made
from ``_toc.yml`` at build time, so renaming a chapter needs no edit of the page.
"""

from __future__ import annotations

import html
import posixpath
import re
import sys
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_notebooks  # noqa: E402

__all__ = ["deck_entries", "DecksDirective", "setup"]


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^# (.+)$", cell.source, re.MULTILINE)
            if match:
                return match.group(1).strip()
    return path.stem


def deck_entries(root: Path) -> list[tuple[str, str]]:
    """``[(title, "slides/<stem>.slides.html"), ...]`` for the notebooks of ``_toc.yml``."""
    entries = []
    for entry in book_notebooks.toc_entries(root):
        path = Path(root) / f"{entry}.ipynb"
        if path.exists():
            entries.append((_title(path), f"slides/{path.stem}.slides.html"))
    return entries


def _pdf_name(config) -> str:
    documents = config.latex_documents or []
    target = documents[0][1] if documents else "book.tex"
    return posixpath.splitext(target)[0] + ".pdf"


class DecksDirective(SphinxDirective):
    """``{decks}``: a list of links to every chapter's deck, then to the PDF."""

    has_content = False

    def run(self):
        up = posixpath.relpath(".", posixpath.dirname(self.env.docname) or ".")
        prefix = "" if up == "." else up + "/"
        root = Path(self.env.srcdir)
        pdf = _pdf_name(self.config)
        if self.env.app.builder.format != "html":
            items = nodes.bullet_list()
            for title, _ in deck_entries(root):
                items += nodes.list_item("", nodes.paragraph(text=title))
            return [items]
        rows = "\n".join(
            f'  <li><a class="reference external" href="{prefix}{html.escape(target)}">'
            f"{html.escape(title)}</a></li>"
            for title, target in deck_entries(root)
        )
        body = (
            f'<ol class="lvm-decks">\n{rows}\n</ol>\n'
            f'<p>The whole book as one PDF: <a class="reference external lvm-pdf" '
            f'href="{prefix}{html.escape(pdf)}">{html.escape(pdf)}</a>.</p>\n'
        )
        return [nodes.raw("", body, format="html")]


def setup(app):
    app.add_directive("decks", DecksDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
