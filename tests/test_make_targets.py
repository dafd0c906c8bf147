"""The two commands of the README stop clearly on an unsupported Python."""

import shutil
import stat
import subprocess

import pytest

from book_notebooks import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_refuses_a_python_older_than_3_11(tmp_path):
    fake = tmp_path / "python3.9"
    fake.write_text("#!/bin/sh\n"
                    "case \"$1\" in --version) echo 'Python 3.9.18';; *) exit 1;; esac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = subprocess.run(["make", "-s", "check-python", f"PYTHON={fake}"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "needs Python 3.11 or newer" in result.stderr
    assert "Python 3.9.18" in result.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_accepts_the_running_python():
    import sys

    result = subprocess.run(["make", "-s", "check-python", f"PYTHON={sys.executable}"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
