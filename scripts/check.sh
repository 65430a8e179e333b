#!/usr/bin/env bash
# Install priomem with every extra and the dev tools, then run the whole check:
# format, lint, types (strict on src/), and the test suite with warnings as errors.
# Extra arguments go to pytest (e.g. bash scripts/check.sh -k recall).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh all,dev
# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "== installing chromium for the browser tests" >&2
  if [ "$(id -u)" = 0 ]; then apt=(apt-get); else apt=(sudo -n apt-get); fi
  ("${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium (apt-get install chromium as root); the browser tests will fail" >&2
fi
. .venv/bin/activate
echo "== ruff format" >&2
ruff format --check --quiet src tests benchmarks examples
echo "== ruff check" >&2
ruff check --quiet src tests benchmarks examples
echo "== mypy (strict on src/)" >&2
mypy
echo "== pytest" >&2
python -m pytest -q "$@"   # warnings are errors: see filterwarnings in pyproject.toml
