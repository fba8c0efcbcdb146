"""Database set-up: URLs, migrations match the models, retry on lock, async access."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from peewee import OperationalError, SqliteDatabase

from etbot.db import DatabaseUrlError, Db, connect, migrate, open_database, retry_locked
from etbot.models import ALL_MODELS, Player


def test_sqlite_url_uses_wal_and_busy_timeout(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path}/sub/dir/x.db")
    assert isinstance(db, SqliteDatabase)
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()


@pytest.mark.parametrize("url", ["sqlite://", "mysql://x/y", "postgresql://host/", "nonsense"])
def test_bad_urls_are_rejected_clearly(url: str) -> None:
    with pytest.raises(DatabaseUrlError, match="DATABASE_URL"):
        connect(url)


def test_migrations_create_exactly_the_models_schema(db) -> None:
    from playhouse.migrations import _resolve_diff

    diff = _resolve_diff(db, "etbot.models")  # the models vs the migrated database
    # PostgreSQL-only index (text_pattern_ops, so LIKE 'abc%' on the alias names is
    # indexed whatever the collation); peewee models cannot declare operator classes.
    extra = [i for i in diff.drop_indexes if i.name != "alias_name_lower_pattern"]
    diff = diff._replace(drop_indexes=extra)
    assert not any(diff), f"models and migrations differ, write a migration: {diff}"
    assert set(db.get_tables()) >= {m._meta.table_name for m in ALL_MODELS}
    assert migrate(db) == []  # idempotent


def test_retry_locked_retries_only_lock_errors() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return "ok"

    assert retry_locked(flaky, delay=0) == "ok"
    assert len(calls) == 3

    def broken() -> None:
        raise OperationalError("no such table: x")

    with pytest.raises(OperationalError, match="no such table"):
        retry_locked(broken, delay=0)


def test_concurrent_writer_waits_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    db = open_database(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock…
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    Player.create(
        guid="ABCDEF12",
        name="x",
        raw_name="x",
        first_seen="2025-01-01 00:00:00",
        last_seen="2025-01-01 00:00:00",
    )  # …and we wait for it (busy_timeout)
    release.join()
    assert Player.select().count() == 1
    db.close()


async def test_db_run_works_off_the_event_loop(sqlite_db) -> None:
    dbx = Db(sqlite_db)
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def work() -> int:
        seen.append(threading.get_ident())
        return Player.select().count()

    results = await asyncio.gather(*(dbx.run(work) for _ in range(5)))
    assert results == [0] * 5
    assert loop_thread not in seen
    dbx.close()


# --------------------------------------------------------------------------- credentials
# The database password never appears in a message or a log line (issue 12, item 7).


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw123@db.example:5433/etbot", "postgresql://u:***@db.example:5433/etbot"),
        ("postgres://u:p%40ss@h/x", "postgres://u:***@h/x"),
        ("postgresql://u:p@ss/w0rd@h/x", "postgresql://u:***@h/x"),  # unencoded @ and /
        ("postgresql://u@h/x", "postgresql://u@h/x"),
        ("mysql://u:pw123@h/x", "mysql://u:***@h/x"),
        ("sqlite:///etbot.db", "sqlite:///etbot.db"),
        ("nonsense", "nonsense"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    from etbot.db import redact_url

    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url", ["mysql://u:pw123@h/x", "postgresql://u:pw123@host/", "postgresql://u:pw123@h:99999/x"]
)
def test_bad_url_errors_hide_the_password(url: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        connect(url)
    assert "pw123" not in str(caught.value)
    assert "u:***@" in str(caught.value)


# --------------------------------------------------------------------------- concurrent writers
# Issue 12, item 4 (the end-to-end test is tests/test_ingest_concurrent.py).


def test_sqlite_transactions_take_the_write_lock_when_they_begin(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: a transaction that reads first and writes later can never meet a
    commit of another process in between (that stale-snapshot busy error is immediate:
    no busy timeout waits for it)."""
    path = tmp_path / "immediate.db"
    db = open_database(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with db.atomic():
            Player.select().count()  # only a read so far…
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")  # …and yet no other writer may begin
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.execute("COMMIT")
    finally:
        other.close()
        db.close()


def test_retry_locked_outlasts_a_long_writer() -> None:
    """Not four retries and a traceback: retries go on (pauses growing to a few seconds)
    until the budget is spent. A virtual clock: the pauses are counted, not slept."""
    pauses: list[float] = []
    clock = {"now": 0.0}

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock["now"] += seconds

    def now() -> float:
        return clock["now"]

    calls = []

    def busy_for_a_while() -> str:
        calls.append(1)
        if len(calls) <= 30:
            raise OperationalError("database is locked")
        return "ok"

    assert retry_locked(busy_for_a_while, clock=now, sleep=sleep) == "ok"
    assert len(calls) == 31
    assert max(pauses) <= 7.5  # at most RETRY_MAX_DELAY with +50 % jitter
    assert sum(pauses) > 60  # it waited for minutes, as long as a writer could need

    def always_busy() -> None:
        raise OperationalError("database is locked")

    pauses.clear()
    with pytest.raises(OperationalError):
        retry_locked(always_busy, budget=30, clock=now, sleep=sleep)
    assert sum(pauses) <= 30


def test_two_processes_migrate_a_new_database_one_after_the_other(tmp_path: Path) -> None:
    """Two processes opening one new SQLite database at once: one applies the migrations,
    the other finds nothing left to apply (before: a UNIQUE error on schema_migration)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'new.db'}"
    script = (
        "import sys; from etbot.db import open_database; from etbot.models import Player; "
        "open_database(sys.argv[1]); print(Player.select().count())"
    )
    procs = [
        subprocess.Popen(  # noqa: S603 this interpreter, our own script
            [sys.executable, "-c", script, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    assert [out.strip() for out, _ in outs] == [b"0"] * 4


def test_opening_a_new_database_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    """Two processes started together on a new database: the second switched it to WAL
    while the first held its write lock, and SQLite refused at once ("database is locked",
    no busy timeout: it would deadlock), so the second process exited at start-up."""
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")  # a database still in rollback-journal mode
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    try:
        db = open_database(f"sqlite:///{path}", migrate_schema=False)
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()
    finally:
        release.join()
        writer.close()


def test_among_finds_exactly_the_listed_rows_however_many_there_are(db) -> None:
    # More values than SQLite once allowed parameters in a statement (999), strings with
    # quotes and commas, and no values at all.
    from datetime import datetime

    from etbot.db import among

    seen = datetime(2025, 1, 1)
    guids = [f"{i:08X}" for i in range(1500)] + ['QU"O,TE']
    rows = [
        {"guid": g, "name": g, "raw_name": g, "first_seen": seen, "last_seen": seen} for g in guids
    ]
    Player.insert_many(rows).execute()
    ids = {p.guid: p.id for p in Player.select()}
    wanted = [*guids[::3], "NOTTHERE"]

    by_guid = Player.select(Player.guid).where(among(Player.guid, wanted))
    assert sorted(p.guid for p in by_guid) == sorted(guids[::3])
    by_id = Player.select(Player.guid).where(among(Player.id, [ids[g] for g in guids[1::2]]))
    assert sorted(p.guid for p in by_id) == sorted(guids[1::2])
    assert list(Player.select().where(among(Player.id, []))) == []
    assert Player.select().where(~among(Player.id, [])).count() == len(guids)


@pytest.mark.parametrize("largest", [64, 52, 1])
def test_row_chunks_cover_every_row_once_in_few_sizes(largest: int) -> None:
    from etbot.db import row_chunks

    sizes: set[int] = set()
    for count in range(0, 300):
        chunks = list(row_chunks(count, largest))
        # Consecutive, from the first row to the last, none empty or above the largest.
        starts, stops = [a for a, _ in chunks], [b for _, b in chunks]
        assert starts == [0, *stops[:-1]][: len(chunks)]
        assert (stops[-1] if chunks else 0) == count
        assert all(0 < b - a <= largest for a, b in chunks)
        sizes.update(b - a for a, b in chunks)
    # However many rows a batch has: the largest size and powers of two below it.
    assert sizes <= {largest} | {1 << k for k in range(largest.bit_length())}
