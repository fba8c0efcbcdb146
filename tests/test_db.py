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
