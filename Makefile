# The two commands of README.md (book, test), and a fast library-only check. All create or reuse .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test test-fast lint bench publish-ready clean

book: $(STAMP)
	$(PY) -m ncutils.book build --profile cpu

test: lint
	$(PY) -m pytest -q

test-fast: lint
	$(PY) -m pytest -q -m "not book"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

publish-ready: $(STAMP)
	$(PY) -m ncutils.book publish --profile cpu

bench: $(STAMP)
	$(PY) -m bench.empirical_ntk

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { echo "error: Python 3.11 is needed (found '$(PYTHON)'): install it, or run make PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

clean:
	rm -rf _build book/_executed
