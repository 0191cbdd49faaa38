# The two set-up commands of the README: `make demo` and `make test`.
# Each creates .venv (with the interpreter named by PYTHON) and installs what it needs:
# the demo only the core, the command line and the dashboard (seconds); the tests the
# `dev` extra, the browser and the store emulators (minutes, once).
# `make docs` builds the documentation site into .cache/site (make test does too).
# `make bench` runs benchmarks/run.py with the heavier `bench` extra (BENCH_ARGS=--quick...).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
DEMO_STAMP := $(VENV)/.installed-demo
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint docs services bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[cli,dashboard]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m resulttracker.demo

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) --upgrade pip
	$(PIP) -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

# Chromium (Debian's package) and the store emulators the tests start on loopback.
services: $(STAMP)
	scripts/install-test-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src

# The documentation site, strictly: a broken reference in a page or a docstring fails.
# Not --quiet: it drops the warnings before strict mode counts them, and the build
# passes whatever is broken (mkdocs issue 4126).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir .cache/site

test: lint docs services
	$(BIN)/python -m pytest

# A separate stamp: the bench extra (MLflow, Optuna...) is installed only when asked for.
$(BENCH_STAMP): $(STAMP)
	$(PIP) -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
