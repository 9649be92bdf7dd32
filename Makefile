# The README's two commands: `make bench` (the main job) and `make test`.
# Each creates .venv on first use and installs the project with the pinned versions in
# constraints.txt; it reinstalls only when setup.cfg, pyproject.toml or constraints.txt change.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help bench bench-full test test-thorough lint notebooks clean

help:                      ## list the targets (the README's two commands are `make bench` and `make test`)
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  options go through ARGS, e.g. make bench ARGS=\"--only two_layer --device cpu\""

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,bench,lint,notebooks]'
	touch $(STAMP)

bench: $(STAMP)            ## quick benchmark sweep on this machine (about two minutes on 2 CPU cores)
	$(PY) -m benchmarks --quick $(ARGS)

bench-full: $(STAMP)       ## the full sweep (says how long before it starts)
	$(PY) -m benchmarks $(ARGS)

test: $(STAMP)             ## the equivalence tests, derandomized (hypothesis profile `ci`)
	$(PY) -m pytest $(ARGS)

lint: $(STAMP)             ## ruff: pyflakes, pycodestyle (lines <= 100), import order, bugbear; and its format
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

notebooks: $(STAMP)        ## the study path: run every chapter into notebooks/executed/*.ipynb, outputs and figures in place
	$(PY) -m notebooks $(ARGS)

test-thorough: $(STAMP)    ## many more hypothesis examples, fresh random draws each run
	$(PY) -m pytest --hypothesis-profile=thorough $(ARGS)

clean:                     ## remove .venv and the caches (the next command reinstalls)
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
