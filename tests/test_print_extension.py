"""scripts/sphinx_print.py and scripts/build_pdf.py on small inputs (no LaTeX run needed)."""

from __future__ import annotations

import nbformat
import pytest
import yaml
from docutils import nodes
from sphinx import addnodes

import book_notebooks
import build_pdf
import sphinx_print


def test_macros_of_the_web_book_become_latex_definitions():
    preamble = sphinx_print.macro_preamble({"bx": "\\mathbf{x}", "norm": ["\\lVert #1 \\rVert", 1]})
    assert "\\renewcommand{\\bx}{\\mathbf{x}}" in preamble
    assert "\\renewcommand{\\norm}[1]{\\lVert #1 \\rVert}" in preamble
    assert preamble.count("\\providecommand") == 2


def test_every_macro_of_config_is_defined_for_latex():
    config = yaml.safe_load((book_notebooks.ROOT / "_config.yml").read_text())
    macros = config["sphinx"]["config"].get("mathjax3_config", {}).get("tex", {}).get("macros", {})
    preamble = sphinx_print.macro_preamble(macros)
    for name in macros:
        assert f"\\renewcommand{{\\{name}}}" in preamble, name


def test_a_macro_name_that_latex_cannot_define_is_refused():
    with pytest.raises(ValueError, match="macro names"):
        sphinx_print.macro_preamble({"b1": "x"})


def test_tagged_display_keeps_its_own_number_and_gets_its_link_target():
    latex = "\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}\n\\tag{11}"
    out = sphinx_print.tagged_display(latex)
    assert out.startswith("\\hypertarget{eq-11}{}\\begin{equation*}")
    assert out.rstrip().endswith("\\end{equation*}") and "\\tag{11}" in out
    assert "split" not in out
    assert sphinx_print.tagged_display("a = b") is None


def _cell(*children, classes=("cell",)):
    return nodes.container("", *children, classes=list(classes))


def test_solutions_move_to_the_end_of_their_own_chapter():
    def page(name, *body):
        section = nodes.section(ids=[name])
        section += nodes.title(text=name)
        for child in body:
            section += child
        sof = addnodes.start_of_file(docname=name)
        sof += section
        return sof

    sol_a = _cell(nodes.paragraph(text="answer a"), classes=("cell", "tag_solution"))
    tree = nodes.document(None, None)
    tree += page("ch1", nodes.paragraph(text="question"), sol_a, nodes.paragraph(text="summary"))
    tree += page("ch2", nodes.paragraph(text="no exercises"))
    assert sphinx_print.collect_solutions(tree) == 1
    ch1 = tree.children[0].children[0]
    assert [type(c).__name__ for c in ch1.children][-1] == "section"
    assert ch1.children[-1].children[0].astext() == sphinx_print.SOLUTIONS_TITLE
    assert ch1.children[-1].children[1] is sol_a
    assert "answer a" not in ch1.children[1].astext() + ch1.children[2].astext()
    assert len(tree.children[1].children[0].children) == 2  # ch2 untouched


def test_html_only_output_is_recognised():
    output = nodes.container("", nodes.literal_block(text="<IPython.core.display.HTML object>"),
                             classes=["cell_output"])
    assert sphinx_print.is_html_only_cell(_cell(output))
    printed = nodes.container("", nodes.literal_block(text="0.25"), classes=["cell_output"])
    assert not sphinx_print.is_html_only_cell(_cell(printed))


def test_only_figures_are_taken_from_the_print_run():
    def nb(png, text):
        cell = nbformat.v4.new_code_cell("plot()")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text=text),
            nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        ]
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cell])

    stored, rerun = nb("LOWRES", "mean 1.00\n"), nb("HIGHRES", "mean 1.01\n")
    assert build_pdf.transplant_figures(stored, rerun) == []
    assert stored.cells[1].outputs[1]["data"]["image/png"] == "HIGHRES"
    assert stored.cells[1].outputs[0]["text"] == "mean 1.00\n"  # the stored number stays


def test_a_cell_whose_rerun_shows_other_figures_keeps_its_own():
    stored = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    stored.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "A"})]
    rerun = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x")])
    assert build_pdf.transplant_figures(stored, rerun) == [0]
    assert stored.cells[0].outputs[0]["data"]["image/png"] == "A"


def test_pdf_name_comes_from_config():
    assert build_pdf.pdf_name().endswith(".pdf")
