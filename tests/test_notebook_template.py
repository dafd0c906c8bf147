"""Every chapter starts the same way: the Colab set-up cell, a title, one seed."""

import re

import pytest

from book_notebooks import SETUP_TAG, repository_and_ref, setup_cell_source
from notebook_support import NOTEBOOK_IDS, NOTEBOOKS, code_cells, colab_only_install, read


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_first_cell_is_the_setup_cell_rendered_from_config(path):
    first = read(path).cells[0]
    assert first.cell_type == "code"
    assert first.source == setup_cell_source(), "run scripts/sync_setup_cell.py, then make execute"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_setup_cell_is_hidden_on_the_web_page(path):
    assert SETUP_TAG in read(path).cells[0].metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_setup_cell_names_the_pinned_repository_and_ref(path):
    repository, ref = repository_and_ref()
    source = read(path).cells[0].source
    assert f'BOOK_REPOSITORY = "{repository}"' in source
    assert f'BOOK_REF = "{ref}"' in source


def test_config_pins_a_ref_not_a_moving_branch():
    _, ref = repository_and_ref()
    assert ref not in {"main", "master", "HEAD"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_second_cell_is_a_title(path):
    second = read(path).cells[1]
    assert second.cell_type == "markdown" and second.source.startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_one_seed_set_near_the_top(path):
    cells = code_cells(read(path))[1:]
    seeds = [i for i, c in enumerate(cells) if re.search(r"^SEED\s*=", c.source, re.M)]
    assert len(seeds) == 1, f"expected one 'SEED = ...' line, found {len(seeds)}"
    assert seeds[0] <= 1, "the seed belongs in the first visible code cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_notebooks_never_install_the_preloaded_libraries(path):
    setup, *cells = code_cells(read(path))
    # The set-up cell installs the book's package only, never its dependencies.
    installs = [line for line in setup.source.splitlines() if re.search(r"\bpip\b.*\binstall\b", line)]
    assert installs and all("--no-deps" in line for line in installs), installs
    for cell in cells:
        if colab_only_install(cell):
            continue  # a package Colab lacks, in Colab only (tests/test_colab.py)
        install = re.search(r"^\s*[!%]\s*(pip|conda|mamba)\s+install|[\"']pip[\"'],\s*[\"']install", cell.source, re.M)
        assert not install, f"chapters must not install packages: {install.group(0)!r}"
