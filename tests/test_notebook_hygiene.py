"""Every stored notebook is the record of one clean top-to-bottom run."""

import re

import pytest

from notebook_support import NOTEBOOK_IDS, NOTEBOOKS, code_cells, read

MACHINE_PATH = re.compile(r"/(home|root|tmp|work|usr|opt)/")


def test_the_book_has_chapters():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_execution_counts_are_one_to_n_in_order(path):
    counts = [c.execution_count for c in code_cells(read(path))]
    assert None not in counts, "some code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), counts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_no_stored_error_output(path):
    for i, cell in enumerate(read(path).cells):
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"cell {i} stores an error: {out.get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_no_output_shows_a_machine_path_or_stderr(path):
    for i, cell in enumerate(read(path).cells):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                assert out.name == "stdout", f"cell {i} stores stderr: {out.text[:200]!r}"
                text = out.text
            else:
                text = str(out.get("data", {}).get("text/plain", "")) + str(out.get("data", {}).get("text/html", ""))
            assert not MACHINE_PATH.search(text), f"cell {i} output shows a machine path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_no_object_reprs_with_addresses_are_stored(path):
    for i, cell in enumerate(read(path).cells):
        for out in cell.get("outputs", []):
            text = str(out.get("data", {}).get("text/plain", "")) if "data" in out else out.get("text", "")
            assert " at 0x" not in text, f"cell {i} stores an object repr; end the line with ';'"
