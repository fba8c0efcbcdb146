#!/usr/bin/env bash
# Set up everything and run the whole test suite (SQLite + PostgreSQL + rendering).
# Works on a fresh Debian/Ubuntu machine with Python 3.11 and apt (root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh postgres
EXTRAS=test bash scripts/venv.sh

# A throwaway PostgreSQL cluster on a free loopback port, removed on exit.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDIR=$(mktemp -d /tmp/etbot-pg.XXXXXX)
PGPORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then chown postgres "$PGDIR"; AS_PG=(runuser -u postgres --); fi
cleanup() { "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
"${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U etbot --auth=trust -E UTF8 >/dev/null
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
  -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
"${AS_PG[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U etbot etbot_test
export ETBOT_TEST_POSTGRES_URL="postgresql://etbot@127.0.0.1:$PGPORT/etbot_test"

# In parallel, one worker per core (ETBOT_TEST_WORKERS=0: in this process); a test file's
# tests stay together on one worker, so its module-scoped corpus database is built once.
.venv/bin/python -m pytest -n "${ETBOT_TEST_WORKERS:-auto}" --dist loadfile "$@"
