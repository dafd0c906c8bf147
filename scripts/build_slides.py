"""Build the lecture decks: one reveal.js deck per chapter notebook (``make slides``).

Each deck is made by nbconvert's slides exporter from the chapter notebook itself, read
from ``_toc.yml``; the cells and their order come from the standard cell metadata
``slideshow.slide_type`` (set by ``scripts/set_slide_metadata.py``), so a deck and its
chapter cannot drift apart. On the way, for the projector:

- every code input is dropped (``exclude_input``): a deck shows equations, figures,
  tables and results; the code lives in the notebook; a figure gets its caption and
  alt text from the cell metadata the book uses (``mystnb.figure`` / ``mystnb.image``);
- the MyST markup that only Jupyter Book understands is turned into plain Markdown:
  an ``{exercise}`` becomes a bold "Exercise" paragraph, a ``{solution}`` is removed,
  an ``{admonition}`` becomes a bold title and its text, ``{cite}`` becomes the
  authors and year from ``book/references.bib``, other roles keep their text, and
  links to other chapters point to their web pages;
- reveal.js and MathJax 3 are served from the deck's folder (``_assets/``, copied from
  ``node_modules`` as pinned in ``package-lock.json``): nothing is requested off the
  machine. MathJax gets the web book's TeX macros from ``_config.yml``.

Output: ``_build/html/slides/<notebook-stem>.slides.html`` (next to the web book, which
links each deck from ``book/slides_and_pdf.md``) and ``_build/html/slides/_assets/``.

Usage: ``python scripts/build_slides.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import yaml
from nbconvert.exporters import SlidesExporter
from traitlets.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import book_notebooks  # noqa: E402
import set_slide_metadata  # noqa: E402

__all__ = ["plain_markdown", "deck_notebook", "expected_slide_count", "build", "main"]

ROOT = book_notebooks.ROOT
TEMPLATE_DIR = Path(__file__).resolve().parent / "slides_template"
REVEAL_SRC = ROOT / "node_modules" / "reveal.js"
MATHJAX_SRC = ROOT / "node_modules" / "mathjax" / "es5"
ASSETS = "_assets"

FENCE = re.compile(r"^```\{(?P<name>[a-z-]+)\}[ \t]*(?P<arg>[^\n]*)\n(?P<body>.*?)^```[ \t]*$",
                   re.MULTILINE | re.DOTALL)
OPTION = re.compile(r"\A(?::[a-z-]+:[^\n]*\n)+")
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
ROLE = re.compile(r"\{[a-z:-]+\}`([^`<]*?)\s*(?:<[^`>]*>)?`")
NOTEBOOK_LINK = re.compile(r"\]\((?!https?:)([^)#\s]+)\.(?:ipynb|md)(#[^)]*)?\)")


def bib_labels(bib_path: Path) -> dict[str, str]:
    """``{key: "Author et al. (year)"}`` for every entry of a BibTeX file."""
    labels = {}
    text = bib_path.read_text() if bib_path.exists() else ""
    for key, body in re.findall(r"@\w+\{([^,]+),(.*?)\n\}", text, re.DOTALL):
        author = re.search(r"author\s*=\s*[{\"](.*?)[}\"],?\s*\n", body, re.DOTALL)
        year = re.search(r"year\s*=\s*[{\"]?(\d{4})", body)
        names = [a.strip() for a in (author.group(1) if author else key).split(" and ")]
        last = [n.split(",")[0].strip("{} ") if "," in n else n.split()[-1].strip("{}")
                for n in names if n]
        who = last[0] if len(last) == 1 else (
            f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al.")
        labels[key.strip()] = f"{who} ({year.group(1)})" if year else who
    return labels


def plain_markdown(source: str, labels: dict[str, str]) -> str:
    """The MyST of one markdown cell as plain Markdown for nbconvert (see module doc)."""

    def fence(match):
        name, arg, body = match.group("name"), match.group("arg").strip(), match.group("body")
        body = OPTION.sub("", body).strip()
        if name == "solution":
            return ""
        if name == "exercise":
            return f"**Exercise{': ' + arg if arg else ''}.** {body}\n"
        if name in {"admonition", "note", "tip", "important", "warning", "seealso"}:
            title = arg or name.capitalize()
            return f"**{title}.** {body}\n"
        return body + "\n"

    text = FENCE.sub(fence, source)
    text = CITE.sub(lambda m: "; ".join(labels.get(k.strip(), k.strip())
                                        for k in m.group(1).split(",")), text)
    text = ROLE.sub(lambda m: m.group(1), text)
    text = NOTEBOOK_LINK.sub(lambda m: f"](../{_page_path(m.group(1))}.html{m.group(2) or ''})",
                             text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _page_path(target: str) -> str:
    """Web-page path (relative to the site root, no suffix) of a link between chapters."""
    return f"book/{Path(target).name}"


def deck_notebook(nb, labels: dict[str, str]):
    """A copy of ``nb`` ready for the slides exporter (markdown as plain Markdown)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, labels)
        caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption")
        if cell.cell_type == "code" and caption:
            # The figure's caption from the book, under the figure (MathJax typesets it).
            cell.outputs.append(nbformat.v4.new_output(
                "display_data", data={"text/html": f'<p class="lvm-caption">{html.escape(caption)}</p>'}))
    return nb


def expected_slide_count(nb) -> int:
    """Slides of the deck: one per cell typed ``slide`` or ``subslide`` (a cell without a
    type counts as the rule of ``scripts/set_slide_metadata.py`` types it)."""
    nb = copy.deepcopy(nb)
    set_slide_metadata.apply(nb)
    return sum(
        cell.metadata.get("slideshow", {}).get("slide_type") in {"slide", "subslide"}
        for cell in nb.cells
    )


def mathjax_config() -> dict:
    """MathJax 3 configuration of the decks: the web book's macros, dollar delimiters."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx_config = (config.get("sphinx") or {}).get("config") or {}
    macros = (((sphinx_config.get("mathjax3_config") or {}).get("tex")) or {}).get("macros") or {}
    return {
        "tex": {
            "inlineMath": [["$", "$"], ["\\(", "\\)"]],
            "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
            "processEscapes": True,
            "macros": macros,
            # An unknown command is an error (data-mjx-error), not quiet red text.
            "packages": {"[-]": ["noundefined"]},
        },
        "chtml": {"fontURL": f"{ASSETS}/mathjax/output/chtml/fonts/woff-v2"},
    }


def copy_assets(out: Path) -> None:
    """reveal.js (dist/) and MathJax 3 (tex-chtml-full + fonts) into ``out/_assets``."""
    if not (REVEAL_SRC / "dist" / "reveal.js").exists() or not MATHJAX_SRC.exists():
        raise SystemExit("error: node_modules lacks reveal.js or mathjax; run 'npm ci' (make slides does)")
    assets = out / ASSETS
    shutil.rmtree(assets, ignore_errors=True)
    shutil.copytree(REVEAL_SRC / "dist", assets / "reveal.js" / "dist",
                    ignore=shutil.ignore_patterns("*.d.ts", "*.mjs", "utils"))
    shutil.copy(REVEAL_SRC / "LICENSE", assets / "reveal.js" / "LICENSE")
    fonts = assets / "mathjax" / "output" / "chtml" / "fonts"
    shutil.copytree(MATHJAX_SRC / "output" / "chtml" / "fonts" / "woff-v2", fonts / "woff-v2")
    shutil.copy(MATHJAX_SRC / "tex-chtml-full.js", assets / "mathjax" / "tex-chtml-full.js")
    shutil.copy(MATHJAX_SRC.parent / "LICENSE", assets / "mathjax" / "LICENSE")


def exporter() -> SlidesExporter:
    config = Config()
    config.SlidesExporter.extra_template_basedirs = [str(TEMPLATE_DIR)]
    config.SlidesExporter.template_name = "lvm_reveal"
    config.SlidesExporter.exclude_input = True
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.SlidesExporter.reveal_url_prefix = f"{ASSETS}/reveal.js"
    config.SlidesExporter.reveal_theme = "white"
    return SlidesExporter(config=config)


def build(out: Path) -> list[Path]:
    """Write every chapter's deck into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    labels = bib_labels(ROOT / "book" / "references.bib")
    slides = exporter()
    written = []
    for path in book_notebooks.notebooks():
        nb = nbformat.read(path, as_version=4)
        missing = set_slide_metadata.apply(nb)  # in memory only; the notebook is not written
        if missing:
            print(f"warning: {path.name}: {missing} cells without slideshow.slide_type get the "
                  "rule's type in this deck; run 'python scripts/set_slide_metadata.py'",
                  file=sys.stderr)
        page = path.relative_to(ROOT).with_suffix(".html").as_posix()
        resources = {
            "metadata": {"name": path.stem},
            "lvm": {
                "mathjax_config": mathjax_config(),
                "mathjax_url": f"{ASSETS}/mathjax/tex-chtml-full.js",
                "reveal_url": f"{ASSETS}/reveal.js",
                "page_url": f"../{page}",
            },
        }
        body, _ = slides.from_notebook_node(deck_notebook(nb, labels), resources=resources)
        target = out / f"{path.stem}.slides.html"
        target.write_text(body)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "html" / "slides")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = build(args.out)
    print(f"{len(written)} decks in {args.out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
