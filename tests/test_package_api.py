"""The package behind the helper: one public API through the facade, code and chapters tied both ways.

Every public function and class names, in its docstring, the chapter that develops it as
``chapter N (NN_name)`` -- N the chapter's number in the sidebar, NN_name the chapter's file once
the files carry their numbers -- and, where it computes one, the article's equation. The test
resolves each reference: the N-th numbered chapter of ``_toc.yml`` (the chapters are the notebooks,
counted in the order of the table of contents) must be that file, up to its number prefix.
"""

import inspect
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import latent_variable_models_util as lvm
from book_notebooks import ROOT
from notebook_support import EQ_REF, EQ_TAG, markdown_sources
from package_support import package_sources, throwaway_python

CHAPTER_REF = re.compile(r"\b[Cc]hapters?\s+(\d+)\s+\((\d\d)_([a-z0-9_]+)\)")
EQUATION_REF = re.compile(EQ_REF.pattern, re.IGNORECASE)
ARTICLE_NAMES = ["n_true", "mu_true", "sigma_true", "generate_data", "plot_data", "plot_densities",
                 "plot_gmm_plate", "e_step", "m_step", "lower_bound", "random_init_params", "train"]


def numbered_chapters():
    """``{number: stem without its NN_ prefix}``: the notebooks of _toc.yml, in order, from 1."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    stems = [Path(f).name for f in files if (ROOT / f).with_suffix(".ipynb").is_file()]
    return {n: re.sub(r"^\d\d_", "", stem) for n, stem in enumerate(stems, start=1)}


def public_objects():
    """``(module name, name, object)`` for every function and class a package module exports."""
    for module in lvm.MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
                yield module.__name__, name, obj


PUBLIC = list(public_objects())


def test_reference_pattern_reads_a_chapter_and_its_file():
    m = CHAPTER_REF.search("Chapter 10 (10_robust_fast_em), equation (6).")
    assert m.groups() == ("10", "10", "robust_fast_em")
    assert CHAPTER_REF.search("chapters 10\n    (10_robust_fast_em) and 13 (13_em_at_scale)")


@pytest.mark.parametrize("module, name, obj", PUBLIC, ids=[f"{m.split('.')[-1]}.{n}" for m, n, _ in PUBLIC])
def test_public_docstring_names_a_chapter_that_exists(module, name, obj):
    doc = inspect.getdoc(obj) or ""
    refs = CHAPTER_REF.findall(doc)
    assert refs, f"{module}.{name}: the docstring names no chapter as 'chapter N (NN_name)'"
    chapters = numbered_chapters()
    for number, prefix, stem in refs:
        assert int(prefix) == int(number), f"{module}.{name}: chapter {number} written as {prefix}_{stem}"
        assert chapters.get(int(number)) == stem, (
            f"{module}.{name}: chapter {number} of _toc.yml is {chapters.get(int(number))!r}, not {stem!r}")


def test_equations_named_in_docstrings_exist_in_the_book():
    tags = {int(n) for _, text in markdown_sources() for n in EQ_TAG.findall(text)}
    bad = []
    for module, name, obj in PUBLIC:
        for match in EQUATION_REF.finditer(inspect.getdoc(obj) or ""):
            numbers = [int(match.group(1))] + [int(n) for n in re.findall(r"\((\d+)\)", match.group(2) or "")]
            bad += [(f"{module}.{name}", n) for n in numbers if n not in tags]
    assert not bad, bad


def test_every_module_says_what_it_holds_and_which_chapter_develops_it():
    for module in lvm.MODULES:
        assert CHAPTER_REF.search(module.__doc__ or ""), f"{module.__name__}: the docstring names no chapter"


def test_package_modules_are_small_and_the_facade_thin():
    for path in (ROOT / "lvmbook").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 410, f"{path.name} is longer than one sitting"
    assert len((ROOT / "latent_variable_models_util.py").read_text().splitlines()) < 300


def test_code_refers_to_modules_not_to_sections():
    for path in [*(ROOT / "lvmbook").glob("*.py"), ROOT / "latent_variable_models_util.py"]:
        assert not re.search(r"\bsection \d", path.read_text()), f"{path.name} refers to a numbered section"


def test_facade_exports_every_module_public_name_and_the_article_names():
    names = [name for module in lvm.MODULES for name in module.__all__]
    assert set(lvm.__all__) == set(names)
    assert all(getattr(lvm, name) is getattr(module, name) for module in lvm.MODULES for name in module.__all__)
    assert set(ARTICLE_NAMES) <= set(lvm.__all__)
    assert not [name for name in lvm.__all__ if name.startswith("_")]


def test_one_naming_convention_validate_checks_arguments_check_grades():
    validators = [n for n in lvm.__all__ if n.startswith("validate_")]
    graders = [n for n in lvm.__all__ if n.startswith("check_")]
    assert {"validate_data", "validate_responsibilities"} <= set(validators)
    assert all(getattr(lvm, n).__module__ == "lvmbook.validation" for n in validators)
    assert all(getattr(lvm, n).__module__ == "lvmbook.self_checks" for n in graders)


def test_weights_are_called_pi_in_every_fit_result():
    X, _ = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=0)
    fits = [lvm.fit_gmm(X, 3, n_restarts=1, seed=0), lvm.fit_vb_gmm(X, 3, seed=0, max_iter=5)]
    for fit in fits:
        assert fit.pi.shape == (3,) and fit.mu.shape == (3, 2) and fit.sigma.shape == (3, 2, 2)
        assert not hasattr(fit, "weights")


def test_match_components_undoes_a_permutation():
    perm = lvm.match_components(lvm.mu_true[[2, 0, 1]] + 0.01, lvm.mu_true)
    assert perm.tolist() == [1, 2, 0]
    with pytest.raises(ValueError, match="mu must have 3 rows"):
        lvm.match_components(lvm.mu_true[:2], lvm.mu_true)


def test_package_zip_holds_an_importable_copy_of_the_package(tmp_path):
    path = Path(lvm.package_zip(tmp_path))
    names = zipfile.ZipFile(path).namelist()
    assert "latent_variable_models_util.py" in names and "lvmbook/fast_em.py" in names
    code = "import latent_variable_models_util as l, sys; print(l.__file__.startswith(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(path)}, check=True)
    assert out.stdout.strip() == "True"


def test_pip_install_into_a_fresh_venv_gives_the_whole_public_api(tmp_path):
    # A new environment that sees our numpy (and the rest) but not this checkout, nor an editable
    # install of it; the package is built from the checkout and installed without dependencies.
    venv = tmp_path / "venv"
    python = throwaway_python(venv)
    build = tmp_path / "src"
    for name in package_sources():
        (build / name).parent.mkdir(parents=True, exist_ok=True)
        (build / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(build)],
                   check=True, capture_output=True, cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    code = ("import json, latent_variable_models_util as l; "
            "print(json.dumps([l.__file__, sorted(l.__all__), l.load_faithful().shape[0], "
            "len(l.read_book_file('benchmarks/results/em_speed.md'))]))")
    out = subprocess.run([python, "-c", code], cwd=empty, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    where, names, rows, size = json.loads(out.stdout)
    assert Path(where).is_relative_to(venv)
    assert names == sorted(lvm.__all__)
    assert rows == 272 and size == len((ROOT / "benchmarks/results/em_speed.md").read_bytes())
