"""Solutions hide their code *and* its outputs until the reader opens them.

``scripts/gate_solutions.py`` moves the code cells of a solution inside its dropdown
(sphinx-exercise's gated ``solution-start`` ... ``solution-end``). The rule is pinned on
small notebooks; then every book notebook must already be in that form: a code cell
tagged ``solution`` outside a gated block would show its outputs (the answer) under a
closed solution.
"""

import copy

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import gate_solutions as gs
from notebook_support import NOTEBOOKS, read


def solution_cell(source):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["solution", "hide-input"]
    return cell


def old_form():
    return new_notebook(cells=[
        new_markdown_cell("```{exercise} Q\n:label: ex-1\nWrite f.\n```\n\n"
                          "````{solution} ex-1\n:class: dropdown\nThe answer, with a fence:\n\n"
                          "```python\nf(1)\n```\n````"),
        solution_cell("def f(x):\n    return 2 * x"),
        new_code_cell("lvm.check_f(f)"),
        solution_cell("print(f(21))"),
        new_code_cell("print('after the solution')"),
        new_markdown_cell("```{exercise} R\n:label: ex-2\nWhy?\n```\n\n"
                          "```{solution} ex-2\n:class: dropdown\nBecause (text only).\n```"),
        new_markdown_cell("## Summary"),
    ])


def test_solution_text_and_its_code_cells_go_between_start_and_end():
    nb = old_form()
    assert gs.gate_notebook(nb)
    src = [c.source for c in nb.cells]
    assert src[0] == ("```{exercise} Q\n:label: ex-1\nWrite f.\n```\n\n"
                      "````{solution-start} ex-1\n:class: dropdown\n````\n\n"
                      "The answer, with a fence:\n\n```python\nf(1)\n```")
    assert src[1:4] == ["def f(x):\n    return 2 * x", "lvm.check_f(f)", "print(f(21))"]
    assert src[4] == gs.END_MARKER  # after the last solution cell, before the untagged cell
    assert src[5] == "print('after the solution')"
    assert nb.cells[1].metadata["tags"] == ["solution"] and nb.cells[3].metadata["tags"] == ["solution"]
    assert "```{solution} ex-2" in src[6]  # a text-only solution keeps its plain dropdown
    assert all(c.get("id") for c in nb.cells if c.cell_type == "markdown" and c.source == gs.END_MARKER)


def test_gating_twice_changes_nothing():
    nb = old_form()
    gs.gate_notebook(nb)
    again = copy.deepcopy(nb)
    assert not gs.gate_notebook(again)
    assert again == nb


def test_a_solution_directive_not_closing_its_cell_is_left_alone():
    nb = new_notebook(cells=[
        new_markdown_cell("```{solution} ex-1\n:class: dropdown\nText.\n```\n\nMore prose after it."),
        solution_cell("x = 1"),
    ])
    assert not gs.gate_notebook(nb)


def gated_spans(nb):
    """Indices of the cells inside a solution-start ... solution-end block."""
    inside, span = False, set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            if "{solution-start}" in cell.source:
                inside = True
            if "{solution-end}" in cell.source:
                inside = False
        elif inside:
            span.add(i)
    return span


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_solution_code_cell_is_inside_its_gated_solution(path):
    nb = read(path)
    outside = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and "solution" in c.metadata.get("tags", []) and i not in gated_spans(nb)]
    assert outside == [], (
        f"solution code cells {outside} sit outside a gated solution, so their outputs show "
        f"under the closed dropdown: run `python scripts/gate_solutions.py {path.name}`")
    starts = sum(c.source.count("{solution-start}") for c in nb.cells if c.cell_type == "markdown")
    ends = sum(c.source.count("{solution-end}") for c in nb.cells if c.cell_type == "markdown")
    assert starts == ends
