#!/usr/bin/env bash
# Set up (idempotent), lint (ruff, mypy) and run the whole test suite, conformance included
# (what CI runs).
#
#   bash scripts/test.sh [PYTEST ARGS...]          everything
#   bash scripts/test.sh --fast [PYTEST ARGS...]   the edit-test loop (19-20 s on 2 cores, one
#       pytest-xdist worker per core): deselects the
#       tests marked `slow` (RSA-3072/4096 keygen, wheel build, real TUF data, conformance
#       runner, 256 MiB memory test, property-test modules) and `subprocess` (tests whose point
#       is a real child process), and caps every other Hypothesis test at 25 examples
#       (AIRSEAL_FAST_TESTS=1, see tests/conftest.py). Markers are listed in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
args=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then fast=1; else args+=("$arg"); fi
done
bash scripts/setup.sh
# Rules that run: lint (with import order) and strict typing of verifier/ and hsm/.
.venv/bin/ruff check --quiet .
.venv/bin/mypy --no-error-summary
if [ "$fast" = 1 ]; then
  export AIRSEAL_FAST_TESTS=1
  exec .venv/bin/python -m pytest -q -n auto -m "not slow and not subprocess" ${args[@]+"${args[@]}"}
fi
exec .venv/bin/python -m pytest -q ${args[@]+"${args[@]}"}
