# Two commands for a fresh machine:  make book  |  make test
# Each installs what it needs (a virtual environment in .venv from the exact pins
# of requirements.txt). Other targets: execute, student, bench, linkcheck, clean.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQ_STAMP := $(VENV)/.requirements-installed
# Otter-Grader's own environment for the graded homework (see `course` below); defined
# here because `test` names it as a prerequisite.
COURSE_VENV := build/course-venv
COURSE_STAMP := $(COURSE_VENV)/.requirements-installed

# One BLAS thread, so that stored outputs are reproduced to the last printed digit.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test check nbval execute student bench linkcheck clean check-python deps mathjax browser test-oldest tex pdf slides course

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "error: this book needs Python 3.11 or newer (the pinned numpy/scipy/scikit-learn do);" >&2; \
	  echo "       '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing). Run e.g. 'make PYTHON=python3.12 test'." >&2; \
	  exit 1; }

# The exact pins, then the book's own package (lvmbook and the facade) installed editable:
# it runs from this checkout, and pyproject.toml is checked on every fresh environment.
$(REQ_STAMP): requirements.txt pyproject.toml setup.py | check-python
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

deps: $(REQ_STAMP)

# MathJax 3, served by the web book itself (no CDN; see mathjax_path and html_extra_path in
# _config.yml). npm ci installs the exact version of package-lock.json into node_modules/;
# only what the pages use is staged for the site: the tex-chtml-full component (every TeX
# package built in, so nothing is fetched on demand), its web fonts and its licence.
MATHJAX_SRC := node_modules/mathjax
MATHJAX_SITE := build/site_assets/_static/mathjax
MATHJAX_STAMP := $(MATHJAX_SITE)/tex-chtml-full.js

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm (Node.js) is needed to install MathJax for the book: apt-get install -y npm" >&2; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

$(MATHJAX_STAMP): node_modules/.package-lock.json
	rm -rf $(MATHJAX_SITE)
	mkdir -p $(MATHJAX_SITE)/output/chtml/fonts
	cp -r $(MATHJAX_SRC)/es5/output/chtml/fonts/woff-v2 $(MATHJAX_SITE)/output/chtml/fonts/
	cp $(MATHJAX_SRC)/LICENSE $(MATHJAX_SITE)/LICENSE
	cp $(MATHJAX_SRC)/es5/tex-chtml-full.js $@

mathjax: $(MATHJAX_STAMP)

# Debian's Chromium, driven by Playwright in tests/test_browser.py (never a browser download).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: the browser tests need /usr/bin/chromium; run 'apt-get update && apt-get install -y chromium' as root" >&2; exit 1; fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

book: $(REQ_STAMP) $(MATHJAX_STAMP)
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@test -f _build/html/index.html || { echo "error: the build wrote no _build/html/index.html" >&2; exit 1; }

# The PDF of the whole book (scripts/build_pdf.py): Jupyter Book's LaTeX route with XeLaTeX
# and latexmk from Debian's TeX Live, installed here when missing (as root, like chromium).
TEX_PACKAGES := texlive-xetex latexmk texlive-latex-extra texlive-fonts-recommended \
  texlive-plain-generic fonts-freefont-otf fonts-lmodern poppler-utils
tex:
	@{ command -v xelatex && command -v latexmk && command -v pdftotext && kpsewhich ucharclasses.sty pgfplots.sty \
	   && fc-list | grep -q FreeSerif; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "error: the PDF needs TeX Live; run 'apt-get update && apt-get install -y $(TEX_PACKAGES)' as root" >&2; exit 1; fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEX_PACKAGES); }

pdf: $(REQ_STAMP) tex
	$(PY) scripts/build_pdf.py

# One reveal.js deck per chapter (scripts/build_slides.py) in _build/html/slides/, with
# reveal.js and MathJax from node_modules (package-lock.json): nothing from a CDN.
slides: $(REQ_STAMP) node_modules/.package-lock.json
	$(PY) scripts/build_slides.py

test: book browser pdf slides $(COURSE_STAMP)
	LVM_FULL_TEST=1 $(PY) -m pytest tests -p no:cacheprovider
	$(MAKE) nbval

# Every notebook re-run and compared with its stored outputs, on this machine's CPU.
nbval: $(REQ_STAMP)
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $$($(PY) scripts/book_notebooks.py)

# The quick inner loop (a few minutes): the unit tests and nbval, without the browser,
# the Colab runtimes, the other CPU kernels, the PDF, the slides and the course.
SLOW_TESTS := test_browser test_colab test_colab_runtimes test_cpu_independence test_figures \
  test_student_edition test_pdf test_slides test_course test_make_targets test_book_build
check: $(REQ_STAMP)
	$(PY) -m pytest tests -p no:cacheprovider $(foreach t,$(SLOW_TESTS),--ignore=tests/$(t).py)
	$(MAKE) nbval

execute: $(REQ_STAMP)
	$(PY) scripts/sync_setup_cell.py
	$(PY) scripts/execute_notebooks.py

# Timing of one EM iteration against scikit-learn (minutes; not part of `make test`), then EM at
# scale: in memory vs Dask, and N = 1e8 streamed (tens of minutes on two cores). BLAS may use
# every core here: the global one-thread settings above are for reproducible notebook outputs.
bench: $(REQ_STAMP)
	env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS -u MKL_NUM_THREADS -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
	  $(PY) benchmarks/bench_em.py
	env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS -u MKL_NUM_THREADS -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
	  $(PY) benchmarks/bench_scale.py

# The student edition: solution cells stubbed, solutions removed, notebooks run, HTML book in
# build/student/_build/html (scripts/make_student_edition.py; the sources are never copied by hand).
student: $(REQ_STAMP) $(MATHJAX_STAMP)
	$(PY) scripts/make_student_edition.py --out build/student

# Graded homework (course/, see book/instructor_guide.md): student notebooks, Gradescope
# autograders and solutions under build/course/. Otter-Grader has its own environment from
# the exact pins of tests/requirements-course.txt (it needs a newer ipywidgets than Colab's,
# so it stays out of requirements.txt); tests/test_course.py grades with it.
$(COURSE_STAMP): tests/requirements-course.txt | check-python
	rm -rf $(COURSE_VENV)
	$(PYTHON) -m venv $(COURSE_VENV)
	$(COURSE_VENV)/bin/python -m pip install --quiet -r tests/requirements-course.txt
	@touch $@

course: $(COURSE_STAMP)
	$(COURSE_VENV)/bin/python course/build_course.py --out build/course

# Optional, not in `make test` nor CI (it downloads ~150 MB of old wheels): every chapter
# run alone as in Colab with the lowest library versions README.md supports, on Python 3.10.
OLDEST_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) python3.10)
OLDEST_VENV := build/oldest-venv

$(OLDEST_VENV)/.installed: tests/requirements-oldest.txt
	@$(OLDEST_PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null || { \
	  echo "error: test-oldest needs Python 3.10; run e.g. 'make test-oldest OLDEST_PYTHON=/path/to/python3.10'" >&2; exit 1; }
	rm -rf $(OLDEST_VENV)
	$(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet -r tests/requirements-oldest.txt
	@touch $@

test-oldest: $(REQ_STAMP) $(OLDEST_VENV)/.installed
	LVM_OLDEST_PYTHON=$(abspath $(OLDEST_VENV))/bin/python $(PY) -m pytest tests/test_colab.py -p no:cacheprovider -k oldest

# External links, where there is internet (not part of `make test` nor of CI).
linkcheck: $(REQ_STAMP) $(MATHJAX_STAMP)
	$(VENV)/bin/jupyter-book build . --builder linkcheck

clean:
	rm -rf _build build test-artifacts
