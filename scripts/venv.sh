#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install etbot into it; EXTRAS selects extras.
#   EXTRAS=test bash scripts/venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${EXTRAS:-postgres}]"
