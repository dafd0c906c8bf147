"""Every formula in the prose reaches MathJax whole: no TeX is left as text by MyST.

The book's markdown is parsed exactly as Jupyter Book parses it (myst-parser with the
extensions of JB's default configuration), including the bodies of directives such as
exercises and solutions, and no text node may contain a ``$`` or a TeX command. The
usual cause of a failure is a wrapped line inside ``$...$`` that starts with ``- ``,
``+ `` or ``1. `` (MyST reads a list item there); ``scripts/fix_math_line_breaks.py``
repairs it.
"""

import re
import sys

import pytest
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

from book_notebooks import ROOT
from notebook_support import NOTEBOOKS, read

sys.path.insert(0, str(ROOT / "scripts"))
import fix_math_line_breaks as fix  # noqa: E402

PARSER = create_md_parser(
    MdParserConfig(enable_extensions={"colon_fence", "dollarmath", "linkify", "substitution", "tasklist"}),
    RendererHTML)
RAW_TEX = re.compile(r"\\[A-Za-z]+|\$")
MD_PAGES = sorted((ROOT / "book").glob("*.md"))


def raw_tex_in_text(source: str) -> list[str]:
    """Text of ``source`` that MyST would print as prose although it is TeX."""
    found = []
    for token in PARSER.parse(source):
        if token.type in ("fence", "colon_fence") and token.info.startswith("{"):
            body = "\n".join(line for line in token.content.splitlines() if not re.match(r"\s*:[\w-]+:", line))
            found += raw_tex_in_text(body)
        for child in token.children or []:
            if child.type == "text" and RAW_TEX.search(child.content):
                found.append(child.content)
    return found


def test_a_list_marker_inside_inline_maths_is_what_breaks_it_and_the_fix_mends_it():
    broken = "It is $a\n- b$ and $c$.\n"
    assert raw_tex_in_text(broken)  # the parser really splits it: this test can fail
    fixed = fix.fix_text(broken)
    assert fixed == "It is $a -\nb$ and $c$.\n"
    assert raw_tex_in_text(fixed) == []
    assert fix.fix_text(fixed) == fixed


def test_real_lists_display_maths_and_code_are_left_alone():
    text = ("Items:\n\n- one $x$\n- two\n\n$$\na\n- b\n$$\n\n```python\ny = $z\n- 1\n```\n\n"
            "```{solution} ex\n:class: dropdown\nSo $u\n+ v$ holds.\n```\n")
    out = fix.fix_text(text)
    assert out == text.replace("So $u\n+ v$", "So $u +\nv$")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_prose_has_no_tex_left_as_text(path):
    problems = [(i, t[:80]) for i, c in enumerate(read(path).cells) if c.cell_type == "markdown"
                for t in raw_tex_in_text(c.source)]
    assert problems == [], f"TeX printed as text (cell, text): {problems[:5]}"


@pytest.mark.parametrize("path", MD_PAGES, ids=[p.stem for p in MD_PAGES])
def test_markdown_page_has_no_tex_left_as_text(path):
    text = path.read_text()
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # front matter
    assert raw_tex_in_text(text) == []
