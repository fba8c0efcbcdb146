#!/usr/bin/env bash
# Install the system packages etbot needs on Debian/Ubuntu (idempotent):
# chromium + fonts for chart rendering (kaleido), and optionally PostgreSQL.
#   bash scripts/setup-system.sh            # chromium + fonts
#   bash scripts/setup-system.sh postgres   # also the PostgreSQL server (tests)
set -euo pipefail
want=(chromium fonts-dejavu-core fonts-liberation)
if [ "${1:-}" = "postgres" ]; then want+=(postgresql); fi
# Debian's own python3 ships venv/ensurepip separately.
if ! "${PYTHON:-python3}" -c 'import ensurepip, venv' >/dev/null 2>&1; then want+=(python3-venv); fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
