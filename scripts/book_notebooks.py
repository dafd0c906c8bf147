"""Shared knowledge about the book's notebooks, used by scripts/ and tests/.

- ``toc_entries()``: the files listed in ``_toc.yml``, in reading order.
- ``notebooks()``: the chapter notebooks (``.ipynb``) among them.
- ``repository_and_ref()``: the GitHub ``owner/name`` and pinned ref from ``_config.yml``.
- ``setup_cell_source()``: the Colab set-up cell every notebook starts with,
  rendered from ``scripts/colab_setup_cell.py.in`` and ``_config.yml``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETUP_TAG = "remove-cell"


def _load_yaml(name):
    return yaml.safe_load((ROOT / name).read_text())


def toc_entries(root=None):
    """Paths (relative to ``root``, the book's root by default, without suffix) of every
    ``_toc.yml`` entry, in reading order."""
    toc = yaml.safe_load((Path(root or ROOT) / "_toc.yml").read_text())
    entries = [toc["root"]]

    def walk(items):
        for item in items or []:
            if "file" in item:
                entries.append(item["file"])
            walk(item.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return entries


def notebooks():
    """The ``.ipynb`` files of the book, in reading order, as absolute paths."""
    return [ROOT / f"{e}.ipynb" for e in toc_entries() if (ROOT / f"{e}.ipynb").exists()]


def repository_and_ref():
    """``("owner/name", ref)`` from the ``repository`` section of ``_config.yml``."""
    repo = _load_yaml("_config.yml")["repository"]
    url = repo["url"].rstrip("/")
    prefix = "https://github.com/"
    if not url.startswith(prefix):
        raise ValueError(f"_config.yml repository.url must start with {prefix}; got {url}")
    return url[len(prefix):], str(repo["branch"])


def setup_cell_source():
    """The exact source of the first cell of every notebook."""
    repository, ref = repository_and_ref()
    text = (ROOT / "scripts" / "colab_setup_cell.py.in").read_text()
    return text.replace("@REPOSITORY@", repository).replace("@REF@", ref).rstrip("\n")


if __name__ == "__main__":
    # Print the notebook paths, relative to the root, one per line (used by the Makefile).
    print("\n".join(str(p.relative_to(ROOT)) for p in notebooks()))
