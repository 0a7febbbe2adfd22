#!/usr/bin/env bash
# Lint, type-check and run the whole suite with a reachable Redis:
# the machine's on 127.0.0.1:6379 if it answers, else a private redis-server started here.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/ensure_chromium.sh
eval "$($BIN/python scripts/ensure_redis.py start)"
trap '$BIN/python scripts/ensure_redis.py stop' EXIT

$BIN/ruff check .
$BIN/ruff format --check .
$BIN/mypy
# two workers (pytest-xdist; a core each on the 2-core machines): most tests wait on processes,
# servers and sockets more than they compute. Packaging tests stay on one worker (loadgroup).
$BIN/pytest -n "${CROSSPOST_TEST_WORKERS:-2}" --dist loadgroup "$@"
