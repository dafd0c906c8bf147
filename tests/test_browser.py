"""The web book as a reader's browser shows it, with no network.

Headless Chromium (Debian's, driven by Playwright) opens every page of ``_toc.yml``
from the built HTML served on 127.0.0.1. Every request to any other address is
aborted and recorded: the site must work, and ask for nothing, offline. Each page is
loaded once per width (in a fresh browser context, like a first visit): at 1400 px
(a desktop) and at 390 px (a phone); the tests below read what that visit saw, first
with every solution closed, then with every solution opened. Full-page screenshots of
every page at both widths (and of a few pages in dark mode) go to
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
from browser_support import ARTIFACTS, HTML_DIR, LOCAL_HOST, chromium_browser, serve

ENTRIES = toc_entries()
MATHJAX_VERSION = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/mathjax"]["version"]
MATHJAX_COMPONENT = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["mathjax_path"]
NOTEBOOK_ENTRIES = [e for e in ENTRIES if (ROOT / f"{e}.ipynb").exists()]
ARTICLE_EQUATIONS = [f"({n})" for n in range(1, 20)]
SEARCH_WORD, SEARCH_PAGE = "Jensen", "book/02_expectation_maximization"
SCREENSHOTS = ARTIFACTS / "screenshots"
DESKTOP, PHONE = 1400, 390
WIDTHS = [DESKTOP, PHONE]
VIEWPORT_HEIGHT = 900
VIEWPORT = {"width": DESKTOP, "height": VIEWPORT_HEIGHT}
PAGE_TIMEOUT_MS = 30_000
# The intro, a chapter with equations and solutions, the page with the animation
# (found by suffix, so that renaming a file to its chapter number keeps them).
DARK_ENTRIES = [ENTRIES[0]] + [e for e in ENTRIES if e.endswith(("03_em_for_gmms", "06_em_in_pictures"))]

# Left in the text when math is not typeset (Sphinx writes display math between \[ \]).
RAW_MATH = ["$$", "\\[", "\\(", "\\begin{", "\\tag{"]
# TeX a reader should never see as text: a command or a lone dollar sign.
RAW_TEX = re.compile(r"\\(?:mathbf|boldsymbol|mathcal|mathbb|mathrm|frac|tfrac|sum|log|lvert|partial|hat|bar)\b|\$")

# The figure style of the package: text size in points and resolution, from which the
# rendered size of a figure's text follows (tests below).
try:
    import latent_variable_models_util as _lvm

    _STYLE = getattr(_lvm, "BOOK_STYLE", None) or {}
except Exception:  # pragma: no cover - the helper is tested elsewhere
    _STYLE = {}
FIGURE_FONT_PT = float(_STYLE.get("font.size", 10))
FIGURE_DPI = float(_STYLE.get("savefig.dpi", _STYLE.get("figure.dpi", 100)))
MIN_TEXT_PX = 9.0  # the smallest legible text of a figure on a desktop page

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

# With every solution closed: solution cells (myst-nb marks them ``tag_solution``) that a
# reader can see, i.e. code or outputs of a solution outside its closed dropdown.
CLOSED_JS = r"""
() => {
  const seen = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== 'hidden';
  const solutions = Array.from(document.querySelectorAll('div.solution'));
  return {
    solutions: solutions.length,
    open_at_load: solutions.filter((s) => !s.classList.contains('toggle-hidden')).length,
    visible_solution_cells: Array.from(document.querySelectorAll('div.cell.tag_solution'))
      .filter((c) => Array.from(c.querySelectorAll('div.cell_output, div.cell_input')).some(seen))
      .map((c) => (c.innerText || '').trim().slice(0, 80)),
  };
}
"""

OPEN_SOLUTIONS_JS = r"""
async () => {
  const buttons = Array.from(document.querySelectorAll('div.solution button.toggle-button, div.solution > .admonition-title'))
    .filter((b) => b.closest('div.solution').classList.contains('toggle-hidden'));
  const once = new Set();
  for (const b of buttons) {
    const s = b.closest('div.solution');
    if (once.has(s)) continue;
    once.add(s);
    (s.querySelector('button.toggle-button') || b).click();
  }
  await new Promise((r) => setTimeout(r, 400));
  if (window.MathJax && MathJax.typesetPromise) await MathJax.typesetPromise();
  return Array.from(document.querySelectorAll('div.solution')).filter((s) => s.classList.contains('toggle-hidden')).length;
}
"""

# Geometry: what sticks out of the viewport or out of a box that clips, display
# equations whose start is out of reach, code lines that need scrolling, figures.
LAYOUT_JS = r"""
() => {
  const vw = document.documentElement.clientWidth;
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const column = article.getBoundingClientRect();
  const scrolls = (el) => /(auto|scroll)/.test(getComputedStyle(el).overflowX);
  const clips = (el) => /(hidden|clip)/.test(getComputedStyle(el).overflowX);
  const describe = (el) => el.tagName.toLowerCase() + (el.className && el.className.toString ? '.' + el.className.toString().trim().split(/\s+/).slice(0, 2).join('.') : '')
    + ' "' + (el.innerText || el.textContent || '').trim().slice(0, 50) + '"';
  const seen = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const sticking_out = [];
  const clipped = [];
  for (const el of article.querySelectorAll('*')) {
    if (!seen(el) || el.closest('mjx-assistive-mml')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    let box = el.parentElement, reached = false;
    while (box && box !== document.body) {
      if (scrolls(box)) { reached = true; break; }
      if (clips(box)) {
        const b = box.getBoundingClientRect();
        if (r.right > b.right + 1 || r.left < b.left - 1) clipped.push(describe(el));
        reached = true;
        break;
      }
      box = box.parentElement;
    }
    // text that runs out of its own box (a long word) counts by where the text ends
    const right = getComputedStyle(el).overflowX === 'visible' && el.clientWidth
      ? Math.max(r.right, r.left + el.scrollWidth) : r.right;
    if (!reached && (right > vw + 1 || r.left < -1)) sticking_out.push(describe(el));
  }
  const equations = [];
  for (const c of document.querySelectorAll('mjx-container[display="true"]')) {
    if (!seen(c)) continue;
    // With every scroll position at its start, an equation's first symbol must lie
    // inside the column: what is left of it can never be scrolled to.
    let shift = 0;
    for (let box = c; box && box !== document.body; box = box.parentElement) shift += box.scrollLeft;
    let minLeft = c.getBoundingClientRect().left;
    for (const part of c.querySelectorAll('mjx-math, mjx-mtable, mjx-labels')) {
      const q = part.getBoundingClientRect();
      if (q.width) minLeft = Math.min(minLeft, q.left);
    }
    minLeft += shift;
    if (minLeft < column.left - 1) equations.push({label: (c.innerText || '').slice(0, 40), cut_px: Math.round(column.left - minLeft)});
  }
  const code = Array.from(document.querySelectorAll('div.cell_input pre')).filter(seen)
    .filter((p) => p.scrollWidth > p.clientWidth + 1)
    .map((p) => ({over_px: p.scrollWidth - p.clientWidth, start: p.innerText.split('\n').sort((a, b) => b.length - a.length)[0].slice(0, 60)}));
  const figures = Array.from(article.querySelectorAll('img')).filter(seen).map((img) => {
    const r = img.getBoundingClientRect();
    const fig = img.closest('figure');
    const column_el = img.closest('div.cell_output, figure, section') || article;
    return {
      src: (img.getAttribute('src') || '').slice(-60),
      natural: img.naturalWidth, rendered: Math.round(r.width),
      column: Math.round(Math.min(column_el.getBoundingClientRect().width, column.width)),
      caption: fig ? ((fig.querySelector('figcaption') || {innerText: ''}).innerText || '').trim() : '',
      animation: !!img.closest('div.animation'),
      linked: !!img.closest('a[href]'),
    };
  });
  const controls = Array.from(document.querySelectorAll('div.animation button, div.animation input')).filter(seen)
    .filter((b) => { const r = b.getBoundingClientRect(); return r.right > vw + 1 || r.left < -1; }).length;
  const body_colour = getComputedStyle(article.querySelector('p') || article).color;
  const grey_captions = Array.from(article.querySelectorAll('figcaption .caption-text, figcaption p'))
    .filter((c) => getComputedStyle(c).color !== body_colour || Number(getComputedStyle(c).fontWeight) < 400).length;
  return {vw, page_width: document.documentElement.scrollWidth, grey_captions, sticking_out: sticking_out.slice(0, 10),
          clipped: clipped.slice(0, 10), equations, code, figures, controls_cut: controls};
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
    closed: dict = field(default_factory=dict)
    still_closed: int = 0
    opened_text: str = ""
    layout: dict = field(default_factory=dict)
    screenshot: str = ""
    width: int = DESKTOP


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about", "file") or parts.hostname == LOCAL_HOST


def _open(browser, url: str, visit: Visit, width: int = DESKTOP, dark: bool = False):
    """A fresh context and page on ``url`` with every non-local request aborted and logged."""
    context = browser.new_context(viewport={"width": width, "height": VIEWPORT_HEIGHT},
                                  color_scheme="dark" if dark else "light")
    if dark:
        context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")

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
    with chromium_browser() as chromium:
        yield chromium


def _shot_name(entry: str, width: int, suffix: str = "") -> Path:
    return SCREENSHOTS / f"{entry.replace('/', '__')}_{width}{suffix}.png"


@pytest.fixture(scope="module")
def visits(site, browser):
    """``visit(entry, width)``: the (cached) result of loading the page of a ``_toc.yml`` entry."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: dict[tuple, Visit] = {}

    def visit(entry: str, width: int = DESKTOP) -> Visit:
        if (entry, width) not in seen:
            result = Visit(entry=entry, url=f"{site.url}/{entry}.html", width=width)
            context, page = _open(browser, result.url, result, width)
            try:
                result.mathjax = page.evaluate(SETTLE_JS)
                result.page = page.evaluate(COLLECT_JS)
                result.closed = page.evaluate(CLOSED_JS)
                shot = _shot_name(entry, width)
                page.screenshot(path=str(shot), full_page=True)
                result.screenshot = str(shot)
                result.still_closed = page.evaluate(OPEN_SOLUTIONS_JS)
                result.opened_text = page.evaluate(COLLECT_JS)["text"]
                result.layout = page.evaluate(LAYOUT_JS)
                if result.closed.get("solutions"):
                    page.screenshot(path=str(_shot_name(entry, width, "_solutions")), full_page=True)
            finally:
                context.close()
            seen[(entry, width)] = result
        return seen[(entry, width)]

    yield visit
    report = {f"{e} @{w}px": {k: v for k, v in asdict(r).items() if k not in ("page", "opened_text")} | {
        "equation_labels": r.page.get("labels", []), "images": len(r.page.get("images", []))}
        for (e, w), r in seen.items()}
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


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_full_page_screenshot_is_saved(entry, width, visits):
    from PIL import Image

    with Image.open(visits(entry, width).screenshot) as shot:
        assert shot.format == "PNG"
        assert shot.width == width
        assert shot.height >= VIEWPORT_HEIGHT


# ---------------------------------------------------------------- every page, desktop and phone


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_no_tex_is_left_as_text_with_every_solution_opened(entry, width, visits):
    visit = visits(entry, width)
    assert visit.still_closed == 0, "a solution did not open"
    raw = sorted({m.group(0) for m in RAW_TEX.finditer(visit.opened_text)})
    around = [visit.opened_text[max(0, m.start() - 40):m.end() + 40] for m in RAW_TEX.finditer(visit.opened_text)][:3]
    assert raw == [], f"TeX shown as text: {raw} in {around}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_no_solution_code_or_output_is_visible_while_the_solution_is_closed(entry, width, visits):
    closed = visits(entry, width).closed
    assert closed["open_at_load"] == 0, "a solution is open when the page loads"
    assert closed["visible_solution_cells"] == [], (
        "solution cells shown under a closed solution (run scripts/gate_solutions.py)")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_nothing_is_wider_than_the_viewport_or_cut_off(entry, width, visits):
    layout = visits(entry, width).layout
    assert layout["page_width"] <= layout["vw"], f"the page pans sideways: {layout['page_width']} px"
    assert layout["sticking_out"] == [], "elements wider than the viewport"
    assert layout["clipped"] == [], "elements cut off by a box that does not scroll"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_every_display_equation_can_be_read_from_its_first_symbol(entry, width, visits):
    assert visits(entry, width).layout["equations"] == [], "display equations cut off on the left"


@pytest.mark.parametrize("entry", NOTEBOOK_ENTRIES)
def test_code_lines_fit_the_desktop_column_without_scrolling(entry, visits):
    assert visits(entry, DESKTOP).layout["code"] == []


@pytest.mark.parametrize("entry", NOTEBOOK_ENTRIES)
def test_every_figure_has_a_caption(entry, visits):
    missing = [f["src"] for f in visits(entry, DESKTOP).layout["figures"] if not f["animation"] and not f["caption"]]
    assert missing == [], "figures without a caption (cell metadata mystnb.figure.caption)"
    assert visits(entry, DESKTOP).layout["grey_captions"] == 0, "captions are set in a lighter colour than the text"


@pytest.mark.parametrize("entry", NOTEBOOK_ENTRIES)
def test_figure_text_is_legible_on_a_desktop(entry, visits):
    # A figure drawn in the package's style has text of FIGURE_FONT_PT points at
    # FIGURE_DPI; shown at `rendered` px of its `natural` px, that text is this tall:
    small = []
    for f in visits(entry, DESKTOP).layout["figures"]:
        if not f["natural"]:
            continue
        text_px = FIGURE_FONT_PT / 72 * FIGURE_DPI * f["rendered"] / f["natural"]
        thumbnail = f["rendered"] < min(f["natural"], 0.5 * f["column"])
        if text_px < MIN_TEXT_PX or thumbnail:
            small.append((f["src"], f["rendered"], round(text_px, 1)))
    assert small == [], f"(figure, width px, text px) too small to read: {small}"


@pytest.mark.parametrize("entry", NOTEBOOK_ENTRIES)
def test_figures_use_the_phone_width_and_open_full_size(entry, visits):
    layout = visits(entry, PHONE).layout
    narrow = [(f["src"], f["rendered"], f["column"]) for f in layout["figures"]
              if not f["animation"] and f["rendered"] < min(f["natural"], 0.9 * f["column"])]
    assert narrow == [], "(figure, width, column) figures narrower than the phone's column"
    assert all(f["linked"] for f in layout["figures"] if not f["animation"]), "a figure cannot be opened full size"
    assert layout["controls_cut"] == 0, "animation buttons cut off"


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


# ---------------------------------------------------------------- finding one's way


def _visible_toggle(page, side: str):
    handle = page.evaluate_handle(
        "(side) => Array.from(document.querySelectorAll('.' + side + '-toggle'))"
        ".find((b) => b.getBoundingClientRect().width > 0)", side)
    element = handle.as_element()
    assert element is not None, f"no visible {side} toggle button"
    return element


def test_phone_menu_opens_and_navigates_to_a_chapter(site, browser):
    visit = Visit(entry="book/01_latent_variables_and_mle", url=f"{site.url}/book/01_latent_variables_and_mle.html")
    context, page = _open(browser, visit.url, visit, PHONE)
    try:
        page.evaluate(SETTLE_JS)
        _visible_toggle(page, "primary").click()
        page.wait_for_function("() => document.querySelector('#pst-primary-sidebar-modal').open")
        page.screenshot(path=str(_shot_name("menu", PHONE)))
        link = page.locator("#pst-primary-sidebar-modal a", has_text="EM for Gaussian mixtures").first
        assert link.is_visible()
        link.click()
        page.wait_for_url("**/book/03_em_for_gmms.html")
        page.evaluate(SETTLE_JS)
        _visible_toggle(page, "secondary").click()
        page.wait_for_function("() => document.querySelector('#pst-secondary-sidebar-modal').open")
        sections = page.locator("#pst-secondary-sidebar-modal a").all_inner_texts()
        page.screenshot(path=str(_shot_name("contents", PHONE)))
    finally:
        context.close()
    assert "The M-step" in [re.sub(r"^[\d.]+\s*", "", s.strip()) for s in sections]
    assert (visit.console_errors, visit.failed_requests, visit.blocked) == ([], [], [])


def test_desktop_menu_button_collapses_the_sidebar_and_there_is_one_top_bar(site, browser):
    visit = Visit(entry="book/03_em_for_gmms", url=f"{site.url}/book/03_em_for_gmms.html")
    context, page = _open(browser, visit.url, visit, DESKTOP)
    try:
        page.evaluate(SETTLE_JS)
        bars = page.evaluate("() => Array.from(document.querySelectorAll('header, .bd-header, .bd-header-article'))"
                             ".filter((h) => h.getBoundingClientRect().height > 0).map((h) => h.className)")
        before = page.evaluate("() => document.querySelector('article').getBoundingClientRect().width")
        _visible_toggle(page, "primary").click()
        page.wait_for_timeout(600)
        sidebar_visible = page.evaluate(
            "() => getComputedStyle(document.querySelector('#pst-primary-sidebar')).visibility !== 'hidden'")
        dialog_open = page.evaluate("() => document.querySelector('#pst-primary-sidebar-modal').open")
        after = page.evaluate("() => document.querySelector('article').getBoundingClientRect().width")
        page.screenshot(path=str(_shot_name("sidebar_collapsed", DESKTOP)))
    finally:
        context.close()
    assert len(bars) == 1, f"top bars shown: {bars}"
    assert not sidebar_visible and not dialog_open
    assert after > before


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("entry", DARK_ENTRIES)
def test_dark_mode_screenshot(entry, width, site, browser):
    from PIL import Image

    visit = Visit(entry=entry, url=f"{site.url}/{entry}.html")
    context, page = _open(browser, visit.url, visit, width, dark=True)
    try:
        page.evaluate(SETTLE_JS)
        page.evaluate(OPEN_SOLUTIONS_JS)
        theme = page.evaluate("() => document.documentElement.dataset.theme")
        shot = _shot_name(entry, width, "_dark")
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    assert theme == "dark"
    with Image.open(shot) as image:
        r, g, b = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert (r + g + b) / 3 < 128, "the dark page is not dark"
