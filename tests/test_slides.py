"""The lecture decks (``make slides``): the slide-type rule, and every deck in the browser.

The rule of ``scripts/set_slide_metadata.py`` is pinned on small cells; every book
notebook must carry the metadata the rule gives (run the script after adding cells).
The decks in ``_build/html/slides/`` are opened in Debian's Chromium through Playwright,
served from 127.0.0.1 with every other request blocked and recorded, as the web book is
in tests/test_browser.py. Screenshots go to ``test-artifacts/slides/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

import book_notebooks
import build_slides
import set_slide_metadata as rule
from browser_support import HTML_DIR, LOCAL_HOST, chromium_browser, serve

ROOT = book_notebooks.ROOT
SITE = HTML_DIR  # _build/html, or BOOK_HTML_DIR (tests/browser_support.py)
DECKS = SITE / "slides"
ARTIFACTS = ROOT / "test-artifacts" / "slides"
NOTEBOOKS = book_notebooks.notebooks()
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOT_DECKS = 3  # the first slides of the first decks are saved for a person to see


def _md(source, **metadata):
    return nbformat.v4.new_markdown_cell(source, metadata=metadata)


def _code(outputs=(), tags=()):
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"tags": list(tags)} if tags else {})
    cell.outputs = [nbformat.v4.new_output("display_data", data=d) for d in outputs]
    return cell


# --- the rule ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (_md("# Chapter title\n\nIntro."), "slide"),
        (_md("## A section\n\nText $x$."), "slide"),
        (_md("### A subsection\n\nText."), "skip"),
        (_md("Prose only, with $x$ inline."), "skip"),
        (_md("The bound:\n\n$$\nx \\tag{11}\n$$"), "subslide"),
        (_md("```{exercise} Title\n:label: e\nDo it.\n```"), "skip"),
        (_code([{"image/png": "iVBOR", "text/plain": "<Figure>"}]), "subslide"),
        (_code([{"text/html": "<div></div>", "text/plain": "<HTML>"}]), "subslide"),
        (_code([{"text/plain": "3.14"}]), "skip"),
        (_code([{"image/png": "iVBOR"}], tags=["solution", "hide-input"]), "skip"),
        (_code([], tags=["remove-cell"]), "skip"),
    ],
    ids=["title", "section", "subsection", "prose", "equation", "exercise", "figure",
         "html-player", "printed-result", "solution", "colab-setup"],
)
def test_rule_gives_each_kind_of_cell_its_slide_type(cell, expected):
    assert rule.slide_type_for(cell) == expected


def test_a_slide_type_set_by_hand_is_kept_and_reset_recomputes_it():
    nb = nbformat.v4.new_notebook(cells=[_md("Prose.", slideshow={"slide_type": "fragment"})])
    assert rule.apply(nb) == 0
    assert nb.cells[0].metadata["slideshow"]["slide_type"] == "fragment"
    assert rule.apply(nb, reset=True) == 1
    assert nb.cells[0].metadata["slideshow"]["slide_type"] == "skip"


def test_rule_is_idempotent():
    nb = nbformat.v4.new_notebook(cells=[_md("# T"), _code([{"image/png": "i"}]), _code()])
    assert rule.apply(nb) == 3
    assert rule.apply(nb) == 0 and rule.apply(nb, reset=True) == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_book_notebook_carries_the_slide_metadata_of_the_rule(path):
    nb = nbformat.read(path, as_version=4)
    assert rule.apply(nb) == 0, (
        f"{path.name}: cells without slideshow.slide_type; run "
        "`python scripts/set_slide_metadata.py` and commit the notebook"
    )


def test_markdown_for_the_deck_keeps_exercises_and_drops_solutions():
    source = (
        "See {cite}`dempster1977em` and {ref}`the figure <fig-x>`.\n\n"
        "```{exercise} Try it\n:label: ex-1\nCompute $x$.\n```\n\n"
        "```{solution} ex-1\n:class: dropdown\nThe answer.\n```\n"
        "Back to [chapter 3](03_em_for_gmms.ipynb#the-m-step)."
    )
    out = build_slides.plain_markdown(source, {"dempster1977em": "Dempster et al. (1977)"})
    assert "Dempster et al. (1977)" in out and "the figure" in out
    assert "**Exercise: Try it.** Compute $x$." in out
    assert "The answer" not in out and "{" not in out.replace("{cite}", "")
    assert "](../book/03_em_for_gmms.html#the-m-step)" in out


# --- the decks in the browser ----------------------------------------------------------

def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == LOCAL_HOST


@pytest.fixture(scope="module")
def site():
    missing = [p.stem for p in NOTEBOOKS if not (DECKS / f"{p.stem}.slides.html").is_file()]
    if missing:
        pytest.fail(f"decks missing in {DECKS} for {missing}: run `make slides`")
    with serve(SITE) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as chromium:
        yield chromium


DECK_STATE_JS = """
async () => {
  await MathJax.startup.promise;
  const text = document.querySelector('.reveal .slides').innerText;
  return {
    total: Reveal.getTotalSlides(),
    typeset: document.querySelectorAll('mjx-container').length,
    errors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')].map(
      e => e.getAttribute('data-mjx-error') || e.textContent),
    raw: ['$$', '\\\\begin{', '\\\\tag{', '\\\\frac', '{cite}', '```'].filter(t => text.includes(t)),
    images: [...document.querySelectorAll('.reveal img')].filter(i => !i.complete || i.naturalWidth === 0).length,
  };
}
"""


@pytest.fixture(scope="module")
def decks(site, browser):
    """``deck(path)``: what loading the deck of a notebook saw (cached)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen = {}

    def deck(path: Path) -> dict:
        if path in seen:
            return seen[path]
        visit = {"console": [], "blocked": [], "failed": []}
        context = browser.new_context(viewport=VIEWPORT)

        def route(r):
            if _is_local(r.request.url):
                r.continue_()
            else:
                visit["blocked"].append(r.request.url)
                r.abort("blockedbyclient")

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.on("console", lambda m: m.type == "error" and visit["console"].append(m.text))
        page.on("pageerror", lambda e: visit["console"].append(f"uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and visit["failed"].append(f"{r.url}: {r.status}"))
        try:
            page.goto(f"{site.url}/slides/{path.stem}.slides.html", wait_until="load")
            page.wait_for_function("window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup")
            visit.update(page.evaluate(DECK_STATE_JS))
            if NOTEBOOKS.index(path) < SCREENSHOT_DECKS:
                for i in range(3):
                    page.wait_for_timeout(200)
                    page.screenshot(path=str(ARTIFACTS / f"{path.stem}-{i + 1}.png"))
                    page.evaluate("Reveal.next()")
        finally:
            context.close()
        seen[path] = visit
        return visit

    return deck


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_deck_loads_offline_without_console_errors(path, decks):
    visit = decks(path)
    assert visit["console"] == [] and visit["failed"] == []
    assert visit["blocked"] == [], f"requests off the machine: {visit['blocked']}"
    assert visit["images"] == 0, "an image of the deck did not load"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_deck_math_is_typeset(path, decks):
    visit = decks(path)
    nb = nbformat.read(path, as_version=4)
    shown_math = any(
        "$" in c.source for c in nb.cells
        if c.cell_type == "markdown" and c.metadata.get("slideshow", {}).get("slide_type") != "skip"
    )
    if shown_math:
        assert visit["typeset"] > 0, "the deck shows math but MathJax typeset none"
    assert visit["errors"] == [], "MathJax shows an error instead of a formula"
    assert visit["raw"] == [], f"raw markup on the slides: {visit['raw']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_deck_has_one_slide_per_slide_or_subslide_cell(path, decks):
    expected = build_slides.expected_slide_count(nbformat.read(path, as_version=4))
    assert expected >= 2, "a deck should have a title slide and at least one more"
    assert decks(path)["total"] == expected


def test_instructor_page_links_every_deck_and_the_pdf():
    page = SITE / "book" / "slides_and_pdf.html"
    if not page.is_file():
        pytest.fail(f"no {page}: run `make book`")
    html = page.read_text()
    links = set(re.findall(r'href="\.\./([^"#]+)"', html))
    for path in NOTEBOOKS:
        assert f"slides/{path.stem}.slides.html" in links, path.stem
    pdf = [link for link in links if link.endswith(".pdf")]
    assert pdf, "the page does not link the PDF"
    for link in {f"slides/{p.stem}.slides.html" for p in NOTEBOOKS} | set(pdf):
        assert (SITE / link).is_file(), f"the page links {link}, which the build did not write"
