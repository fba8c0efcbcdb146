"""Database connection, migrations, retry on lock, and async access.

Design: the domain layer (ingest and the feature queries) is plain synchronous peewee code
shared by the CLI, the benchmarks and the bot. The bot runs it off the event loop with
:meth:`Db.run`, a small thread pool; peewee keeps one connection per thread. This was
chosen over ``playhouse.pwasyncio`` because that API needs every query written in its
async form (or bridged through greenlets), which would split the domain layer in two.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from peewee import (
    SQL,
    ColumnBase,
    Database,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
    Value,
    fn,
)

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
        # BEGIN IMMEDIATE: a transaction takes the write lock when it starts, waiting for
        # another writer (busy_timeout). A deferred one that reads first and writes later
        # would fail at once when another process committed meanwhile (the stale-snapshot
        # "database is locked" no busy timeout can wait for), which is what made two
        # imports on one database crash.
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, lock_type="IMMEDIATE")
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

    def connect_once() -> None:
        try:
            db.connect(reuse_if_open=True)
        except Exception:
            if not db.is_closed():
                db.close()  # a connection whose pragmas failed: open a new one next time
            raise

    try:
        # Switching a new SQLite database to WAL while another process (starting at the
        # same time) holds its write lock fails at once, without a busy timeout: wait and
        # try again, as for any transaction that finds the database locked.
        retry_locked(connect_once)
    except Exception as exc:  # noqa: BLE001 any driver error: unreachable, refused, unwritable
        reason = one_line(redact(str(exc), url)) or type(exc).__name__
        raise DatabaseOpenError(f"cannot open the database {redact_url(url)!r}: {reason}") from None
    if migrate_schema:
        migrate(db)
    return db


#: PostgreSQL advisory lock keys (any 64-bit number; "etbot" in ASCII, then a number).
MIGRATE_LOCK = 0x6574626F74_01
WRITER_LOCK = 0x6574626F74_02


@contextmanager
def _migration_lock(db: Database) -> Iterator[None]:
    """Only one process migrates a database at a time (the others then find nothing to do).

    PostgreSQL: a session advisory lock. SQLite: an exclusive ``flock`` on a lock file
    beside the database (a transaction cannot hold it: SQLite migrations switch foreign
    keys off, which only works outside one).
    """
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            yield
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
        return
    path = str(getattr(db, "database", "") or "")
    if not path or path == ":memory:":
        yield
        return
    import fcntl

    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(db: Database) -> list[str]:
    """Apply pending numbered migrations from ``etbot/migrations``; return their names.

    Safe when several processes start on one database at once: they migrate one after
    the other, and only the first finds anything to apply.
    """
    from playhouse.migrations import Runner

    with _migration_lock(db):
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


def as_date(value: date | datetime | str) -> date:
    """A day read back from the database (SQLite gives text for computed columns and raw
    SQL, PostgreSQL a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def is_postgres() -> bool:
    """True when the bound database is PostgreSQL (for the few backend-specific SQL bits)."""
    return isinstance(database_proxy.obj, PostgresqlDatabase)


def is_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | sqlite3.OperationalError) and (
        "database is locked" in str(exc) or "database is busy" in str(exc)
    )


#: How long :func:`retry_locked` keeps trying by default: longer than any other writer
#: (an import batch, a rating rebuild) holds the lock.
RETRY_BUDGET_SECONDS = 600.0
#: The longest pause between two attempts.
RETRY_MAX_DELAY = 5.0


def retry_locked(
    fn: Callable[[], T],
    *,
    attempts: int | None = None,
    delay: float = 0.2,
    budget: float = RETRY_BUDGET_SECONDS,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], object] | None = None,
) -> T:
    """Run ``fn`` (a whole transaction) again when SQLite says "database is locked".

    Transactions begin IMMEDIATE and busy_timeout makes each of them wait up to 10 s for
    another writer, so this is for a writer that holds the lock longer: pauses grow from
    ``delay`` (doubling, with jitter so that waiting processes do not collide again, at
    most :data:`RETRY_MAX_DELAY`) until ``budget`` seconds have passed (or ``attempts``
    were made, when given). ``clock`` and ``sleep`` default to :func:`time.monotonic`
    and :func:`time.sleep` (tests pass a virtual clock).
    """
    now = clock or time.monotonic
    started = now()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not is_locked_error(exc):
                raise
            pause = min(delay * 2 ** min(attempt - 1, 20), RETRY_MAX_DELAY)
            pause *= 0.5 + random.random()  # noqa: S311 jitter, not cryptography
            waited = now() - started
            if (attempts is not None and attempt >= attempts) or waited + pause > budget:
                raise
            log.warning(
                "database is locked by another writer; retrying in %.1f s (attempt %d, %.0f s)",
                pause,
                attempt,
                waited,
            )
            (sleep or time.sleep)(pause)


#: Rows of one multi-row INSERT. A prepared statement's memory and preparing time grow
#: with its size (measured: 1.6 MB and 3.7 ms for 400 rows of 53 columns, while 34,000
#: such rows are written as fast 16 as 400 at a time), and the driver keeps up to 128
#: distinct statements it prepared: an import that made one new size per batch kept
#: tens of MB of them.
ROWS_PER_INSERT = 64


def row_chunks(count: int, largest: int = ROWS_PER_INSERT) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks covering ``count`` rows, in a few fixed
    sizes: ``largest`` while enough rows are left, then powers of two. A multi-row
    statement is then prepared once per size for good, not once per batch."""
    start = 0
    while count - start >= largest:
        yield start, start + largest
        start += largest
    size = 1 << (largest.bit_length() - 1)  # the largest power of two <= largest
    while start < count:
        while size > count - start:
            size >>= 1
        yield start, start + size
        start += size


def insert_rows(table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Multi-row INSERT of ``rows`` (values in ``columns`` order) into a model's table,
    with hand-built parameterised SQL: for the thousands of small rows of an import batch
    (ratings, aggregate keys) peewee's query builder cost more than the database work."""
    if not rows:
        return
    p = database_proxy.param
    head = f'INSERT INTO "{table._meta.table_name}" ({", ".join(columns)}) VALUES '  # noqa: S608 names from the models, values are parameters
    row = "(" + ", ".join([p] * len(columns)) + ")"
    per = min(ROWS_PER_INSERT, max(1, 900 // len(columns)))  # SQLite's old 999 variables
    for start, stop in row_chunks(len(rows), per):
        chunk = rows[start:stop]
        database_proxy.execute_sql(
            head + ", ".join([row] * len(chunk)), [v for r in chunk for v in r]
        )


def _as_is(value: Any) -> Any:
    return value


def among(column: ColumnBase, values: Collection[int] | Collection[str]) -> ColumnBase:
    """``column IN values`` with all the values in ONE parameter: a JSON array read by
    ``json_each`` on SQLite, an array (``= ANY``) on PostgreSQL.

    For the id lists of an import batch (thousands of rounds): peewee turns each value of
    an ``in_()`` list into a node of its own, which cost seven times the query itself
    (measured: 3.2 ms vs 0.44 ms for 731 ids), and SQLite limits the parameters of one
    statement, so long lists had to be cut into several queries.
    """
    items = list(values)
    if not items:
        return SQL("1 = 0")
    if is_postgres():
        # As one array parameter, not converted by the column's field (which would
        # turn the list into a string).
        return column == fn.ANY(Value(items, converter=_as_is, unpack=False))
    return column.in_(SQL("(SELECT value FROM json_each(?))", [json.dumps(items)]))


def lock_writers() -> None:
    """Called first in a transaction that derives shared data (an import batch): wait until
    no other such transaction runs, until this one ends.

    An import batch updates rows other batches update too — players, aliases, gaming
    sessions, per-day aggregates, ratings, across servers — so two batches must not
    interleave: on PostgreSQL that deadlocked and lost updates. PostgreSQL takes a
    transaction advisory lock (one key: a lock per server would not cover players,
    aggregates and ratings, which are shared by all servers); SQLite's IMMEDIATE
    transactions already hold its one write lock.
    """
    if is_postgres():
        database_proxy.execute_sql("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))


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
