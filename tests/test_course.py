"""Graded homework (course/): Otter builds each assignment and its own autograder grades it.

For every assignment the instructor's solution gets full marks, the student notebook (the
stubs) gets zero without breaking the grader, and each typical mistake of course/mistakes.py
gets the stated partial score with feedback that names the mistake. The student notebooks
are also run with Colab's library versions (build/colab-current), where they must run to the
end without otter-grader. Grading uses `otter run` with the Gradescope autograder zip: the
same code Gradescope runs, locally, without Docker.

Needs the course environment of `make course` (build/course-venv, exact pins of
tests/requirements-course.txt); `make test` builds it first.
"""

import json
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "course"))
from mistakes import MISTAKES  # noqa: E402

COURSE_PYTHON = ROOT / "build" / "course-venv" / "bin" / "python"
COLAB_PYTHON = ROOT / "build" / "colab-current" / "bin" / "python"
ASSIGNMENTS = sorted(p.stem for p in (ROOT / "course").glob("hw*.py"))
AUTOGRADED_POINTS = 10.0
ONE_THREAD = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
}


def test_there_are_four_assignments_with_two_mistakes_each():
    assert len(ASSIGNMENTS) == 4
    assert set(MISTAKES) == set(ASSIGNMENTS)
    assert all(len(MISTAKES[name]) >= 2 for name in ASSIGNMENTS)


@pytest.fixture(scope="session")
def course_dir(tmp_path_factory):
    if not COURSE_PYTHON.exists():
        # `make test` builds that environment first: there a missing one is a failure
        (pytest.fail if os.environ.get("LVM_FULL_TEST") else pytest.skip)(
            f"no course environment at {COURSE_PYTHON}: run `make course`"
        )
    out = tmp_path_factory.mktemp("course")
    result = subprocess.run(
        [
            str(COURSE_PYTHON),
            str(ROOT / "course" / "build_course.py"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _with_mistake(solution, mistake):
    """The solution notebook with one function replaced by a wrong definition."""
    nb = nbformat.read(solution, as_version=4)
    cells = [
        c
        for c in nb.cells
        if c.cell_type == "code" and f"def {mistake.function}(" in c.source
    ]
    assert len(cells) == 1, f"no single cell defines {mistake.function}"
    cells[0].source += "\n\n" + mistake.code.strip() + "\n"
    return nb


def _grade(autograder, notebook, work):
    """Run Otter's autograder on one notebook; return {question: (score, max, feedback)}."""
    work.mkdir(parents=True)
    result = subprocess.run(
        [
            str(COURSE_PYTHON.parent / "otter"),
            "run",
            "-a",
            str(autograder),
            "-o",
            str(work),
            str(notebook),
        ],
        cwd=work,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
    )
    results = work / "results.json"
    assert result.returncode == 0 and results.exists(), (
        f"the grader crashed on {notebook.name}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    )
    tests = json.loads(results.read_text())["tests"]
    return {
        t["name"]: (t["score"], t["max_score"], t["output"])
        for t in tests
        if t.get("max_score") is not None
    }


@pytest.fixture(scope="session")
def grades(course_dir, tmp_path_factory):
    """Every grading run of this file, two at a time (the runs are independent)."""
    work = tmp_path_factory.mktemp("grading")
    jobs = {}
    for name in ASSIGNMENTS:
        autograder = course_dir / name / "autograder.zip"
        solution = course_dir / name / "solution" / f"{name}.ipynb"
        jobs[name, "solution"] = (autograder, solution)
        jobs[name, "student"] = (
            autograder,
            course_dir / name / "student" / f"{name}.ipynb",
        )
        for k, mistake in enumerate(MISTAKES[name]):
            path = work / f"{name}_mistake{k}" / f"{name}.ipynb"
            path.parent.mkdir()
            nbformat.write(_with_mistake(solution, mistake), path)
            jobs[name, mistake.name] = (autograder, path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            key: pool.submit(_grade, ag, nb, work / "runs" / f"{key[0]}-{i}")
            for i, (key, (ag, nb)) in enumerate(jobs.items())
        }
        return {key: future.result() for key, future in futures.items()}


def _total(result):
    return sum(score for score, _, _ in result.values()), sum(
        m for _, m, _ in result.values()
    )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(grades, name):
    score, maximum = _total(grades[name, "solution"])
    assert maximum == AUTOGRADED_POINTS
    assert score == maximum, {
        q: out for q, (s, m, out) in grades[name, "solution"].items() if s < m
    }


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_stubs_get_zero_without_crashing_the_grader(grades, name):
    result = grades[name, "student"]
    assert _total(result) == (0, AUTOGRADED_POINTS)
    assert all("Test case failed" in out for _, _, out in result.values())


@pytest.mark.parametrize(
    "name, mistake",
    [(name, m) for name in ASSIGNMENTS for m in MISTAKES[name]],
    ids=[f"{name}-{m.name}" for name in ASSIGNMENTS for m in MISTAKES[name]],
)
def test_typical_mistake_gets_partial_marks_and_feedback_naming_it(
    grades, name, mistake
):
    result = grades[name, mistake.name]
    score, maximum = _total(result)
    assert 0 < score < maximum
    assert score == mistake.score
    feedback = "\n".join(out for _, _, out in result.values())
    assert mistake.feedback in feedback, feedback


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograder_is_gradescope_ready_and_holds_the_hidden_tests(course_dir, name):
    with zipfile.ZipFile(course_dir / name / "autograder.zip") as archive:
        files = set(archive.namelist())
        tests = "".join(
            archive.read(f).decode() for f in files if f.startswith("tests/")
        )
        assert {
            "run_autograder",
            "setup.sh",
            "environment.yml",
            "otter_config.json",
        } <= files
        environment = archive.read("environment.yml").decode()
    for package in ("otter-grader[grading,plugins]", "numpy", "scipy", "scikit-learn"):
        assert f"- {package}==" in environment, (
            f"{package} is not pinned for Gradescope"
        )
    assert "hidden=True" in tests and "hidden=False" in tests
    student = (course_dir / name / "student" / f"{name}.ipynb").read_text()
    for block in tests.split("@test_case(")[1:]:
        test_name = block.split("def ", 1)[1].split("(")[0]
        assert (test_name in student) == ("hidden=False" in block.split(")", 1)[0]), (
            test_name
        )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_has_no_solutions_and_no_grading_library(course_dir, name):
    nb = nbformat.read(course_dir / name / "student" / f"{name}.ipynb", as_version=4)
    solution = nbformat.read(
        course_dir / name / "solution" / f"{name}.ipynb", as_version=4
    )
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "otter" not in code and "grader." not in code
    assert "SOLUTION" not in "\n".join(c.source for c in nb.cells)
    stubs = [
        c
        for c in nb.cells
        if c.cell_type == "code" and c.source.rstrip().endswith("...")
    ]
    assert len(stubs) >= 4
    assert all(c.metadata.get("editable", True) for c in stubs), (
        "students cannot edit a stub"
    )
    defined = [
        c.source.split("(")[0] for c in solution.cells if c.source.startswith("def ")
    ]
    assert defined == [c.source.split("(")[0] for c in stubs]


def _run_cells(python, notebook, tmp_path):
    """Run a notebook's code cells in order in one namespace, as Run all does."""
    nb = nbformat.read(notebook, as_version=4)
    script = tmp_path / f"{notebook.stem}.py"
    script.write_text("\n\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    return subprocess.run(
        [str(python), str(script)],
        cwd=tmp_path,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_and_solution_notebooks_run_with_colab_versions(
    course_dir, name, tmp_path
):
    if not COLAB_PYTHON.exists():
        pytest.skip(f"SKIPPED LOUDLY: no Colab-like environment at {COLAB_PYTHON}")
    student = _run_cells(
        COLAB_PYTHON, course_dir / name / "student" / f"{name}.ipynb", tmp_path
    )
    assert student.returncode == 0, student.stderr[-3000:]
    assert "✗" in student.stdout and "Skipped until the self-checks" in student.stdout
    assert "✓" not in student.stdout
    solution = _run_cells(
        COLAB_PYTHON, course_dir / name / "solution" / f"{name}.ipynb", tmp_path
    )
    assert solution.returncode == 0, solution.stderr[-3000:]
    assert "✗" not in solution.stdout and "Skipped" not in solution.stdout, (
        solution.stdout
    )
    assert solution.stdout.count("✓") >= 4
