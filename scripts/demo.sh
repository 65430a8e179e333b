#!/usr/bin/env bash
# Install priomem and run its demo: remember a data platform's week, then recall from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh all
export PRIOMEM_PATH="${PRIOMEM_PATH:-$PWD/.demo-store}"
.venv/bin/priomem demo
echo
.venv/bin/priomem recall "orders incident" --since 48h --min-priority high --namespace demo
