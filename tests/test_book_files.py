"""Chapters read the book's stored files (benchmark results) from a checkout or from the installed package;
the tables are parsed by one function."""

import os
import subprocess
import sys

import pytest

import latent_variable_models_util as lvm
from book_notebooks import ROOT
from package_support import copy_package_alone

RESULT = "benchmarks/results/em_speed.md"


def test_read_book_file_reads_from_the_checkout():
    assert lvm.read_book_file(RESULT) == (ROOT / RESULT).read_bytes()


def test_read_book_file_returns_none_for_a_missing_file(monkeypatch):
    monkeypatch.delenv("LVM_BOOK_BASE_URL", raising=False)
    assert lvm.read_book_file("benchmarks/results/no_such_file.md") is None


@pytest.mark.parametrize("bad", ["", "/etc/passwd", None])
def test_read_book_file_rejects_paths_outside_the_repository(bad):
    with pytest.raises(ValueError, match="relative_path must be a path inside the repository"):
        lvm.read_book_file(bad)


def _alone(tmp_path, env_extra):
    """Run read_book_file from a copy of the package without the book's files, in an empty folder."""
    copy_package_alone(tmp_path / "lib")
    env = {k: v for k, v in os.environ.items() if k not in ("LVM_BOOK_ROOT", "LVM_BOOK_BASE_URL")}
    env.update(env_extra, PYTHONPATH=str(tmp_path / "lib"))
    (tmp_path / "work").mkdir()
    code = ("import latent_variable_models_util as l, sys; "
            f"data = l.read_book_file({RESULT!r}); sys.stdout.write('NONE' if data is None else str(len(data)))")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "work", env=env, capture_output=True,
                          text=True, check=True).stdout


def test_read_book_file_finds_nothing_and_downloads_nothing_without_the_files(tmp_path):
    assert _alone(tmp_path, {"LVM_BOOK_BASE_URL": ROOT.as_uri()}) == "NONE"


def test_read_book_file_reads_under_lvm_book_root(tmp_path):
    assert _alone(tmp_path, {"LVM_BOOK_ROOT": str(ROOT)}) == str(len((ROOT / RESULT).read_bytes()))


def test_benchmark_tables_reads_every_table_with_its_column_titles():
    speed = lvm.benchmark_tables(lvm.benchmark_markdown(RESULT))
    main = speed[0]
    assert list(main[0])[:3] == ["N", "D", "C"] and main[0]["N"] == "1e+04"
    assert all(set(row) == set(main[0]) for row in main)          # no alignment row, no ragged row
    scale = lvm.benchmark_tables((ROOT / "benchmarks/results/scale.md").read_text())
    quantities = {row["quantity"]: row["value"] for row in scale[1]}
    assert "measured memory read bandwidth" in quantities
    assert lvm.benchmark_tables("no table here") == []
    with pytest.raises(ValueError, match="markdown must be the text of a benchmark result"):
        lvm.benchmark_tables(None)


def test_benchmark_markdown_drops_the_title_and_keeps_the_tables():
    text = lvm.benchmark_markdown(RESULT)
    assert not any(line.startswith("# ") for line in text.splitlines())
    assert "| N | D | C |" in text
    assert "**" in text  # the file's sub-headings, as bold lines
