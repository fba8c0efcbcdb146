"""Database connection, migrations, retry on lock, and async access.

Design: the domain layer (ingest and the feature queries) is plain synchronous peewee code
shared by the CLI, the benchmarks and the bot. The bot runs it off the event loop with
:meth:`Db.run`, a small thread pool; peewee keeps one connection per thread. This was
chosen over ``playhouse.pwasyncio`` because that API needs every query written in its
async form (or bridged through greenlets), which would split the domain layer in two.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from peewee import Database, OperationalError, PostgresqlDatabase, SqliteDatabase

from etbot.models import ALL_MODELS, database_proxy

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10_000,  # ms: wait for a writer instead of failing at once
    "foreign_keys": 1,
    "synchronous": "normal",  # safe with WAL; a crash loses at most the last commit
    "cache_size": -64_000,  # 64 MB page cache
    "temp_store": "memory",
}


class DatabaseUrlError(ValueError):
    pass


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``postgresql://u:***@host/db``): the
    only form of a database URL that messages and log lines may show.

    Everything between ``://`` and the last ``@`` is the user information, so a password
    holding an unencoded ``@`` or ``/`` is hidden completely too.
    """
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:
        return url
    user, colon, _password = rest[:at].partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{rest[at + 1 :]}"


def url_secrets(url: str) -> list[str]:
    """The parts of a database URL that must never be shown: its password, as written and
    decoded (empty when it has none)."""
    _scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:
        return []
    _user, colon, password = rest[:at].partition(":")
    if not colon or not password:
        return []
    return sorted({password, unquote(password)}, key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with ``url`` and its password hidden."""
    if url:
        text = text.replace(url, redact_url(url))
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def connect(url: str) -> Database:
    """Create (not yet connect) a peewee database for ``sqlite:///…`` or ``postgresql://…``.

    Raises:
        DatabaseUrlError: the URL is not one of those; the message shows it without its
            password.
    """
    shown = repr(redact_url(url))
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise DatabaseUrlError(f"DATABASE_URL {shown}: expected sqlite:///path/to/file.db")
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10)
    if scheme in ("postgres", "postgresql"):
        if not parsed.path.strip("/"):
            raise DatabaseUrlError(f"DATABASE_URL {shown}: missing database name")
        try:
            port = parsed.port
        except ValueError as exc:  # urllib: "Port out of range 0-65535"
            raise DatabaseUrlError(f"DATABASE_URL {shown}: {exc}") from None
        return PostgresqlDatabase(
            unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname,
            port=port,
            autorollback=True,
        )
    raise DatabaseUrlError(
        f"DATABASE_URL {shown}: unsupported scheme {scheme!r} (use sqlite:/// or postgresql://)"
    )


class DatabaseOpenError(Exception):
    """The database cannot be opened (server unreachable, login refused, unwritable file);
    the message names it without its password, on one line."""


def one_line(text: str) -> str:
    """A (driver's multi-line) message on one line."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def open_database(url: str, *, migrate_schema: bool = True) -> Database:
    """Connect, bind the models and (by default) apply pending migrations.

    Raises:
        DatabaseUrlError: not a database URL etbot understands.
        DatabaseOpenError: the database cannot be reached or opened.
    """
    db = connect(url)
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
    except Exception as exc:  # noqa: BLE001 any driver error: unreachable, refused, unwritable
        reason = one_line(redact(str(exc), url)) or type(exc).__name__
        raise DatabaseOpenError(f"cannot open the database {redact_url(url)!r}: {reason}") from None
    if migrate_schema:
        migrate(db)
    return db


def migrate(db: Database) -> list[str]:
    """Apply pending numbered migrations from ``etbot/migrations``; return their names."""
    from playhouse.migrations import Runner

    runner = Runner(db, directory=str(MIGRATIONS_DIR), table_name="schema_migration")
    applied = runner.up()
    names = [m if isinstance(m, str) else getattr(m, "name", str(m)) for m in applied or []]
    for name in names:
        log.info("applied migration %s", name)
    return names


def as_datetime(value: datetime | str) -> datetime:
    """A timestamp read back from the database: SQLite returns text wherever peewee's
    field conversion does not run (raw SQL, aggregates), PostgreSQL a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def is_postgres() -> bool:
    """True when the bound database is PostgreSQL (for the few backend-specific SQL bits)."""
    return isinstance(database_proxy.obj, PostgresqlDatabase)


def is_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | sqlite3.OperationalError) and (
        "database is locked" in str(exc) or "database is busy" in str(exc)
    )


def retry_locked(fn: Callable[[], T], *, attempts: int = 5, delay: float = 0.2) -> T:
    """Run ``fn`` (a whole transaction) again when SQLite says "database is locked".

    busy_timeout already waits for the other writer; this covers the cases SQLite
    cannot wait for (e.g. a read transaction upgraded to write in WAL mode).
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if not is_locked_error(exc) or attempt == attempts:
                raise
            log.warning("database is locked; retrying (%d/%d)", attempt, attempts)
            time.sleep(delay * attempt)
    raise AssertionError("unreachable")


class Db:
    """Async access to the synchronous domain layer without blocking the event loop."""

    def __init__(self, database: Database, *, workers: int = 2) -> None:
        self.database = database
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="etbot-db")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a DB thread (its own connection) and await it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(self._call, fn, args, kwargs))

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        # One long-lived connection per worker thread (peewee's state is thread-local).
        self.database.connect(reuse_if_open=True)
        return fn(*args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if not self.database.is_closed():
            self.database.close()


def drop_everything(db: Database) -> None:
    """Test helper: remove all tables including the migration history."""
    db.drop_tables(ALL_MODELS, safe=True, cascade=isinstance(db, PostgresqlDatabase))
    db.execute_sql("DROP TABLE IF EXISTS schema_migration")
