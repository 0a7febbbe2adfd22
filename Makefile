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

# Every benchmark in one run; its tables also go to benchmarks/latest.md (regenerated each run)
bench: .stamp-test
	$(BIN)/pip install --quiet -e '.[bench]'
	@printf '# Benchmarks: the latest `make bench`\n\nRun on %s, %s cores.\n\n' "$$(date -u '+%Y-%m-%d %H:%M UTC')" "$$(nproc)" > benchmarks/latest.md
	@for run in "dispatch.py" "dispatch.py --backlog 0 1000000 3000000" "media.py" "contention.py" "cli.py"; do \
		printf '## benchmarks/%s\n\n```\n' "$$run" >> benchmarks/latest.md; \
		$(BIN)/python benchmarks/$$run 2>&1 | tee -a benchmarks/latest.md || exit 1; \
		printf '```\n\n' >> benchmarks/latest.md; \
	done

clean:
	rm -rf $(VENV) var .stamp-* .mypy_cache .ruff_cache .pytest_cache
