"""One notation in every chapter (PLAN decision 3), and one table of it.

The book's shared symbols are MathJax macros in ``_config.yml``
(``sphinx.config.mathjax3_config.tex.macros``, e.g. ``bmu: '\\boldsymbol{\\mu}'``).
The Markdown pages may use the macros; notebooks may not (Jupyter and Colab do not
know them), so they spell each symbol exactly as its macro expands. From the macro
table the test derives what is forbidden in a notebook:

- the macro names themselves (``\\bmu``);
- the same letter made bold another way (``\\mathbf{\\mu}``, ``\\bm{x}``,
  ``\\boldsymbol{x}``, ``\\vec{x}`` for ``\\boldsymbol{\\mu}`` / ``\\mathbf{x}``);
- the same operator in another face (``\\mathrm{E}`` or ``\\operatorname{E}`` for
  ``\\mathbb{E}``, ``\\operatorname{KL}`` for ``\\mathrm{KL}``, ...).

A short list of spellings that the decision rules out by name completes it:
responsibilities are ``q_{ic}`` (never ``r_{ic}``, ``r_{nk}``, ``\\gamma(z_{nk})``),
latent indicators ``t_{ic}`` (never ``z_{nk}``), components are indexed by ``c``, the
parameter count is ``k`` (never ``p(C)``), the VB normalisers are ``Z_{\\mathrm{Dir}}``
and ``Z_{\\mathrm{W}}`` (never ``C(\\alpha)``, ``B(\\mathbf{W}, \\nu)``), and ``\\log``
is the natural logarithm (never ``\\ln``).
"""

from __future__ import annotations

import re

import pytest
import yaml

from book_notebooks import ROOT
from notebook_support import NOTEBOOKS, read

MACROS = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
NOTATION_PAGE = ROOT / "book" / "notation.md"
MD_PAGES = sorted((ROOT / "book").glob("*.md"))

BOLD_FACES = ["mathbf", "boldsymbol", "bm", "pmb", "mathbfit", "vec", "bf"]
# (not \mathbf: a bold capital is a matrix, e.g. the Cholesky factor \mathbf{L}_c)
OPERATOR_FACES = ["mathrm", "mathbb", "mathcal", "operatorname", "text", "textrm", "mathsf", "mathit"]

# Spellings PLAN decision 3 rules out by name: (pattern, what to write instead).
RULED_OUT = [
    (r"(?<![A-Za-z\\])r_\{?(?:ic|nk|ik|ij|n|i)\b", "responsibilities are q_{ic}"),
    (r"\\gamma\s*\(\s*(?:z|\\mathbf\{z\}|t)", "responsibilities are q_{ic}, not \\gamma(z_{nk})"),
    (r"(?<![A-Za-z\\])q_\{?(?:nk|ik)\b", "responsibilities are q_{ic} (points i, components c)"),
    (r"(?<![A-Za-z\\])z_\{?(?:n|nk|nc|ik)\b", "the one-hot latent variables are t_i / t_{ic}"),
    (r"(?:\\pi|\\boldsymbol\{\\(?:mu|Sigma|Lambda)\})_\{?k\b", "components are indexed by c"),
    (r"(?<![A-Za-z\\])p\(C\)", "the number of free parameters is k (k_C), not p(C)"),
    (r"(?<![A-Za-z\\])C\(\s*(?:\\boldsymbol\{)?\\alpha", "the Dirichlet normaliser is Z_{\\mathrm{Dir}}"),
    (r"(?<![A-Za-z\\])B\(\s*\\mathbf\{W\}", "the Wishart normaliser is Z_{\\mathrm{W}}"),
    (r"\\ln(?![a-zA-Z])", "the natural logarithm is written \\log"),
    (r"(?<!\})\\theta\^\{?(?:old|new)", "the parameters are bold: \\boldsymbol{\\theta}^{old}"),
]


def _split(expansion: str):
    """``('boldsymbol', '\\mu', rest)`` for ``\\boldsymbol{\\mu}...``, else None."""
    m = re.fullmatch(r"\\([A-Za-z]+)\{(\\?[A-Za-z]+)\}(.*)", expansion)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def forbidden_spellings() -> list[tuple[re.Pattern, str]]:
    """Every spelling a notebook must not use, derived from the macro table and RULED_OUT."""
    rules = []
    expansions = " ".join(e[0] if isinstance(e, list) else e for e in MACROS.values())
    for name, expansion in MACROS.items():
        expansion = expansion[0] if isinstance(expansion, list) else expansion
        rules.append((re.compile(rf"\\{name}(?![A-Za-z])"),
                      f"\\{name} is a macro of the web book only; spell it {expansion}"))
        parts = _split(expansion)
        if not parts:
            continue
        face, symbol, _ = parts
        faces = BOLD_FACES if face in ("mathbf", "boldsymbol") else OPERATOR_FACES
        for other in faces:
            # (an alternative that is itself part of a decided spelling stays allowed:
            # \mathrm{W} in Z_{\mathrm{W}} although the Wishart density is \mathcal{W})
            if other != face and f"\\{other}{{{symbol}}}" not in expansions:
                rules.append((re.compile(rf"\\{other}\s*\{{\s*{re.escape(symbol)}\s*\}}"),
                              f"write {face}{{{symbol}}}, the book's spelling ({expansion})"))
        if face in ("mathbf", "boldsymbol"):
            # \bf x, {\bm x} and friends without braces
            rules.append((re.compile(rf"\\(?:bf|bm|boldsymbol|mathbf)\s+{re.escape(symbol)}(?![A-Za-z])"),
                          f"write {expansion}"))
    rules += [(re.compile(p), why) for p, why in RULED_OUT]
    return rules


RULES = forbidden_spellings()


# k may be the dummy index of a normalising sum over the components (Eq. (6)):
# a formula with such a sum is exempt from the "indexed by c" rule.
SUM_OVER_K = re.compile(r"\\sum_\{?k\b")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$", re.S)


def violations(text: str) -> list[str]:
    spans = [(m.start(), m.end()) for m in MATH.finditer(text) if SUM_OVER_K.search(m.group(0))]
    found = []
    for pattern, why in RULES:
        for m in pattern.finditer(text):
            if why == "components are indexed by c" and any(a <= m.start() < b for a, b in spans):
                continue
            found.append(f"{m.group(0)!r}: {why}")
    return found


def _markdown(path) -> str:
    return "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")


# --- the rules themselves ---------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    r"$r_{ic}$", r"$r_{nk}$", r"$\gamma(z_{nk})$", r"$z_{nk}$", r"$p(C)$", r"$C(\alpha)$",
    r"$C(\boldsymbol{\alpha})$", r"$B(\mathbf{W}, \nu)$", r"$\boldsymbol{x}_i$", r"$\mathbf{\mu}_c$",
    r"$\bm{\Sigma}$", r"$\vec{x}$", r"$\mathrm{E}_q$", r"$\operatorname{KL}$", r"$\ln p$",
    r"$\theta^{old}$", r"$\bmu_c$", r"$\mathbf{\theta}$", r"$\boldsymbol{\mu}_k$", r"$\pi_k$",
    r"$q_{nk}$", r"$\mathcal{E}$", r"$\mathrm{N}(\mathbf{x})$",
])
def test_a_ruled_out_spelling_is_caught(bad):
    assert violations(bad), f"{bad} passed the notation rules"


@pytest.mark.parametrize("good", [
    r"$q_{ic} = q(t_{ic} = 1)$", r"$\mathbf{x}_i$", r"$\boldsymbol{\mu}_c$", r"$\boldsymbol{\Sigma}_c^{-1}$",
    r"$\mathbb{E}_{q}$", r"$\mathrm{KL}(q \| p)$", r"$\log p(\mathbf{X} \lvert \boldsymbol{\theta})$",
    r"$\boldsymbol{\theta}^{old}$", r"$k_C$", r"$Z_{\mathrm{Dir}}(\boldsymbol{\alpha})$", r"$\pi_c$",
    r"$\mathcal{N}(\mathbf{x} \lvert \boldsymbol{\mu}, \boldsymbol{\Sigma})$", r"$\mathcal{L}(\boldsymbol{\theta}, q)$",
    r"$\pi_c \mathcal{N}_{ic} / \sum_k \pi_k \mathcal{N}_{ik}$",
    r"$\mathbf{W}_0$", r"$\mathrm{BIC}$", r"$\mathbf{s}_c$", r"$\mathbf{L}_c$", r"$Z_{\mathrm{W}}(\mathbf{W}, \nu)$",
    r"$\mathcal{W}(\boldsymbol{\Lambda} \lvert \mathbf{W}, \nu)$", "a variable named perr_ic",
])
def test_the_decided_spellings_pass(good):
    assert violations(good) == []


# --- the book ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_uses_only_the_decided_spellings(path):
    found = violations(_markdown(path))
    assert found == [], f"{len(found)} spellings outside the book's notation, e.g. {found[:6]}"


@pytest.mark.parametrize("path", [p for p in MD_PAGES if p != NOTATION_PAGE], ids=lambda p: p.stem)
def test_markdown_page_uses_only_the_decided_spellings(path):
    # A Markdown page may use the macros (the web book defines them) but not other spellings.
    text = path.read_text()
    found = [v for v in violations(text) if "is a macro of the web book only" not in v]
    assert found == []


def test_notation_page_lists_every_macro_and_is_in_the_back_matter():
    text = NOTATION_PAGE.read_text()
    missing = [name for name in MACROS if not re.search(rf"\\{name}(?![A-Za-z])", text)]
    assert missing == [], f"macros not shown on the Notation page: {missing}"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    back = next(p for p in toc["parts"] if p["caption"] == "Back matter")
    assert "book/notation" in [c["file"] for c in back["chapters"]]
    assert not back.get("numbered")


def test_macro_names_are_letters_only_and_expand_to_the_decided_symbols():
    assert all(re.fullmatch(r"[A-Za-z]+", name) for name in MACROS)
    expected = {r"\mathbf{x}", r"\mathbf{X}", r"\mathbf{t}", r"\boldsymbol{\mu}", r"\boldsymbol{\Sigma}",
                r"\boldsymbol{\Lambda}", r"\boldsymbol{\theta}", r"\boldsymbol{\pi}", r"\mathcal{N}",
                r"\mathrm{KL}", r"\mathbb{E}", r"\mathcal{L}"}
    assert expected <= set(MACROS.values())
