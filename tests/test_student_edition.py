"""The student edition (`make student`): the book's sources without solutions, still runnable.

The transformation rules are pinned on small synthetic notebooks; then the edition
of the real book is written into a temporary folder and checked: no solution text
survives, and every notebook with exercise stubs runs top to bottom (the stubs
raise NotImplementedError, which the self-checks report without stopping the run).
"""

import ast
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import make_student_edition as mse
from book_notebooks import ROOT
from notebook_support import NOTEBOOKS, execute, read


def solution_cell(source):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["solution"]
    return cell


# --- code cells ------------------------------------------------------------------------

def test_a_function_keeps_its_signature_and_docstring_and_loses_its_body():
    src = ('import numpy as np\n\n'
           'def e_step_log(X, pi,\n'
           '               mu, sigma):\n'
           '    """Responsibilities (N, C), in log space."""\n'
           '    # Equation (6)\n'
           '    log_joint = np.log(pi) + 1.0\n'
           '    return np.exp(log_joint)\n\n'
           'print(e_step_log)\n')
    out = mse.stub_solution_code(src)
    tree = ast.parse(out)
    [fn] = tree.body
    assert fn.name == "e_step_log" and [a.arg for a in fn.args.args] == ["X", "pi", "mu", "sigma"]
    assert ast.get_docstring(fn) == "Responsibilities (N, C), in log space."
    assert isinstance(fn.body[-1], ast.Raise) and "NotImplementedError" in ast.unparse(fn.body[-1])
    for secret in ("log_joint", "Equation (6)", "import numpy", "print("):
        assert secret not in out
    with pytest.raises(NotImplementedError, match="Exercise: write the body of e_step_log"):
        namespace = {}
        exec(out, namespace)
        namespace["e_step_log"](1, 2, 3, 4)


def test_decorators_annotations_defaults_and_several_functions():
    src = ('import functools\n'
           '@functools.lru_cache(maxsize=None)\n'
           'def f(x: int = 3, key=lambda v: v[0]) -> dict[str, int]:\n'
           '    secret_value = {"a": x}\n'
           '    return secret_value\n\n'
           'def g(y): return y + 42\n')
    out = mse.stub_solution_code(src)
    tree = ast.parse(out)
    assert [n.name for n in tree.body] == ["f", "g"]
    assert "@functools.lru_cache(maxsize=None)" in out
    assert "def f(x: int = 3, key=lambda v: v[0]) -> dict[str, int]:" in out
    assert "secret_value" not in out and "y + 42" not in out
    assert ast.get_docstring(tree.body[0]) is None


def test_a_cell_without_functions_becomes_a_comment():
    out = mse.stub_solution_code("restarts = [fit(seed=s) for s in range(20)]\nprint(max(restarts))\n")
    assert out == mse.NO_FUNCTION_STUB
    assert mse.stub_solution_code("%timeit 1 + 1\n") == mse.NO_FUNCTION_STUB  # not plain Python


# --- markdown --------------------------------------------------------------------------

def test_backtick_solution_directives_are_removed_and_exercises_kept():
    text = ("Intro.\n\n"
            "```{exercise} Lagrange\n:label: ex-2-lagrange\nDerive Eq. (16).\n```\n\n"
            "````{solution} ex-2-lagrange\n:class: dropdown\nAdd a multiplier $\\lambda$.\n\n"
            "```python\nprint('inner fence')\n```\nSo pi_c = N_c / N.\n````\n\n"
            "After.\n")
    out = mse.remove_solution_directives(text)
    assert "```{exercise} Lagrange" in out and "Derive Eq. (16)." in out
    for secret in ("{solution}", "multiplier", "inner fence", "N_c / N"):
        assert secret not in out
    assert out.startswith("Intro.") and out.rstrip().endswith("After.")


def test_colon_fence_and_gated_solutions_are_removed():
    text = ("::::{exercise}\n:label: ex-a\nQ?\n::::\n"
            ":::{solution} ex-a\n:class: dropdown\nColon answer.\n:::\n"
            "```{solution-start} ex-a\n:class: dropdown\n```\nGated answer.\n\n```{code-cell}\nx = 1\n```\n"
            "```{solution-end}\n```\nKept.")
    out = mse.remove_solution_directives(text)
    assert "Colon answer" not in out and "Gated answer" not in out and "x = 1" not in out
    assert "Q?" in out and out.endswith("Kept.")


def test_notebook_transformation():
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np", outputs=[], execution_count=1),
        new_markdown_cell("```{solution} ex-1\n:class: dropdown\nOnly a solution here.\n```"),
        solution_cell("def f(x):\n    return 2 * x\n"),
        new_code_cell("lvm.check_e_step(f)"),
    ])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="stored\n")]
    student = mse.transform_notebook(nb)
    assert [c.cell_type for c in student.cells] == ["code", "code", "code"]  # empty markdown cell dropped
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert student.cells[1].metadata["tags"] == ["exercise-stub"]
    assert student.cells[1].source.startswith(
        "# Exercise: complete the function(s) below, then run the self-check in the next cell.")
    assert "2 * x" not in student.cells[1].source and "def f(x):" in student.cells[1].source
    assert nb.cells[2].source == "def f(x):\n    return 2 * x\n"  # the original is untouched
    assert mse.has_solution_cells(nb) and not mse.has_solution_cells(student)


def test_gated_solution_spanning_cells_is_removed_and_its_code_stubbed():
    # The form scripts/gate_solutions.py writes: the solution's markdown opens the block,
    # its code cells (and a self-check between them) follow, a markdown cell closes it.
    nb = new_notebook(cells=[
        new_markdown_cell("```{exercise} Q\n:label: ex-1\nWrite f.\n```\n\n"
                          "```{solution-start} ex-1\n:class: dropdown\n```\n\nThe gated answer text."),
        solution_cell("def f(x):\n    return 2 * x\n"),
        new_code_cell("lvm.check_e_step(f)"),
        new_markdown_cell("More gated answer text."),
        solution_cell("print(f(21))\n"),
        new_markdown_cell("```{solution-end}\n```"),
        new_markdown_cell("After the solution."),
    ])
    student = mse.transform_notebook(nb)
    text = "\n".join(c.source for c in student.cells)
    assert "Write f." in text and "After the solution." in text
    for secret in ("gated answer", "{solution-start}", "{solution-end}", "2 * x", "print(f(21))"):
        assert secret not in text
    assert [c.cell_type for c in student.cells] == ["markdown", "code", "code", "code", "markdown"]
    assert student.cells[2].source == "lvm.check_e_step(f)"  # the self-check stays
    assert student.cells[3].source == mse.NO_FUNCTION_STUB


def test_write_edition_on_a_small_synthetic_book(tmp_path):
    root, out = tmp_path / "src", tmp_path / "out"
    (root / "book" / "data").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "build" / "site_assets" / "_static").mkdir(parents=True)
    (root / "build" / "site_assets" / "_static" / "asset.js").write_text("//")
    (root / "scripts" / "my_ext.py").write_text("def setup(app):\n    return {}\n")
    (root / "_config.yml").write_text(
        'title: "A book"\nsphinx:\n  local_extensions:\n    my_ext: scripts/\n'
        '  config:\n    html_extra_path: ["build/site_assets"]\n')
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nparts:\n"
                                   "  - caption: P\n    chapters:\n      - file: book/ch\n")
    (root / "latent_variable_models_util.py").write_text("# helper\n")
    (root / "book" / "intro.md").write_text("# Intro\n\n```{solution} ex-x\nThe answer is 42.\n```\n")
    (root / "book" / "data" / "d.csv").write_text("a,b\n1,2\n")
    nb = new_notebook(cells=[new_markdown_cell("# Ch"), solution_cell("def f(x):\n    return x * 42\n")])
    nbformat.write(nb, root / "book" / "ch.ipynb")

    notebooks = mse.write_edition(out, root=root)
    assert notebooks == [out / "book" / "ch.ipynb"]
    assert 'title: "A book (student edition)"' in (out / "_config.yml").read_text()
    assert "42" not in (out / "book" / "intro.md").read_text()
    assert "x * 42" not in read(notebooks[0]).cells[1].source
    assert (out / "book" / "data" / "d.csv").read_text() == "a,b\n1,2\n"
    assert (out / "scripts" / "my_ext.py").is_file()                       # local extension
    assert (out / "build" / "site_assets" / "_static" / "asset.js").is_file()  # html_extra_path
    assert (out / "latent_variable_models_util.py").is_file()
    mse.write_edition(out, root=root)  # rewriting replaces the previous edition cleanly


def test_config_title_is_marked():
    assert mse._student_config('title: "GMMs"\nauthor: x\n') == 'title: "GMMs (student edition)"\nauthor: x\n'


# --- the real book ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, mse.write_edition(out)


def _source_lines(text):
    return {line.strip() for line in text.splitlines()}


def _secrets(nb):
    """Lines of the notebook's solutions that appear nowhere else in it (at least 12 characters)."""
    public, secret = set(), set()
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            kept = mse.stub_solution_code(cell.source)
            secret |= _source_lines(cell.source) - _source_lines(kept)
        elif cell.cell_type == "markdown":
            stripped = mse.remove_solution_directives(cell.source)
            public |= _source_lines(stripped)
            secret |= _source_lines(cell.source) - _source_lines(stripped)
        else:
            public |= _source_lines(cell.source)
    return {s for s in secret - public if len(s) >= 12 and not s.startswith(":class:")}


def test_the_edition_has_every_chapter_and_the_helper(edition):
    out, notebooks = edition
    assert [p.name for p in notebooks] == [p.name for p in NOTEBOOKS]
    assert (out / "latent_variable_models_util.py").read_text() == (ROOT / "latent_variable_models_util.py").read_text()
    assert "(student edition)" in (out / "_config.yml").read_text()
    assert (out / "_toc.yml").read_text() == (ROOT / "_toc.yml").read_text()


def test_the_book_has_exercises_with_solutions():
    with_solutions = [p for p in NOTEBOOKS if mse.has_solution_cells(read(p))]
    assert len(with_solutions) >= 2, "expected solution code cells in the book"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_notebooks_contain_no_solution_text(edition, path):
    out, _ = edition
    source = read(path)
    student = read(out / "book" / path.name)
    text = "\n".join(c.source for c in student.cells)
    assert "{solution}" not in text and "{solution-start}" not in text and "{solution-end}" not in text
    assert not any("solution" in c.metadata.get("tags", []) for c in student.cells)
    n_solutions = sum(re.search(r"\{solution(-start)?\}", c.source) is not None for c in source.cells)
    leaked = sorted(_secrets(source) & _source_lines(text))
    assert not leaked, f"solution text in the student edition: {leaked[:3]}"
    if n_solutions:
        assert _secrets(source), "the solutions of this chapter have no characteristic lines to look for"


STUDENT_RUNS = [p for p in NOTEBOOKS if mse.has_solution_cells(read(p))]


@pytest.mark.parametrize("path", STUDENT_RUNS, ids=[p.stem for p in STUDENT_RUNS])
def test_student_notebooks_run_top_to_bottom_and_report_the_stubs(edition, path):
    out, _ = edition
    nb = execute(out / "book" / path.name)  # raises CellExecutionError if any cell fails
    stubs = {n.name for c in nb.cells if "exercise-stub" in c.metadata.get("tags", [])
             for n in ast.parse(c.source).body if isinstance(n, ast.FunctionDef)}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        for m in re.finditer(r"lvm\.(check_\w+)\((\w+)\)", cell.source):
            if m.group(2) in stubs:
                assert f"{m.group(1)}: not implemented yet" in text, (m.group(0), text)
