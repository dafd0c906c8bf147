"""Build the graded homework: student notebooks, autograders and solutions.

One source per assignment, course/hw*.py (a notebook in Jupytext's percent format, in
Otter-Grader's assignment format), gives under --out (default build/course):

    <name>/student/<name>.ipynb     the notebook students open in Colab (no solutions,
                                    no hidden tests, self-check cells)
    <name>/autograder.zip           Otter's autograder (Gradescope-ready; `otter run`)
    <name>/solution/<name>.ipynb    the instructor's solution

Before Otter Assign runs, this script puts the self-check runner
(course/self_check_runner.py) where a source has the cell "# SELF-CHECK RUNNER", and
after each question a self-check cell that runs that question's public tests with plain
Python. Run with the course environment (`make course`), which has otter-grader.
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

import jupytext
import nbformat
import yaml

COURSE = pathlib.Path(__file__).resolve().parent
RUNNER_MARK = "# SELF-CHECK RUNNER"
# Otter runs the solution against the tests: one BLAS thread, as everywhere in the book
# (several threads per process on a shared machine make small fits many times slower).
ONE_THREAD = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def _raw_config(cell, keyword):
    """The YAML of a raw cell that starts with '# BEGIN <keyword>', else None."""
    lines = cell.source.strip().splitlines()
    if cell.cell_type != "raw" or not lines:
        return None
    if lines[0].strip().upper() != f"# BEGIN {keyword}":
        return None
    return yaml.safe_load("\n".join(lines[1:])) or {}


def _is_end(cell, keyword):
    return cell.cell_type == "raw" and cell.source.strip().upper() == f"# END {keyword}"


TEST_CONFIG = re.compile(
    r'^"""\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)^"""\s*#\s*END TEST CONFIG[^\n]*\n',
    re.M | re.S,
)


def _split_test_cell(source):
    """(config dict, code without the config docstring) of an exception-based test cell."""
    match = TEST_CONFIG.match(source)
    if match is None:
        raise SystemExit(
            f"a test cell without a TEST CONFIG docstring:\n{source[:300]}"
        )
    config = yaml.safe_load(match.group(1)) or {}
    if not isinstance(config.get("hidden", False), bool):
        raise SystemExit(f"'hidden' must be true or false in:\n{source[:300]}")
    return config, source[match.end() :].lstrip("\n")


def add_self_checks(nb):
    """Insert the runner and one self-check cell after each question with public tests."""
    runner = (COURSE / "self_check_runner.py").read_text()
    cells, question, in_tests, public = [], None, False, []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip() == RUNNER_MARK:
            cells.append(nbformat.v4.new_code_cell(runner.rstrip()))
            continue
        cells.append(cell)
        config = _raw_config(cell, "QUESTION")
        if config is not None:
            question, public = config["name"], []
        elif _raw_config(cell, "TESTS") is not None:
            in_tests = True
        elif _is_end(cell, "TESTS"):
            in_tests = False
        elif in_tests and cell.cell_type == "code":
            test_config, code = _split_test_cell(cell.source)
            if not test_config.get("hidden", False):
                public.append(code.rstrip())
        elif _is_end(cell, "QUESTION") and public:
            names = [
                line.split("(")[0][4:]
                for c in public
                for line in c.splitlines()
                if line.startswith("def test_")
            ]
            call = f'run_self_checks("{question}", {", ".join(names)})'
            text = "# Self-check: the public tests of this question.\n"
            cells.append(
                nbformat.v4.new_code_cell(text + "\n\n".join(public) + "\n\n" + call)
            )
            question = None
    if (
        any(c.cell_type == "code" and c.source.strip() == RUNNER_MARK for c in nb.cells)
        is False
    ):
        if not any(c.source.startswith("# Self-checks:") for c in cells):
            raise SystemExit("the source has no '# SELF-CHECK RUNNER' cell")
    nb.cells = cells
    return nb


def grading_requirements():
    """The book's numpy, scipy and scikit-learn pins, for the autograder's environment."""
    pins = (
        (COURSE.parent / "tests" / "requirements-course.txt").read_text().splitlines()
    )
    keep = ("numpy==", "scipy==", "scikit-learn==")
    return "".join(line + "\n" for line in pins if line.startswith(keep))


def build(source, out):
    name = source.stem
    work = out / name
    shutil.rmtree(work, ignore_errors=True)
    (work / "src").mkdir(parents=True)
    nb = add_self_checks(jupytext.read(source))
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        cell.metadata.pop("lines_to_next_cell", None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    src = work / "src" / f"{name}.ipynb"
    nbformat.write(nb, src)
    (work / "src" / "requirements.txt").write_text(grading_requirements())
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "otter", "assign", "-v", str(src), str(dist)],
        check=True,
        cwd=work,
        env=ONE_THREAD,
    )
    (work / "student").mkdir()
    (work / "solution").mkdir()
    shutil.copy(dist / "student" / f"{name}.ipynb", work / "student")
    shutil.copy(dist / "autograder" / f"{name}.ipynb", work / "solution")
    zips = sorted((dist / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise SystemExit(f"{name}: expected one autograder zip, found {zips}")
    shutil.copy(zips[0], work / "autograder.zip")
    print(f"{name}: {work / 'student'}, {work / 'autograder.zip'}, {work / 'solution'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("build/course")
    )
    parser.add_argument("assignments", nargs="*", help="names like hw1 (default: all)")
    args = parser.parse_args(argv)
    sources = sorted(COURSE.glob("hw*.py"))
    if args.assignments:
        sources = [s for s in sources if s.stem.split("_")[0] in args.assignments]
    if not sources:
        raise SystemExit("no assignment sources selected")
    for source in sources:
        build(source, args.out.resolve())


if __name__ == "__main__":
    main()
