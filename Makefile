# Two commands for a fresh machine:  make book  |  make test
# Each installs what it needs (a virtual environment in .venv from the exact pins
# of requirements.txt). Other targets: execute, student, bench, linkcheck, clean.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQ_STAMP := $(VENV)/.requirements-installed

# One BLAS thread, so that stored outputs are reproduced to the last printed digit.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test execute student bench linkcheck clean check-python deps

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "error: this book needs Python 3.11 or newer (the pinned numpy/scipy/scikit-learn do);" >&2; \
	  echo "       '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing). Run e.g. 'make PYTHON=python3.12 test'." >&2; \
	  exit 1; }

$(REQ_STAMP): requirements.txt | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

deps: $(REQ_STAMP)

book: $(REQ_STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@test -f _build/html/index.html || { echo "error: the build wrote no _build/html/index.html" >&2; exit 1; }

test: book
	$(PY) -m pytest tests -p no:cacheprovider
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $$($(PY) scripts/book_notebooks.py)

execute: $(REQ_STAMP)
	$(PY) scripts/sync_setup_cell.py
	$(PY) scripts/execute_notebooks.py

clean:
	rm -rf _build build test-artifacts
