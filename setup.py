"""Build step that pyproject.toml cannot express: copy the book's data files into the package.

``lvmbook.book_files`` reads stored results and data (``BOOK_FILES``) from the package's
``book_data/`` folder when it is installed, and from the checkout otherwise, so the repository
keeps a single copy of each file. An editable install (``pip install -e .``) reads the checkout
and copies nothing.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: Files of the repository that the library reads (read_book_file, load_faithful).
BOOK_FILES = ["book/data/faithful.csv", "book/data/README.md", "benchmarks/results/em_speed.md",
              "benchmarks/results/em_speedup.png", "benchmarks/results/scale.md", "benchmarks/results/scale.png"]


class BuildWithBookFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for relative in BOOK_FILES:
            target = Path(self.build_lib) / "lvmbook" / "book_data" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            self.copy_file(str(ROOT / relative), str(target))


setup(cmdclass={"build_py": BuildWithBookFiles})
