"""The HTML book: a page for every _toc.yml entry, rendered from the stored outputs."""

import os
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from book_notebooks import ROOT, toc_entries

HTML = Path(os.environ.get("BOOK_HTML_DIR", ROOT / "_build" / "html"))
ENTRIES = toc_entries()


def page(entry):
    return HTML / f"{entry}.html"


def test_the_build_wrote_an_index():
    assert (HTML / "index.html").is_file(), "run `make book` first"


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_toc_entry_became_an_html_page_with_its_title(entry):
    html = page(entry)
    assert html.is_file(), f"{entry} produced no page"
    soup = BeautifulSoup(html.read_text(), "html.parser")
    h1 = soup.select_one("article h1") or soup.find("h1")
    assert h1 is not None and h1.get_text(strip=True)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if (ROOT / f"{e}.ipynb").exists()])
def test_chapter_pages_show_the_stored_figures(entry):
    import nbformat

    nb = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    n_stored = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    soup = BeautifulSoup(page(entry).read_text(), "html.parser")
    shown = [img for img in soup.select("article img") if "_images/" in img.get("src", "") or img.get("src", "").startswith("data:image/png")]
    assert len(shown) >= n_stored


@pytest.mark.parametrize("entry", [e for e in ENTRIES if (ROOT / f"{e}.ipynb").exists()])
def test_setup_cell_is_not_shown_on_the_page(entry):
    text = page(entry).read_text()
    assert "BOOK_REPOSITORY" not in text
