"""Write the Colab set-up cell (rendered from _config.yml) into every notebook.

Run after changing ``repository`` in ``_config.yml`` or the template
``scripts/colab_setup_cell.py.in``; then ``make execute``. With ``--check`` it
only reports notebooks whose first cell differs, and exits 1 if any does.
"""

import sys

import nbformat

from book_notebooks import SETUP_TAG, notebooks, setup_cell_source


def main(argv):
    check = "--check" in argv
    source = setup_cell_source()
    stale = []
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and first.cell_type == "code" and SETUP_TAG in first.metadata.get("tags", []):
            if first.source == source:
                continue
            first.source = source
        else:
            cell = nbformat.v4.new_code_cell(source)
            cell.metadata["tags"] = [SETUP_TAG]
            nb.cells.insert(0, cell)
        stale.append(path)
        if not check:
            nbformat.write(nb, path)
    for path in stale:
        print(("differs: " if check else "updated: ") + str(path))
    return 1 if (check and stale) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
