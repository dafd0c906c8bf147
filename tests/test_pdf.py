"""The PDF of the book (``make pdf``): what a reader of the printed book must find in it.

Read with poppler's tools: ``pdftotext`` for the text, ``pdfimages`` for the figures,
``pdftoppm`` for page pictures saved to ``test-artifacts/pdf/`` (to be looked at).
The PDF is expected at ``_build/latex/<name>.pdf``; ``make test`` builds it first.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

import book_notebooks
import build_pdf
import sphinx_print

ROOT = book_notebooks.ROOT
PDF = ROOT / "_build" / "latex" / build_pdf.pdf_name()
ARTIFACTS = ROOT / "test-artifacts" / "pdf"
ARTICLE_EQUATIONS = range(1, 20)
HIDDEN_TAGS = {"remove-cell", "remove-output"}
# A display equation's number sits at the right margin, far from the formula: in
# ``pdftotext -layout`` it ends its line after a run of spaces. A reference in prose,
# "Eq. (6)", follows a single space.
EQUATION_NUMBER = re.compile(r" {6,}\((\d+)\)$", re.MULTILINE)
SECTION_HEADING = re.compile(r"^(\d+\.\d+) ([A-Z][A-Za-z].*?)\s*$", re.MULTILINE)
PRINT_DPI = 250


@pytest.fixture(scope="module", autouse=True)
def built_pdf():
    for tool in ("pdftotext", "pdfimages", "pdftoppm", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make tex` (apt-get install poppler-utils)")
    if not PDF.is_file():
        pytest.fail(f"no PDF at {PDF}: run `make pdf`")
    return PDF


def _run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@lru_cache(maxsize=None)
def text() -> str:
    return _run("pdftotext", "-layout", str(PDF), "-")


@lru_cache(maxsize=None)
def flat_text() -> str:
    """The text with hyphenation at line ends undone and all white space single."""
    joined = re.sub(r"-\n\s*", "-", text())
    return re.sub(r"\s+", " ", joined.replace("\u2019", "'").replace("\u2013", "-"))


def page_count() -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(PDF)), re.MULTILINE).group(1))


def page_texts() -> list[str]:
    return text().split("\f")


def notebooks():
    return [(p, nbformat.read(p, as_version=4)) for p in book_notebooks.notebooks()]


def shown_figures(nb) -> int:
    """PNG figures a chapter shows (cells the book hides, and HTML players, excluded)."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or set(cell.metadata.get("tags", [])) & HIDDEN_TAGS:
            continue
        count += sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
    return count


def page_titles() -> list[str]:
    """The first heading of every page of ``_toc.yml`` (notebook or Markdown)."""
    titles = []
    for entry in book_notebooks.toc_entries():
        for suffix in (".ipynb", ".md"):
            path = ROOT / f"{entry}{suffix}"
            if not path.exists():
                continue
            if suffix == ".ipynb":
                source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                                   if c.cell_type == "markdown")
            else:
                source = path.read_text()
            match = re.search(r"^# (.+)$", source, re.MULTILINE)
            if match:
                titles.append(match.group(1).strip())
    return titles


def _plain(title: str) -> str:
    """A heading as pdftotext prints it: no Markdown emphasis or code marks, no math."""
    title = re.sub(r"[`*_]", "", title).replace("\u2019", "'").replace("\u2013", "-")
    return re.sub(r"\s+", " ", title)


def test_pdf_is_a_book_of_many_pages():
    assert page_count() >= 10 * len(book_notebooks.notebooks()), page_count()


def test_title_page_and_table_of_contents_open_the_book():
    pages = page_texts()
    config_title = re.sub(r"\s+", " ", pages[0]).strip()
    assert "Latent variable models" in config_title and "EM algorithm" in config_title
    contents = next(i for i, p in enumerate(pages) if "CONTENTS" in p or "Contents" in p)
    assert contents <= 4, "the table of contents should follow the title page"


@pytest.mark.parametrize("number", ARTICLE_EQUATIONS)
def test_each_article_equation_is_numbered_once(number):
    numbers = [int(n) for n in EQUATION_NUMBER.findall(text())]
    assert numbers.count(number) == 1, f"({number}) is printed {numbers.count(number)} times"


def test_equation_numbers_run_in_order_without_extras():
    numbers = [int(n) for n in EQUATION_NUMBER.findall(text())]
    assert numbers == sorted(numbers) and set(numbers) == set(ARTICLE_EQUATIONS), numbers


def test_no_unresolved_reference_or_raw_markup():
    body = text()
    assert "??" not in body, "an unresolved cross-reference or citation prints as ??"
    for raw in ("\\tag{", "$$", "<IPython.core.display", "{cite}", "{ref}", "```"):
        assert raw not in body, f"raw markup {raw!r} reached the PDF"


def test_every_page_title_appears():
    flat = flat_text()
    missing = [t for t in page_titles() if _plain(t) not in flat]
    assert not missing, missing


def test_the_three_parts_are_there():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    flat = flat_text()
    for part in toc["parts"]:
        assert part["caption"] in flat, part["caption"]


def test_hidden_colab_cell_is_absent():
    first_line = book_notebooks.setup_cell_source().splitlines()[0].lstrip("# ").strip()
    assert first_line[:40] not in flat_text()


def test_figure_count_matches_what_the_chapters_show():
    rows = [line.split() for line in _run("pdfimages", "-list", str(PDF)).splitlines()[2:]]
    images = [r for r in rows if r[2] == "image"]
    expected = sum(shown_figures(nb) for _, nb in notebooks())
    assert len(images) == expected, (len(images), expected)


def stored_file_figures(nb) -> int:
    """Figures a chapter shows from a stored PNG file (the benchmark plots that
    ``make bench`` writes, read with ``lvm.read_book_file``): the PDF build cannot
    redraw them, so they keep the resolution they were saved with."""
    return sum(
        "read_book_file(" in cell.source and "image/png" in o.get("data", {})
        for cell in nb.cells if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )


def test_figures_are_at_print_resolution():
    rows = [line.split() for line in _run("pdfimages", "-list", str(PDF)).splitlines()[2:]]
    low = [(r[0], r[3], r[4], r[12]) for r in rows if r[2] == "image" and int(r[12]) < PRINT_DPI]
    allowed = sum(stored_file_figures(nb) for _, nb in notebooks())
    assert len(low) <= allowed, (
        f"figures below {PRINT_DPI} ppi on the page (page, w, h, ppi): {low}; only the "
        f"{allowed} benchmark plots read from stored files may be"
    )


def test_every_captioned_figure_has_its_caption():
    """Each figure of a cell with a caption (``mystnb.figure.caption``) is printed as a
    numbered figure with that caption."""
    expected = 0
    for _, nb in notebooks():
        for cell in nb.cells:
            caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption")
            if caption and not set(cell.metadata.get("tags", [])) & HIDDEN_TAGS:
                expected += sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
    printed = re.findall(r"Fig\. \d+\.\d+:", text())
    assert len(printed) == expected, (len(printed), expected)


def test_solutions_follow_a_solutions_heading_at_the_end_of_each_chapter():
    directives = sum(
        c.source.count("```{solution}") + c.source.count("```{solution-start}")
        for _, nb in notebooks() for c in nb.cells
        if c.cell_type == "markdown"
    )
    body = text()
    solutions = [m.start() for m in re.finditer(r"Solution to Exercise \d+", body)]
    assert len(solutions) == directives, (len(solutions), directives)
    headings = [(m.start(), m.group(2)) for m in SECTION_HEADING.finditer(body)
                if not re.search(r"\.{3,}|\s\d+$", m.group(0))]
    for position in solutions:
        last = [title for start, title in headings if start < position][-1]
        assert last == sphinx_print.SOLUTIONS_TITLE, f"a solution is under '{last}'"


def test_nothing_runs_off_the_page():
    """Every word lies inside the page, with at least a 1 cm margin (code included)."""
    bbox = _run("pdftotext", "-bbox", str(PDF), "-")
    page_width = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    right = [float(x) for x in re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"', bbox)]
    assert right and max(right) <= page_width - 28.3, (max(right), page_width)


def test_pages_are_rendered_for_review():
    """Title, contents, an equation page, a figure page, a code page and a solution page,
    as PNGs in test-artifacts/pdf/ for a person to look at."""
    pages = page_texts()

    def first(pattern):
        return next(i + 1 for i, p in enumerate(pages) if re.search(pattern, p, re.MULTILINE))

    wanted = {
        "title": 1,
        "contents": first(r"CONTENTS|Contents"),
        "equation": first(r" {6,}\(11\)$"),
        "figure": first(r"Fig\. 2\.1:"),
        "code": first(r"def \w+\("),
        "solution": first(r"Solution to Exercise \d+"),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, number in wanted.items():
        prefix = ARTIFACTS / name
        _run("pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(number), "-l", str(number),
             str(PDF), str(prefix))
        assert prefix.with_suffix(".png").stat().st_size > 5_000, name
