"""The article's equations (1)-(19): each displayed once, every reference resolves."""

import re
from collections import Counter

import pytest

from notebook_support import EQ_REF, EQ_TAG, NOTEBOOKS, code_cells, markdown_sources, read

ARTICLE_EQUATIONS = set(range(1, 20))


def all_tags():
    return Counter(int(n) for _, text in markdown_sources() for n in EQ_TAG.findall(text))


def referenced_numbers(text):
    numbers = []
    for match in EQ_REF.finditer(text):
        numbers.append(int(match.group(1)))
        numbers += [int(n) for n in re.findall(r"\((\d+)\)", match.group(2) or "")]
    return numbers


def test_reference_pattern_reads_single_and_grouped_references():
    assert referenced_numbers("see Eq. (6) and Eqs. (16), (17) and (18)") == [6, 16, 17, 18]
    assert referenced_numbers("# Equation (19)") == [19]


def test_every_tag_belongs_to_the_article():
    assert set(all_tags()) <= ARTICLE_EQUATIONS, sorted(set(all_tags()) - ARTICLE_EQUATIONS)


@pytest.mark.parametrize("number", sorted(ARTICLE_EQUATIONS))
def test_each_article_equation_is_displayed_exactly_once(number):
    assert all_tags()[number] == 1, f"\\tag{{{number}}} appears {all_tags()[number]} times"


def test_every_equation_reference_in_prose_names_an_existing_tag():
    tags = set(all_tags())
    bad = [(name, n) for name, text in markdown_sources() for n in referenced_numbers(text) if n not in tags]
    assert not bad, bad


def test_every_equation_reference_in_code_names_an_existing_tag():
    tags = set(all_tags())
    bad = []
    for path in NOTEBOOKS:
        for cell in code_cells(read(path)):
            bad += [(path.name, n) for n in referenced_numbers(cell.source) if n not in tags]
    assert not bad, bad



@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_same_page_equation_links_have_anchors(path):
    text = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
    anchors = set(re.findall(r'<a id="(eq-\d+)"></a>', text))
    links = set(re.findall(r"\]\(#(eq-\d+)\)", text))
    assert links <= anchors, sorted(links - anchors)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_tagged_equation_has_its_anchor(path):
    text = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
    for number in EQ_TAG.findall(text):
        assert f'<a id="eq-{number}"></a>' in text, f"equation ({number}) has no anchor"
