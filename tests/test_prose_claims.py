"""Numbers in a chapter's prose are held to what the chapter computes.

A sentence such as "the diagonal fit ends 74 nats below the full one" is a claim
about a result. If a later change moves the result, the sentence must not survive
unnoticed. The rule enforced here: every number in a notebook's markdown prose
that could be a result -- any decimal (``0.32``, ``1e-3``) and any integer of 10 or
more -- occurs in the same notebook's code (where it is an input or an assert) or
in its stored text outputs (where it is printed), up to the rounding the prose
uses (``74`` is backed by a printed ``73.59``).

Not counted as prose: mathematics (``$...$``, ``$$...$$``), equation numbers
``(n)`` and ``\\tag{n}``, links and their targets, HTML tags, MyST roles and
directive options, plain fenced code blocks, years, version numbers (``1.6.1``) and
references to chapters, sections, parts, figures and PRML equations. What remains
and is not backed needs an entry in ``ALLOWED`` below, keyed by notebook and
number, with the reason it cannot be printed.
"""

from __future__ import annotations

import math
import re

import pytest

from notebook_support import NOTEBOOK_IDS, NOTEBOOKS, read

# notebook stem -> {number as written in the prose: why it is not printed}
ALLOWED: dict[str, dict[str, str]] = {
    "03_em_for_gmms": {
        "3923.77": "the article's printed result, quoted to compare with ours",
    },
}

# ---------------------------------------------------------------- prose extraction

_FENCE = re.compile(r"^(```+|~~~+)\s*(\{[^}]*\})?.*?$", re.M)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_BEGIN_END_MATH = re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
_INLINE_MATH = re.compile(r"(?<!\\)\$(?!\$)(?:\\.|[^$\\])+?(?<!\\)\$", re.S)
_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_HTML = re.compile(r"<[^>]+>")
_OPTION = re.compile(r"^\s*:[\w-]+:.*$", re.M)
_EQ_NUMBER = re.compile(r"\(\s*\d{1,2}\s*\)")
_VERSION = re.compile(r"\b\d+\.\d+\.\d+(?:\.\w+)?\b")
_REFERENCE = re.compile(
    r"\b(?:chapters?|sections?|parts?|figs?\.|figures?|tables?|PRML|eqs?\.|equations?)"
    r"\s+\d+(?:\.\d+)*(?:\s*(?:,|and|to|or|–|-)\s*\d+(?:\.\d+)*)*",
    re.I,
)
_NUMBER = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])"
)


def _drop_plain_code_fences(text: str) -> str:
    """Remove the content of ``` blocks that are code or output, keep MyST directives."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m and not m.group(2):
            fence = m.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].startswith(fence):
                j += 1
            i = j + 1
            continue
        if m:  # a directive: keep its body, drop the fence line
            i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def prose(markdown: str) -> str:
    """The text of a markdown cell that a reader reads as prose."""
    text = _drop_plain_code_fences(markdown)
    for pattern in (_DISPLAY_MATH, _BEGIN_END_MATH, _INLINE_MATH, _ROLE, _URL, _HTML, _OPTION):
        text = pattern.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    for pattern in (_REFERENCE, _VERSION, _EQ_NUMBER):
        text = pattern.sub(" ", text)
    return text


def _is_claim(token: str) -> bool:
    """Decimals and numbers in scientific notation always; integers from 10, not years."""
    plain = token.replace(",", "")
    if any(ch in plain for ch in ".eE"):
        return True
    value = int(plain)
    return value >= 10 and not 1900 <= value <= 2100


def prose_numbers(markdown: str) -> list[tuple[str, str]]:
    """``(number, context)`` for every number of ``markdown`` that states a result."""
    text = prose(markdown)
    found = []
    for m in _NUMBER.finditer(text):
        if _is_claim(m.group()):
            context = " ".join(text[max(0, m.start() - 60) : m.end() + 30].split())
            found.append((m.group(), context))
    return found


# ------------------------------------------------------------ what backs a number

_CODE_NUMBER = re.compile(r"(?<![\w.])\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?")


def _values(text: str) -> set[float]:
    values = set()
    for m in _CODE_NUMBER.finditer(text.replace(",", "")):
        try:
            values.add(float(m.group().replace("_", "")))
        except ValueError:
            pass
    return values


def backing_values(nb) -> set[float]:
    """Every number in the notebook's code cells and in their stored text outputs."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                for mime in ("text/plain", "text/markdown", "text/html", "text/latex"):
                    parts.append(str(out["data"].get(mime, "")))
            elif out.output_type == "error":
                parts.append("\n".join(out.get("traceback", [])))
    return _values("\n".join(parts))


def is_backed(token: str, values: set[float]) -> bool:
    """True if some value rounds to ``token`` at the precision the prose uses."""
    plain = token.replace(",", "")
    target = float(plain)
    if "e" in plain.lower():
        return any(math.isclose(v, target, rel_tol=1e-9) for v in values)
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    half = 0.5 * 10.0**-decimals
    return any(abs(v - target) <= half * (1 + 1e-9) for v in values)


def unbacked_numbers(nb, allowed: dict[str, str]) -> list[str]:
    values = backing_values(nb)
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for token, context in prose_numbers(cell.source):
            if token in allowed or is_backed(token, values):
                continue
            problems.append(f"cell {index}: {token!r} in '...{context}...'")
    return problems


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_every_number_in_the_prose_is_computed_printed_or_asserted(path):
    problems = unbacked_numbers(read(path), ALLOWED.get(path.stem, {}))
    assert not problems, (
        "numbers in the prose that no code cell or stored output of the notebook "
        "backs (print or assert them, or add a reasoned entry to ALLOWED):\n  "
        + "\n  ".join(problems)
    )


def test_every_allowlist_entry_names_a_number_still_in_its_notebook():
    by_stem = {p.stem: p for p in NOTEBOOKS}
    for stem, entries in ALLOWED.items():
        assert stem in by_stem, f"ALLOWED names {stem}, which is not in _toc.yml"
        nb = read(by_stem[stem])
        tokens = {
            t for c in nb.cells if c.cell_type == "markdown" for t, _ in prose_numbers(c.source)
        }
        for number, reason in entries.items():
            assert reason.strip(), f"{stem}: {number} needs a reason"
            assert number in tokens, f"{stem}: allowed {number} no longer occurs in its prose"


def test_numbers_in_math_links_and_references_are_not_claims():
    markdown = (
        "Eq. (16) and $\\pi_c = 0.25$, [see 12.5](https://example.org/34.5), "
        "chapter 11, PRML section 10.2.4, scikit-learn 1.6.1, in 2019.\n\n"
        "$$\nx = 123.4\n\\tag{19}\n$$\n"
    )
    assert prose_numbers(markdown) == [("12.5", prose_numbers(markdown)[0][1])]


def test_a_result_in_the_prose_must_be_printed_at_the_precision_stated():
    values = _values("print(f'{ll:.2f}')  # -> log likelihood -3938.90\nrange(1_000)")
    assert is_backed("3938.9", values) and is_backed("3939", values)
    assert is_backed("1000", values) and is_backed("1,000", values)
    assert not is_backed("3938.8", values)
    assert not is_backed("74", values)
    tokens = [t for t, _ in prose_numbers("about 74 nats lower, 0.1 % apart, 3 runs, 1e-8")]
    assert tokens == ["74", "0.1", "1e-8"]
