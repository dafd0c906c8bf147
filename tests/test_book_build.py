"""The HTML book: a page for every _toc.yml entry, rendered from the stored outputs."""

import os
import posixpath
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


# --- finding one's way -----------------------------------------------------------------

def _numbered_parts():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [p for p in toc["parts"] if p.get("numbered")], [p for p in toc["parts"] if not p.get("numbered")]


def test_sidebar_numbers_the_chapters_1_to_n_across_parts_and_not_the_back_matter():
    numbered, unnumbered = _numbered_parts()
    chapters = [c["file"] for p in numbered for c in p["chapters"]]
    back = [c["file"] for p in unnumbered for c in p["chapters"]]
    soup = BeautifulSoup(page(ENTRIES[0]).read_text(), "html.parser")
    shown = {}
    for a in soup.select("nav.bd-docs-nav a.reference.internal"):
        href = a.get("href", "").split("#")[0].removesuffix(".html")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(ENTRIES[0]), href))
        shown[target] = a.get_text(" ", strip=True)
    for n, entry in enumerate(chapters, start=1):
        assert shown[entry].startswith(f"{n}. "), (entry, shown[entry])
    for entry in back:
        assert not shown[entry][:1].isdigit(), (entry, shown[entry])
    assert "book/conclusion" in back, "the conclusion belongs to the back matter"


def test_chapter_titles_carry_their_number():
    numbered, _ = _numbered_parts()
    chapters = [c["file"] for p in numbered for c in p["chapters"]]
    for n, entry in enumerate(chapters, start=1):
        soup = BeautifulSoup(page(entry).read_text(), "html.parser")
        title = soup.select_one("article h1").get_text(" ", strip=True)
        assert title.startswith(f"{n}. ") or title.startswith(f"{n} "), (entry, title)


def test_no_empty_index_page_is_built():
    assert not (HTML / "genindex.html").exists()
    assert 'href="genindex.html"' not in (HTML / "index.html").read_text()


def test_references_name_the_article_with_its_url_and_promise_no_back_links():
    html = page("book/references").read_text()
    assert "https://krasserm.github.io/2019/11/21/latent-variable-models-part-1/" in html
    assert "pages that cite" not in html
