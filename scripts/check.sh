#!/usr/bin/env bash
# Install priomem with every extra and the dev tools, then run the whole check:
# format, lint, types (strict on src/), and the test suite with warnings as errors.
# Extra arguments go to pytest (e.g. bash scripts/check.sh -k recall).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh all,dev
. .venv/bin/activate
echo "== ruff format" >&2
ruff format --check --quiet src tests benchmarks examples
echo "== ruff check" >&2
ruff check --quiet src tests benchmarks examples
echo "== mypy (strict on src/)" >&2
mypy
echo "== pytest" >&2
python -m pytest -q "$@"   # warnings are errors: see filterwarnings in pyproject.toml
