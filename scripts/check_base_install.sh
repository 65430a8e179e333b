#!/usr/bin/env bash
# What a user with no extras sees: build the wheel, install it alone (torch pinned to the
# CPU build) in a fresh venv, and check every entry point either works or names the extra
# it needs, without a traceback. A few minutes (it installs torch); not part of check.sh,
# whose tests simulate the missing packages instead (tests/test_extras.py).
# Usage: bash scripts/check_base_install.sh [VENV_DIR]   (default: a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
venv="${1:-$work/venv}"
trap 'rm -rf "$work"' EXIT
python="${PYTHON:-python3}"
echo "== building the wheel" >&2
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" .
echo "== installing it alone into $venv" >&2
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -c constraints.txt "$work"/dist/priomem-*.whl
# A venv given again keeps its packages: this wheel replaces any priomem already in it.
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall "$work"/dist/priomem-*.whl
"$venv/bin/pip" uninstall --quiet --yes langchain-core >/dev/null 2>&1 || true
export PRIOMEM_PATH="$work/store" PRIOMEM_CACHE_DIR="$work/cache" PRIOMEM_EMBEDDER=hash
unset PRIOMEM_URL PRIOMEM_NAMESPACE
failed=0
expect() {  # expect EXIT_CODE TEXT -- COMMAND...: the command exits so, says TEXT, no traceback
  local code="$1" text="$2"; shift 3
  local out rc=0
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" != "$code" ] || ! grep -qF -- "$text" <<<"$out" || grep -q Traceback <<<"$out"; then
    echo "FAIL: $* (exit $rc, expected $code and '$text'):" >&2; echo "$out" | tail -5 >&2; failed=1
  else
    echo "ok: $* -> exit $rc: $(grep -F -- "$text" <<<"$out" | head -1)"
  fi
}
expect_import_error() {  # expect_import_error TEXT STATEMENT: Python's ImportError naming TEXT
  local text="$1" out last rc=0
  out="$("$B/python" -c "$2" 2>&1)" || rc=$?
  last="$(tail -1 <<<"$out")"
  if [ "$rc" != 1 ] || [[ "$last" != ImportError:* ]] || ! grep -qF -- "$text" <<<"$last"; then
    echo "FAIL: $2 (exit $rc, expected an ImportError naming '$text'):" >&2; echo "$out" | tail -5 >&2; failed=1
  else
    echo "ok: $2 -> $last"
  fi
}
B="$venv/bin"
expect 0 "priomem 0." -- "$B/priomem" --version
expect 0 "remembered" -- "$B/priomem" remember "the base install works"
expect 0 "the base install works" -- "$B/priomem" recall "base install"
expect 0 "embedder: hash" -- "$B/priomem" doctor
expect 2 "pip install 'priomem[mcp]'" -- "$B/priomem-mcp"
expect 1 "pip install 'priomem[ui]'" -- "$B/priomem" ui
expect_import_error "pip install 'priomem[langchain]'" "from priomem.adapters.langchain import make_memory_tools"
expect_import_error "pip install 'priomem[langgraph]'" "from priomem.adapters.langgraph import PriomemStore"
expect 0 "" -- "$B/python" -c "import priomem, priomem.tools; priomem.MemoryEngine"
# A modern LangChain v1 setup has langchain-core but not langchain-classic: tools and the
# retriever work, the classic memory names its extra.
echo "== adding langchain-core alone" >&2
"$B/pip" install --quiet --disable-pip-version-check -c constraints.txt "langchain-core>=1,<2"
expect 0 "tools ok" -- "$B/python" -c "from priomem.adapters.langchain import make_memory_tools, PriomemRetriever; print('tools ok')"
expect_import_error "pip install 'priomem[langchain]'" "from priomem.adapters.langchain import PriomemMemory"
exit "$failed"
