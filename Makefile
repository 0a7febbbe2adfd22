# The two commands: `make demo` and `make test`. Both set everything up on a fresh machine
# that has Python 3.11+ (a virtual environment in .venv, dependencies from PyPI).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

.stamp-install: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

.stamp-test: .stamp-install
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

demo: .stamp-install
	$(BIN)/crosspost demo

test: .stamp-test
	@bash scripts/test.sh

lint: .stamp-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: .stamp-test
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/dispatch.py
	$(BIN)/python benchmarks/media.py
	$(BIN)/python benchmarks/contention.py
	$(BIN)/python benchmarks/cli.py

clean:
	rm -rf $(VENV) var .stamp-* .mypy_cache .ruff_cache .pytest_cache
