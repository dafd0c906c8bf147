"""Chapters read the book's stored files (benchmark results) from a checkout or, alone, by download."""

import os
import subprocess
import sys

import pytest

import latent_variable_models_util as lvm
from book_notebooks import ROOT

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


def _alone(tmp_path, base_url):
    """Run read_book_file from a copy of the module alone in tmp_path, as in Colab."""
    (tmp_path / "latent_variable_models_util.py").write_bytes((ROOT / "latent_variable_models_util.py").read_bytes())
    env = {k: v for k, v in os.environ.items() if k not in ("LVM_BOOK_ROOT", "LVM_BOOK_BASE_URL")}
    env["LVM_BOOK_BASE_URL"] = base_url
    code = ("import latent_variable_models_util as l, sys; "
            f"data = l.read_book_file({RESULT!r}); sys.stdout.write('NONE' if data is None else str(len(data)))")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=True).stdout


def test_read_book_file_downloads_when_the_module_is_alone(tmp_path):
    assert _alone(tmp_path, ROOT.as_uri()) == str(len((ROOT / RESULT).read_bytes()))


def test_read_book_file_returns_none_when_the_download_fails(tmp_path):
    assert _alone(tmp_path, (tmp_path / "nowhere").as_uri()) == "NONE"


def test_benchmark_markdown_drops_the_title_and_keeps_the_tables():
    text = lvm.benchmark_markdown(RESULT)
    assert not any(line.startswith("# ") for line in text.splitlines())
    assert "| N | D | C |" in text
    assert "**" in text  # the file's sub-headings, as bold lines
