#!/usr/bin/env bash
# Set up and run the bot (SQLite by default): system packages for chart rendering,
# a virtualenv with etbot, the schema, an import of STATS_DIR if set, then the bot.
# Configuration comes from the environment or a .env file (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/venv.sh
.venv/bin/etbot migrate
exec .venv/bin/etbot run
