#!/usr/bin/env bash
# Set up and run the bot (SQLite by default): system packages for chart rendering,
# a virtualenv with etbot, then the bot (which applies the schema migrations and imports
# STATS_DIR if set). Configuration comes from the environment or a .env file (see README).
# Without DISCORD_TOKEN (environment or .env) it runs `etbot demo` instead and says so:
# the bot's answers for a synthetic community, written into ./etbot-demo/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
bash scripts/venv.sh
exec .venv/bin/etbot run --demo-without-token
