#!/usr/bin/env bash
# Set everything up on a fresh clone, then check: ruff (lint), mypy (src/), and pytest (the
# tests and the docstring examples in src/ipinsights).
#   bash scripts/test.sh [--fast] [pytest arguments]
# --fast leaves out the tests marked slow (real servers, PostgreSQL, subprocess trainings,
# tuning jobs, fresh installs) and does not start PostgreSQL: a few minutes instead of ~11.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
if [ "${1:-}" = "--fast" ]; then
    fast=1
    shift
fi
bash scripts/bootstrap.sh
if [ "$fast" -eq 0 ]; then
    bash scripts/postgres.sh  # a real PostgreSQL server for the distributed-tuning tests
fi
echo "test.sh: ruff check"
.venv/bin/ruff check .
echo "test.sh: mypy src"
.venv/bin/mypy src
marker=()
if [ "$fast" -eq 1 ]; then
    marker=(-m "not slow")
fi
set +e
.venv/bin/python -m pytest "${marker[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"
