"""The web book as a reader's browser shows it, with no network.

Headless Chromium (Debian's, driven by Playwright) opens every page of ``_toc.yml``
from the built HTML served on 127.0.0.1. Every request to any other address is
aborted and recorded: the site must work, and ask for nothing, offline. Each page is
loaded once (in a fresh browser context, like a first visit); the tests below read
what that visit saw. A full-page screenshot of every page goes to
``test-artifacts/screenshots/`` and a summary to ``test-artifacts/browser_report.json``.
Build first with ``make book`` (or point BOOK_HTML_DIR at another build); ``make test``
does both, and installs Debian's Chromium first (``make browser``). The sync API of
Playwright is driven directly: pytest-playwright is deliberately not used (on pytest 9
it emits PytestRemovedIn10Warning), and no browser is ever downloaded.
"""

from __future__ import annotations

import json
import posixpath
import re
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml

from book_notebooks import ROOT, toc_entries
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, HTML_DIR, LOCAL_HOST, serve

ENTRIES = toc_entries()
MATHJAX_VERSION = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/mathjax"]["version"]
MATHJAX_COMPONENT = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["mathjax_path"]
NOTEBOOK_ENTRIES = [e for e in ENTRIES if (ROOT / f"{e}.ipynb").exists()]
ARTICLE_EQUATIONS = [f"({n})" for n in range(1, 20)]
SEARCH_WORD, SEARCH_PAGE = "Jensen", "book/02_expectation_maximization"
SCREENSHOTS = ARTIFACTS / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
PAGE_TIMEOUT_MS = 30_000

# Left in the text when math is not typeset (Sphinx writes display math between \[ \]).
RAW_MATH = ["$$", "\\[", "\\(", "\\begin{", "\\tag{"]

# Everything the tests need from one page, gathered in the page itself after MathJax ran.
COLLECT_JS = r"""
() => {
  const glyphs = (el) => Array.from(el.querySelectorAll('mjx-c')).map((c) => {
    const m = /mjx-c([0-9A-F]+)/.exec(c.className);
    return m ? String.fromCodePoint(parseInt(m[1], 16)) : '?';
  }).join('');
  const displays = Array.from(document.querySelectorAll('div.math'));
  const inlines = Array.from(document.querySelectorAll('span.math'));
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const text = [];
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.parentElement.closest('pre, code, script, style, textarea, noscript, mjx-container')) {
      text.push(node.data);
    }
  }
  return {
    displays: displays.length,
    displays_typeset: displays.filter((d) => d.querySelector('mjx-container[display="true"]')).length,
    inlines: inlines.length,
    inlines_typeset: inlines.filter((s) => s.querySelector('mjx-container')).length,
    math_errors: Array.from(document.querySelectorAll('[data-mjx-error]')).map((e) => e.getAttribute('data-mjx-error')),
    mathjax_version: (window.MathJax && MathJax.version) || null,
    mathjax_scripts: Array.from(document.scripts).map((s) => s.getAttribute('src') || '').filter((s) => /mathjax/i.test(s)),
    font_errors: Array.from(document.fonts).filter((f) => f.status === 'error').map((f) => f.family),
    labels: Array.from(document.querySelectorAll('mjx-container[display="true"] mjx-labels mjx-mtd')).map(glyphs),
    spoken_labels: Array.from(document.querySelectorAll('mjx-assistive-mml mlabeledtr')).map((r) => r.firstElementChild.textContent.trim()),
    anchors: Array.from(document.querySelectorAll('[id^="eq-"]')).map((a) => a.id),
    text: text.join(' '),
    images: Array.from(document.images).map((img) => ({
      src: img.getAttribute('src') || '',
      width: img.naturalWidth,
      alt: (img.getAttribute('alt') || '').trim(),
      caption: ((img.closest('figure') && img.closest('figure').querySelector('figcaption')) || {textContent: ''}).textContent.trim(),
    })),
    links: Array.from(document.querySelectorAll('a[href]')).map((a) => ({
      href: a.href,
      title: a.getAttribute('title') || a.getAttribute('data-bs-original-title') || a.getAttribute('aria-label') || '',
    })),
  };
}
"""

SETTLE_JS = r"""
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  await Promise.all(Array.from(document.images).filter((img) => !img.complete).map(
    (img) => new Promise((done) => { img.addEventListener('load', done); img.addEventListener('error', done); })));
  return !!window.MathJax && !!MathJax.startup;
}
"""


@dataclass
class Visit:
    """What one page load saw."""

    entry: str
    url: str
    console_errors: list = field(default_factory=list)
    failed_requests: list = field(default_factory=list)
    blocked: list = field(default_factory=list)
    mathjax: bool = False
    page: dict = field(default_factory=dict)
    screenshot: str = ""


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about", "file") or parts.hostname == LOCAL_HOST


def _open(browser, url: str, visit: Visit):
    """A fresh context and page on ``url`` with every non-local request aborted and logged."""
    context = browser.new_context(viewport=VIEWPORT)

    def route(route):
        if _is_local(route.request.url):
            route.continue_()
        else:
            visit.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.on("console", lambda m: m.type == "error" and visit.console_errors.append(m.text))
    page.on("pageerror", lambda exc: visit.console_errors.append(f"uncaught: {exc}"))
    page.on("requestfailed", lambda r: _is_local(r.url) and visit.failed_requests.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and visit.failed_requests.append(f"{r.url}: HTTP {r.status}"))
    page.goto(url, wait_until="load")
    return context, page


@pytest.fixture(scope="module")
def site():
    if not (HTML_DIR / "index.html").is_file():
        pytest.fail(f"no built book in {HTML_DIR}: run `make book` (or set BOOK_HTML_DIR)")
    with serve(HTML_DIR) as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def visits(site, browser):
    """``visit(entry)``: the (cached) result of loading the page of a ``_toc.yml`` entry."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: dict[str, Visit] = {}

    def visit(entry: str) -> Visit:
        if entry not in seen:
            result = Visit(entry=entry, url=f"{site.url}/{entry}.html")
            context, page = _open(browser, result.url, result)
            try:
                result.mathjax = page.evaluate(SETTLE_JS)
                result.page = page.evaluate(COLLECT_JS)
                shot = SCREENSHOTS / f"{entry.replace('/', '__')}.png"
                page.screenshot(path=str(shot), full_page=True)
                result.screenshot = str(shot)
            finally:
                context.close()
            seen[entry] = result
        return seen[entry]

    yield visit
    report = {e: {k: v for k, v in asdict(r).items() if k != "page"} | {
        "equation_labels": r.page.get("labels", []), "images": len(r.page.get("images", []))}
        for e, r in seen.items()}
    (ARTIFACTS / "browser_report.json").write_text(json.dumps(report, indent=1))


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def expected_launch_urls(entry: str) -> dict:
    """The Colab and Binder URLs of a chapter, derived from ``_config.yml``."""
    config = _config()
    repository, launch = config["repository"], config["launch_buttons"]
    owner_name = repository["url"].rstrip("/").removeprefix("https://github.com/")
    ref = repository["branch"]
    notebook = posixpath.join(repository.get("path_to_book") or "", f"{entry}.ipynb")
    interface = "tree" if launch.get("notebook_interface", "classic") == "classic" else "lab/tree"
    return {
        "colab": f"{launch['colab_url'].rstrip('/')}/github/{owner_name}/blob/{ref}/{notebook}",
        "binder": f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{owner_name}/{ref}?urlpath={interface}/{notebook}",
        "repository": repository["url"],
    }


# ---------------------------------------------------------------- every page


@pytest.mark.parametrize("entry", ENTRIES)
def test_page_loads_without_console_errors_or_failed_requests(entry, visits):
    visit = visits(entry)
    assert visit.console_errors == []
    assert visit.failed_requests == []


@pytest.mark.parametrize("entry", ENTRIES)
def test_page_asks_nothing_of_the_internet(entry, visits):
    # The requests were aborted, so the other tests show the page works without them;
    # this one says that a reader offline would not even notice an attempt.
    assert visits(entry).blocked == []


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_math_block_is_typeset_without_error(entry, visits):
    visit = visits(entry)
    page = visit.page
    if page["displays"] or page["inlines"]:
        assert visit.mathjax, "the page has math but MathJax did not start"
    assert page["displays_typeset"] == page["displays"], "a display equation was not typeset"
    assert page["inlines_typeset"] == page["inlines"], "an inline formula was not typeset"
    assert page["math_errors"] == [], "MathJax shows an error instead of the formula"
    left = [token for token in RAW_MATH if token in page["text"]]
    assert left == [], f"raw LaTeX left in the text of the page: {left}"
    assert page["font_errors"] == []
    if visit.mathjax:
        # The site's own copy, once: the version npm installed from package-lock.json.
        assert page["mathjax_version"] == MATHJAX_VERSION
        assert [urlsplit(s).path.split("_static/")[-1] for s in page["mathjax_scripts"]] == [MATHJAX_COMPONENT]


@pytest.mark.parametrize("entry", ENTRIES)
def test_equation_numbers_are_read_alike_by_eye_and_by_screen_reader(entry, visits):
    page = visits(entry).page
    assert page["labels"] == page["spoken_labels"]


@pytest.mark.parametrize("entry", ENTRIES)
def test_each_shown_equation_number_has_its_link_anchor_on_the_page(entry, visits):
    page = visits(entry).page
    for label in page["labels"]:
        number = label.strip("()")
        assert f"eq-{number}" in page["anchors"], f"equation {label} has no <a id=\"eq-{number}\">"


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_image_loads_and_is_described(entry, visits):
    for image in visits(entry).page["images"]:
        name = posixpath.basename(image["src"])
        assert image["width"] > 0, f"image {image['src']} did not load"
        alt = image["alt"]
        described = bool(alt) and not alt.endswith(name) and not re.search(r"\.(png|svg|jpe?g|gif)$", alt)
        assert described or image["caption"], (
            f"image {name} has neither alt text (its alt is {alt!r}) nor a caption; give the cell "
            "metadata mystnb.image.alt or mystnb.figure.caption")


@pytest.mark.parametrize("entry", ENTRIES)
def test_full_page_screenshot_is_saved(entry, visits):
    from PIL import Image

    with Image.open(visits(entry).screenshot) as shot:
        assert shot.format == "PNG"
        assert shot.width == VIEWPORT["width"]
        assert shot.height >= VIEWPORT["height"]


# ---------------------------------------------------------------- across the book


def test_site_ships_only_the_mathjax_it_uses():
    # One component with every TeX package built in, its web fonts and its licence:
    # not the 24 MB package, and nothing under a root _static/ (JB1 would inject it).
    # A root _static/ may hold the book's small stylesheet, but no script.
    assert not list(ROOT.glob("_static/**/*.js"))
    shipped = HTML_DIR / "_static" / "mathjax"
    files = sorted(p.relative_to(shipped).as_posix() for p in shipped.rglob("*") if p.is_file())
    fonts = [f for f in files if f.startswith("output/chtml/fonts/woff-v2/")]
    assert sorted(set(files) - set(fonts)) == sorted(["LICENSE", MATHJAX_COMPONENT.removeprefix("mathjax/")])
    assert fonts and all(f.endswith(".woff") for f in fonts)
    total = sum((shipped / f).stat().st_size for f in files)
    assert total < 3_000_000, f"{total} bytes of MathJax shipped"


def test_each_article_equation_number_is_shown_exactly_once_in_the_book(visits):
    shown = Counter(label for entry in ENTRIES for label in visits(entry).page["labels"])
    missing = [n for n in ARTICLE_EQUATIONS if shown[n] == 0]
    repeated = sorted(n for n, k in shown.items() if k > 1)
    extra = sorted(n for n in shown if n not in ARTICLE_EQUATIONS)
    assert (missing, repeated, extra) == ([], [], []), (
        f"equation numbers missing {missing}, shown more than once {repeated}, not the article's {extra}")


# ---------------------------------------------------------------- chapter pages


@pytest.mark.parametrize("entry", NOTEBOOK_ENTRIES)
def test_launch_buttons_open_this_notebook_at_the_configured_repository_and_ref(entry, visits):
    expected = expected_launch_urls(entry)
    hrefs = [link["href"] for link in visits(entry).page["links"]]
    assert expected["colab"] in hrefs
    assert expected["binder"] in hrefs
    assert expected["repository"] in hrefs
    others = [h for h in hrefs if ("colab" in h or "mybinder" in h) and h not in (expected["colab"], expected["binder"])]
    assert others == []
    # The launch URLs name the notebook by its path in the repository: it must be there.
    assert (ROOT / f"{entry}.ipynb").is_file()


@pytest.mark.parametrize("entry", NOTEBOOK_ENTRIES)
def test_download_button_serves_this_notebook(entry, visits, site):
    links = [link for link in visits(entry).page["links"] if link["href"].endswith(".ipynb")
             and _is_local(link["href"])]
    assert len(links) == 1, f"expected one .ipynb download link, found {[link['href'] for link in links]}"
    assert "download" in links[0]["title"].lower()
    with urllib.request.urlopen(links[0]["href"], timeout=30) as response:
        served = nbformat.reads(response.read().decode("utf-8"), as_version=4)
    stored = nbformat.read(ROOT / f"{entry}.ipynb", as_version=4)
    assert [c.source for c in served.cells] == [c.source for c in stored.cells]


def test_chapter_opened_from_disk_shows_typeset_equations(browser):
    # A reader may open the HTML files straight from disk (file://), with no server at all.
    entry = next((e for e in NOTEBOOK_ENTRIES if "\\tag{" in (ROOT / f"{e}.ipynb").read_text()), None)
    assert entry is not None, "no chapter with a tagged equation"
    visit = Visit(entry=entry, url=(HTML_DIR / f"{entry}.html").resolve().as_uri())
    context, page = _open(browser, visit.url, visit)
    try:
        visit.mathjax = page.evaluate(SETTLE_JS)
        visit.page = page.evaluate(COLLECT_JS)
    finally:
        context.close()
    assert (visit.console_errors, visit.failed_requests, visit.blocked) == ([], [], [])
    assert visit.mathjax
    assert visit.page["displays"] > 0
    assert visit.page["displays_typeset"] == visit.page["displays"]
    assert visit.page["labels"] and visit.page["math_errors"] == []


def test_site_search_finds_jensen_on_the_em_chapter(site, browser):
    visit = Visit(entry="search", url=f"{site.url}/search.html?q={SEARCH_WORD}")
    context, page = _open(browser, visit.url, visit)
    try:
        page.wait_for_function(
            "() => { const h = document.querySelector('#search-results h2');"
            " return h && h.innerText.trim() === 'Search Results'; }")
        found = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(a => a.href)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "search_Jensen.png"), full_page=True)
    finally:
        context.close()
    pages = sorted({urlsplit(h).path.lstrip("/") for h in found})
    assert f"{SEARCH_PAGE}.html" in pages, f"searching {SEARCH_WORD!r} found {pages}"
    assert (visit.console_errors, visit.failed_requests, visit.blocked) == ([], [], [])
