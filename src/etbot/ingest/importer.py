"""Import stats files into the database: dedupe, store, pair, differential, aliases, sessions.

The :class:`Importer` drives the pure parts — :mod:`~etbot.ingest.differential` (round 2
minus round 1), :mod:`~etbot.ingest.pairing` (which round 1 a round 2 belongs to) and
:mod:`~etbot.ingest.sessions` (60-minute gaming sessions) — and writes their results with
the statements of :mod:`~etbot.ingest.statements`.

* A file is identified by the SHA-256 of its bytes; the same content twice is a no-op.
  A different file with an already imported name from the same server is rejected (we
  never silently replace data), unless it is the file imported before written further
  (a slow writer: :mod:`~etbot.ingest.growth`); then it replaces that round in place and
  everything derived from it is derived again.
* Every new round re-pairs its cluster; each round 2 whose partner changed is re-derived
  from its stored file (``source_file.content``), so the import order never matters.
* Unpaired round 2s are orphans: stored as written, flagged, left out of aggregates.

Atomicity: an import batch is one transaction, so a crash leaves no half file. It is
first written in one go (fast mode: no savepoint per file; the players, rounds and rows
of the whole batch written together at its end, :mod:`~etbot.ingest.deferred`); if any
file fails there, the batch is rolled back and written again with each file inside its
own savepoint, so a bad file rolls back completely while the rest of the batch goes on.
Bulk imports read and parse their files in worker processes
(:mod:`~etbot.ingest.prepare`). Batches of several processes run one at a time
(:func:`etbot.db.lock_writers`, SQLite's IMMEDIATE transactions). Everything here is
synchronous peewee code; the bot runs it off the event loop.
"""

from __future__ import annotations

import logging
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

from peewee import IntegrityError

from etbot import aggregates
from etbot.db import is_locked_error, is_postgres, lock_writers, retry_locked, row_chunks
from etbot.ingest.deferred import DeferredBatch
from etbot.ingest.differential import Round1Player, derive_row, stored_weapons
from etbot.ingest.growth import grew_from
from etbot.ingest.hooks import Batch, BatchHook, default_hooks, run_hooks
from etbot.ingest.pairing import (
    ClusterRound,
    cluster_around,
    map_outcome_from,
    plan_repair,
)
from etbot.ingest.prepare import (
    Human,
    Prepared,
    PreparedRound,
    from_parsed,
    prepare,
    prepare_paths,
)
from etbot.ingest.prepare import sha256 as sha256
from etbot.ingest.results import FileResult, ImportReport
from etbot.ingest.sessions import plan_session
from etbot.ingest.statements import (
    Insert,
    Statements,
    copy_rows,
    execute,
    fetch_cluster,
    fetch_id,
    fetch_sessions,
)
from etbot.models import (
    GamingSession,
    MapResult,
    PlayerRound,
    Round,
    Server,
    SourceFile,
    WeaponRound,
    database_proxy,
)
from etbot.statsfile import ParseError, clean_name, parse_round

log = logging.getLogger(__name__)

#: Larger than any stats file: such a file is rejected unread.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Files per transaction of a bulk import (larger batches spread the per-batch work —
#: per-day aggregates, ratings, milestones — over more files) and of a live import.
BULK_BATCH = 1000
LIVE_BATCH = 200
#: Files in the first batch of an import (see :meth:`Importer.import_paths`).
FIRST_BATCH = 100


def db_time(value: datetime) -> str:
    """A timestamp as the database stores it, formatted once per file instead of once per
    row (sqlite3 would call its adapter for every value; PostgreSQL casts the text)."""
    return value.isoformat(" ")


def _kind(mode: int) -> str:
    """What a file that is not a regular file is (for the reason it is skipped)."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "an unknown kind of file"


def why_not_a_stats_file(path: Path) -> str | None:
    """Why ``path`` cannot be imported as a stats file, or None for a regular file.

    Only regular files are read: a FIFO would block the reader forever and a device such
    as ``/dev/zero`` never ends (symbolic links are followed, so a ``*.txt`` link to one
    is refused too).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return "a symbolic link to nothing (dangling)"
        return "no such file or folder"
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({_kind(st.st_mode)})"
    return None


def iter_stats_files(
    paths: Iterable[str | os.PathLike[str]], skipped: list[tuple[str, str]] | None = None
) -> Iterator[Path]:
    """Expand files and folders (recursively) into stats files: regular files, given
    directly or named ``*.txt`` in a folder, per folder given in the time order of their
    names (the names start with the date and time), whatever sub-folder they are in.

    Time order matters for speed, not for the result: a folder with one sub-folder per
    game server, imported one sub-folder after another, would make every batch of the
    second server "late" for the ratings, which then replay everything after it.

    Every path left out is appended to ``skipped`` as (path, reason): a folder that cannot
    be read, and anything that is not a regular file (a FIFO, a device, a dangling
    symbolic link). Symbolic links to folders are not followed (as ``Path.rglob``).
    """

    def skip(path: str | os.PathLike[str], reason: str) -> None:
        if skipped is not None:
            skipped.append((os.fspath(path), reason))

    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            reason = why_not_a_stats_file(path)
            if reason is None:
                yield path
            else:
                skip(path, reason)
            continue

        def unreadable(exc: OSError, top: Path = path) -> None:
            skip(exc.filename or top, f"cannot read the folder: {exc.strerror or exc}")

        found = [
            Path(folder, name)
            for folder, _dirs, names in os.walk(path, onerror=unreadable)
            for name in names
            if name.endswith(".txt")
        ]
        for file in sorted(found, key=lambda found_file: (found_file.name, found_file)):
            reason = why_not_a_stats_file(file)
            if reason is None:
                yield file
            else:
                skip(file, reason)


def read_stats_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The content of a regular file of at most ``limit`` bytes.

    Never blocks (the file is opened non-blocking and must be a regular file when opened,
    whatever it was when listed) and never reads more than ``limit`` + 1 bytes.

    Raises:
        OSError: cannot be opened, not a regular file, or larger than ``limit``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file ({_kind(info.st_mode)})")
        # Ask for the size the file has, not the limit: read(n) allocates n bytes first,
        # and 4 MB per file was a sixth of a bulk import's preparing (measured). One byte
        # more tells a file that grew since (or whose size is not known, like /proc's)
        # from a complete one: that one is read on, up to the limit.
        want = min(info.st_size, limit) + 1
        data = fh.read(want)
        if len(data) == want:
            data += fh.read(limit + 1 - want)
    if len(data) > limit:
        raise OSError(f"larger than any stats file (more than {limit} bytes)")
    return data


class Importer:
    """Imports stats files into the bound database. Not thread-safe: one per thread.

    Args:
        live: The files arrived while the bot runs (a source), so batch hooks announce
            what they bring; bulk imports (the CLI, the start-up import) announce nothing.
        hooks: Derived data refreshed after each batch inside its transaction
            (:mod:`etbot.ingest.hooks`); default: :func:`~etbot.ingest.hooks.default_hooks`.
    """

    def __init__(self, *, live: bool = False, hooks: Sequence[BatchHook] | None = None) -> None:
        self.live = live
        self._hooks = list(default_hooks() if hooks is None else hooks)
        self._servers: dict[str, int] = {}
        self._players: dict[str, int] = {}
        self._statements: Statements | None = None
        #: Gaming sessions the current batch added rounds to (recounted at its end).
        self._sessions_touched: set[int] = set()
        #: Round 1s written by the current batch: what a round 2 needs of them, by id.
        self._round1s: dict[int, dict[int, Round1Player]] = {}
        #: Fast mode: PlayerRound / WeaponRound parameters by round id, written at the end
        #: of the file loop (:meth:`_flush`).
        self._pending_rows: dict[int, tuple[list[Any], list[Any]]] = {}
        #: Fast mode (a batch without savepoints): the SHA-256s stored, players written.
        self._batch_known: set[str] | None = None
        #: Fast mode: the batch's new sources, rounds, sessions and map results.
        self._deferred: DeferredBatch | None = None

    @property
    def _sql(self) -> Statements:
        # Built on first use: the parameter style depends on the bound database.
        if self._statements is None:
            self._statements = Statements(database_proxy.param)
        return self._statements

    # ---- public API

    def import_many(
        self,
        files: Iterable[tuple[str, bytes]],
        report: ImportReport | None = None,
        progress: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Import several (file name, bytes) in one transaction, each in its own savepoint.

        When SQLite reports "database is locked" (another writer held the lock longer than
        the busy timeout), the whole batch is rolled back and run again.
        """
        # Parsing is pure: done once, before the transaction, so the write lock is held
        # only for the database work (and a retried batch does not parse again).
        batch = [prepare(name, data) for name, data in files]
        return self._import_prepared(batch, report, progress)

    def _import_prepared(
        self,
        batch: list[Prepared],
        report: ImportReport | None,
        progress: Callable[[FileResult], None] | None,
    ) -> list[FileResult]:
        """:meth:`import_many` for files already prepared (:mod:`etbot.ingest.prepare`).

        A batch is first written without a savepoint per file (fast: on PostgreSQL, rows
        locked by many subtransactions of one transaction made a batch's cost grow with
        the square of its size). If any file fails there, the batch is rolled back and
        written again with each file in its own savepoint, so that file alone is
        rejected, as always.
        """
        try:
            try:
                results = retry_locked(lambda: self._import_batch(batch, isolate=False))
            except _FileFailure as failure:
                log.info("%s; importing the batch again, each file in its savepoint", failure)
                results = retry_locked(lambda: self._import_batch(batch))
        except _AggregateFailure as failure:
            # Rare: find the file(s) at fault by summing each file on its own, inside its
            # savepoint, so that one file's problem costs that file only.
            log.warning(
                "per-day aggregates of a batch failed (%s); importing it file by file", failure
            )
            results = retry_locked(lambda: self._import_batch(batch, careful=True))
        report = report if report is not None else ImportReport()
        for result in results:  # only once committed
            report.add(result)
            if progress is not None:
                progress(result)
        return results

    def import_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        batch_size: int | None = None,
        progress: Callable[[FileResult], None] | None = None,
        workers: int | None = None,
    ) -> ImportReport:
        """Import files and folders; unreadable or bad files are reported, never fatal.

        Paths that are not imported at all (see :func:`iter_stats_files`) are listed in
        the report's ``skipped`` with the reason.

        A bulk import (not ``live``) of many files reads and parses them in ``workers``
        worker processes (:func:`etbot.ingest.prepare.prepare_paths`; default: one per
        core, at most 2; 0: none) while this process writes, in batches of
        :data:`BULK_BATCH` files; a live import of a few files prepares them here, in
        batches of :data:`LIVE_BATCH`.
        """
        report = ImportReport()
        files = list(iter_stats_files(paths, report.skipped))
        if batch_size is None:
            batch_size = LIVE_BATCH if self.live else BULK_BATCH
            # A small first batch: writing starts as soon as the workers have prepared
            # it, not after a whole batch (the importer waited 0.45 s of a 4 s import).
            limit = min(batch_size, FIRST_BATCH)
        else:
            limit = batch_size
        batch: list[Prepared] = []
        for item in prepare_paths(files, workers=0 if self.live else workers):
            if isinstance(item, FileResult):  # could not be read
                report.add(item)
                if progress is not None:
                    progress(item)
                continue
            batch.append(item)
            if len(batch) >= limit:
                self._import_prepared(batch, report, progress)
                batch = []
                limit = batch_size
        if batch:
            self._import_prepared(batch, report, progress)
        return report

    # ---- one batch, one file

    def _import_batch(
        self, files: list[Prepared], *, careful: bool = False, isolate: bool = True
    ) -> list[FileResult]:
        """One transaction: every file in its savepoint, then the derived data.

        The transaction first waits for any other import batch to end (the writers'
        lock, :func:`etbot.db.lock_writers`): batches derive shared rows (players,
        sessions, aggregates, ratings), so they run one at a time, in any process.

        ``careful``: refresh each file's per-day aggregates inside its own savepoint (a
        failure rejects that file) instead of once for the batch (fast, but a failure
        there belongs to no file: :class:`_AggregateFailure` rolls the batch back).

        ``isolate=False``: no savepoints; a file that fails raises :class:`_FileFailure`
        (the batch is rolled back).
        """
        results: list[FileResult] = []
        self._sessions_touched = set()
        self._round1s = {}
        self._pending_rows = {}
        try:
            with database_proxy.atomic():
                lock_writers()
                if is_postgres():
                    # A batch's statements are short; PostgreSQL's estimates in the middle
                    # of an import (rows not yet analyzed) made it compile some of them
                    # first (JIT), which cost several times the statement (measured).
                    execute("SET LOCAL jit = off")
                # Fast mode: players and aliases of the whole batch at once, duplicates
                # found with one query (the per-file path does both file by file).
                self._batch_known = None if isolate else self._upsert_batch_players(files)
                if self._batch_known is not None:
                    self._deferred = DeferredBatch(
                        self._sql, files, self._server_id, self._batch_known
                    )
                for prepared in files:
                    results.append(self._import_one(prepared, careful=careful, isolate=isolate))
                self._flush()
                self._recount_sessions()
                # Derived tables follow the rows in the same transaction.
                new = tuple(r.round_id for r in results if r.round_id is not None)
                repaired = tuple(i for r in results for i in r.repaired_round_ids)
                if new or repaired:
                    if not careful:
                        try:
                            aggregates.refresh_rounds([*new, *repaired])
                        except Exception as exc:
                            if is_locked_error(exc):
                                raise
                            raise _AggregateFailure(str(exc)) from exc
                    players = frozenset(p for r in results for p in r.player_ids)
                    run_hooks(self._hooks, Batch(new, repaired, players, self.live))
        except BaseException:
            self._forget()  # ids cached inside the rolled-back transaction are gone
            raise
        finally:
            self._deferred = None
        return results

    def _import_one(
        self, prepared: Prepared, *, careful: bool = False, isolate: bool = True
    ) -> FileResult:
        file_name, digest, content, parsed = prepared
        known = self._batch_known
        if known is not None:  # fast mode: every SHA-256 stored so far is in it
            if digest in known:
                return FileResult(file_name, "duplicate", DUPLICATE)
        elif execute(self._sql.source_exists, (digest,)).fetchone() is not None:
            return FileResult(file_name, "duplicate", DUPLICATE)
        if isinstance(parsed, ParseError):
            where = "" if parsed.line is None else f"line {parsed.line}: "
            return FileResult(file_name, "rejected", where + parsed.reason)
        if known is not None:
            try:
                result = self._store(parsed, content, digest)
                known.add(digest)
                return result
            except Exception as exc:
                if is_locked_error(exc):
                    raise  # not this file's fault: the batch is retried
                raise _FileFailure(f"{file_name}: {type(exc).__name__}: {exc}") from exc
        result = self._in_savepoint(
            file_name, lambda: self._store(parsed, content, digest), careful
        )
        if result is _CLASH:
            # The name is taken: the file may be the complete version of a partial one.
            result = self._in_savepoint(
                file_name, lambda: self._replace(parsed, content, digest), careful
            )
        return result

    def _in_savepoint(
        self, file_name: str, store: Callable[[], FileResult], careful: bool
    ) -> FileResult:
        """Run ``store`` in a savepoint: whatever fails rolls back this file, never half of
        it, and becomes its result (:data:`_CLASH` when its name is taken)."""
        try:
            with database_proxy.savepoint():
                result = store()
                if careful:
                    self._refresh_file_aggregates(result)
                return result
        except _AggregateFailure as exc:
            self._forget()
            reason = f"database error while summing the per-day aggregates: {exc}"
            log.warning("rejected %s: %s", file_name, reason)
            return FileResult(file_name, "rejected", reason)
        except _NotGrown as exc:
            self._forget()
            return FileResult(file_name, "rejected", f"{CLASH} ({exc})")
        except IntegrityError as exc:
            self._forget()
            if "sha256" in str(exc):
                # Another writer stored the same content after our check (a writer that
                # does not take the writers' lock): it is a duplicate, not an error.
                return FileResult(file_name, "duplicate", DUPLICATE)
            if "file_name" in str(exc) or "round_server_id_file_name" in str(exc):
                return _CLASH
            return FileResult(file_name, "rejected", f"database error: {exc}")
        except Exception as exc:
            # Any database error rolls back this whole file (the savepoint), never half.
            self._forget()
            if is_locked_error(exc):
                raise  # not this file's fault: the batch is retried

            log.exception("database error while importing %s", file_name)
            return FileResult(file_name, "rejected", f"database error: {exc}")

    def _store(self, parsed: PreparedRound, content: bytes, digest: str) -> FileResult:
        sql = self._sql
        server_id = self._server_id(parsed.server_name)
        session_id = self._session_for(server_id, parsed.ended_at)
        source = {
            "sha256": digest,
            "file_name": parsed.file_name,
            "content": content,
            "imported_at": datetime.now(),
        }
        deferred = self._deferred
        if deferred is None:
            source_id = fetch_id(sql.insert_source.sql(), sql.insert_source.values(source))
        else:
            source_id = deferred.add_source(source)
        humans = parsed.humans
        round_row = {
            "source": source_id,
            "file_name": parsed.file_name,
            "server": server_id,
            "map": parsed.map,
            "round_no": parsed.round_no,
            "ended_at": parsed.ended_at,
            "config": parsed.config,
            "defender": parsed.defender,
            "winner": parsed.winner,
            "time_limit_s": parsed.time_limit_s,
            "round_time_s": parsed.round_time_s,
            "play_time_ms": parsed.play_time_ms,
            "layout": parsed.layout,
            # A round 2 is an orphan until pairing finds its round 1.
            "orphan": parsed.round_no == 2,
            "session": session_id,
            "player_count": len(humans),
            "bot_count": parsed.bot_count,
        }
        if deferred is None:
            round_id = fetch_id(sql.insert_round.sql(), sql.insert_round.values(round_row))
        else:
            round_id = deferred.add_round(round_row, parsed)
        if self._batch_known is None:
            player_ids = self._upsert_players(humans, db_time(parsed.ended_at))
        else:  # written for the whole batch already (_upsert_batch_players)
            player_ids = self._player_ids_for(humans)
        if parsed.round_no == 1:
            self._write_rows(round_id, parsed, player_ids, None)
        written = self._repair(server_id, parsed.map, parsed.ended_at, {round_id: parsed})
        paired = written.get(round_id) is not None
        return FileResult(
            parsed.file_name,
            "imported",
            round_id=round_id,
            round_no=parsed.round_no,
            paired=paired,
            orphan=parsed.round_no == 2 and not paired,
            repaired_round_ids=[r for r in written if r != round_id],
            player_ids=list(player_ids.values()),
        )

    def _recount_sessions(self) -> None:
        """Set the round count of every gaming session the batch touched by counting its
        rounds: derived, never incremented, so it cannot drift whatever else happened."""
        touched = sorted(self._sessions_touched)
        for i in range(0, len(touched), 500):
            chunk = touched[i : i + 500]
            execute(self._sql.recount_sessions(len(chunk)), chunk)

    def _refresh_file_aggregates(self, result: FileResult) -> None:
        """The per-day aggregates of one file's rounds (careful mode, inside its savepoint)."""
        rounds = [r for r in (result.round_id, *result.repaired_round_ids) if r is not None]
        try:
            aggregates.refresh_rounds(rounds)
        except Exception as exc:
            if is_locked_error(exc):
                raise
            raise _AggregateFailure(str(exc).strip()) from exc

    # ---- servers, players and aliases

    def _server_id(self, raw_name: str) -> int:
        sid = self._servers.get(raw_name)
        if sid is None:
            Server.insert(
                name=raw_name, clean_name=clean_name(raw_name) or raw_name
            ).on_conflict_ignore().execute()
            sid = Server.get(Server.name == raw_name).id
            self._servers[raw_name] = sid
        return sid

    def _upsert_players(self, humans: Sequence[Human], seen: str) -> dict[str, int]:
        """Players and aliases of one file (seen at ``seen``); their ids by GUID."""
        if not humans:
            return {}
        players = [(p.guid, p.name, p.raw_name, seen, seen) for p in humans]
        self._write_players(players)
        ids = self._player_ids_for(humans)
        # GUIDs are unique per file, so (player, name) is too.
        aliases = [(p.guid, p.name, p.raw_name, seen, seen, 1) for p in humans]
        self._write_aliases(aliases, ids)
        return ids

    def _upsert_batch_players(self, files: Sequence[Prepared]) -> set[str]:
        """Players and aliases of every file of a batch that will be stored, with one
        upsert each (fast mode: the per-file upserts rewrote the same player rows again
        and again); returns the SHA-256s already in the database.

        Rows are merged here exactly as the upserts merge them (newest name by last
        seen, a later file winning a tie; earliest first seen; alias rounds added up), so
        the result is the one the per-file upserts give.
        """
        digests = sorted({f.digest for f in files})
        known: set[str] = set()
        for i in range(0, len(digests), 500):
            chunk = digests[i : i + 500]
            known.update(d for (d,) in execute(self._sql.known_sources(len(chunk)), chunk))
        stored = set(known)
        players: dict[str, list[Any]] = {}
        aliases: dict[tuple[str, str], list[Any]] = {}
        for f in files:
            parsed = f.parsed
            if f.digest in stored or isinstance(parsed, ParseError):
                continue
            stored.add(f.digest)
            seen = db_time(parsed.ended_at)
            for h in parsed.humans:
                row = players.get(h.guid)
                if row is None:
                    players[h.guid] = [h.guid, h.name, h.raw_name, seen, seen]
                else:
                    if seen >= row[4]:
                        row[1], row[2], row[4] = h.name, h.raw_name, seen
                    row[3] = min(row[3], seen)
                alias = aliases.get((h.guid, h.name))
                if alias is None:
                    aliases[h.guid, h.name] = [h.guid, h.name, h.raw_name, seen, seen, 1]
                else:
                    if seen >= alias[4]:
                        alias[2], alias[4] = h.raw_name, seen
                    alias[3] = min(alias[3], seen)
                    alias[5] += 1
        if players:
            self._write_players([tuple(row) for row in players.values()])
            ids = self._player_ids_for_guids(list(players))
            self._write_aliases([tuple(a) for a in aliases.values()], ids)
        return known

    def _write_players(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Upsert (guid, name, raw name, first seen, last seen) rows."""
        insert = self._sql.upsert_player
        for start, stop in row_chunks(len(rows)):
            chunk = rows[start:stop]
            execute(insert.sql(len(chunk)), [v for row in chunk for v in row])

    def _write_aliases(self, rows: Sequence[tuple[Any, ...]], ids: dict[str, int]) -> None:
        """Upsert (guid, name, raw name, first seen, last seen, rounds) alias rows."""
        insert = self._sql.upsert_alias
        for start, stop in row_chunks(len(rows)):
            params: list[Any] = []
            for guid, name, raw_name, first, last, rounds in rows[start:stop]:
                params += (ids[guid], name, name.lower(), raw_name, first, last, rounds)
            execute(insert.sql(len(params) // len(insert.fields)), params)

    def _player_ids_for(self, humans: Iterable[Human]) -> dict[str, int]:
        return self._player_ids_for_guids([h.guid for h in humans])

    def _player_ids_for_guids(self, guids: Sequence[str]) -> dict[str, int]:
        missing = [g for g in guids if g not in self._players]
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            for pid, guid in execute(self._sql.player_ids(len(chunk)), chunk).fetchall():
                self._players[guid] = pid
        return {g: self._players[g] for g in guids}

    def _forget(self) -> None:
        self._servers.clear()
        self._players.clear()
        self._round1s.clear()

    # ---- rows

    def _write_rows(
        self,
        round_id: int,
        parsed: PreparedRound,
        player_ids: dict[str, int],
        round1_id: int | None,
    ) -> None:
        """Write PlayerRound/WeaponRound rows; for a paired round 2, round-2-only values."""
        paired = parsed.round_no == 2 and round1_id is not None
        round1: dict[int, Round1Player] = {}
        if round1_id is not None:
            cached = self._round1s.get(round1_id)
            round1 = _round1_players(self._sql, round1_id) if cached is None else cached
        orphan = parsed.round_no == 2 and round1_id is None
        ended_at = db_time(parsed.ended_at)
        mapname, round_no = parsed.map, parsed.round_no
        # Flat parameter lists in statements.PLAYER_ROUND_FIELDS / WEAPON_ROUND_FIELDS order.
        rows: list[Any] = []
        weapon_rows: list[Any] = []
        for h in parsed.humans:
            pid = player_ids[h.guid]
            values: Sequence[Any] = h.values
            weapons: Iterable[tuple[int, ...]] = h.weapons
            reset = only_round2 = False
            if paired:  # round 1 and orphans are stored as written (h.values)
                values, weapons, reset, only_round2 = derive_row(
                    h.values, h.weapons, h.rounds, paired=True, round1=round1.get(pid)
                )
                weapons = stored_weapons(weapons)
            rows += (
                round_id,
                pid,
                ended_at,
                mapname,
                round_no,
                orphan,
                h.name,
                h.raw_name,
                h.team,
                h.rounds,
                reset,
                only_round2,
            )
            rows += values
            for weapon in weapons:
                weapon_rows += (round_id, pid)
                weapon_rows += weapon
        if round_no == 1:
            # What a round 2 of this batch will read back of it, as stored (saves two
            # queries per round 2; the batch's rollback forgets it with the rows).
            self._round1s[round_id] = {
                player_ids[h.guid]: Round1Player(
                    h.values,
                    {w[0]: w[1:] for w in h.weapons},  # type: ignore[misc]
                    h.rounds,
                )
                for h in parsed.humans
            }
        if self._batch_known is not None:
            # Fast mode: written with the other files' rows at the end of the file loop
            # (a few large INSERTs instead of two per file); nothing reads them before.
            self._pending_rows[round_id] = (rows, weapon_rows)
            return
        _insert_flat(self._sql.insert_player_round, rows)
        _insert_flat(self._sql.insert_weapon_round, weapon_rows)

    def _flush(self) -> None:
        """Write what fast mode held back: the sources, rounds, sessions and map results
        (:mod:`~etbot.ingest.deferred`), then the rows (:meth:`_write_rows`)."""
        pending = self._pending_rows
        self._pending_rows = {}
        rows = list(chain.from_iterable([player_rows for player_rows, _ in pending.values()]))
        weapon_rows = list(chain.from_iterable([weapons for _, weapons in pending.values()]))
        try:
            if self._deferred is not None:
                self._deferred.flush()
            _insert_flat(self._sql.insert_player_round, rows)
            _insert_flat(self._sql.insert_weapon_round, weapon_rows)
        except Exception as exc:
            if is_locked_error(exc):
                raise
            raise _FileFailure(f"writing the batch: {type(exc).__name__}: {exc}") from exc

    # ---- pairing

    def _repair(
        self,
        server_id: int,
        mapname: str,
        around: datetime,
        parsed_by_id: dict[int, PreparedRound],
    ) -> dict[int, int | None]:
        """Recompute pairing around ``around``; re-derive every round 2 whose partner changed.

        Returns {round 2 id: round 1 id or None} for the round 2s (re)written. A brand-new
        round 2 (in ``parsed_by_id``) is always written here.
        """
        plan = plan_repair(self._cluster(server_id, mapname, around), parsed_by_id)
        if not plan:
            return {}
        stored = [r.round2.id for r in plan if r.round2.id not in parsed_by_id]
        if stored and self._deferred is not None:
            self._deferred.unpair(stored)
        elif stored:
            # Clear first so the unique round1 column never sees a transient duplicate.
            Round.update(round1=None).where(Round.id.in_(stored)).execute()
            MapResult.delete().where(MapResult.round2.in_(stored)).execute()
        written: dict[int, int | None] = {}
        for round2, round1 in plan:
            written[round2.id] = None if round1 is None else round1.id
            self._write_round2(round2, round1, parsed_by_id.get(round2.id), mapname)
        return written

    def _write_round2(
        self,
        round2: ClusterRound,
        round1: ClusterRound | None,
        parsed: PreparedRound | None,
        mapname: str,
    ) -> None:
        """(Re)write a round 2 paired with ``round1`` (None: orphan): its pairing, its rows
        (from ``parsed``, else from its stored file, replacing the rows it has) and the
        map result. Its old map result must be gone already."""
        sql = self._sql
        r2_id = round2.id
        r1_id = None if round1 is None else round1.id
        deferred = self._deferred
        if deferred is None:
            execute(sql.set_round1, (r1_id, r1_id is None, r2_id))
        else:
            deferred.pair(r2_id, r1_id)
        if parsed is None and deferred is not None and r2_id in deferred.rounds:
            parsed = deferred.parsed[r2_id]  # a round 2 written earlier in this batch
            self._pending_rows.pop(r2_id, None)
        elif parsed is None:
            parsed = _reparse(r2_id)
            self._pending_rows.pop(r2_id, None)  # a round 2 written earlier in this batch
            PlayerRound.delete().where(PlayerRound.round == r2_id).execute()
            WeaponRound.delete().where(WeaponRound.round == r2_id).execute()
        self._write_rows(r2_id, parsed, self._player_ids_for(parsed.humans), r1_id)
        if round1 is not None:
            outcome, winner = map_outcome_from(
                round1.winner, round1.defender, parsed.winner, parsed.defender
            )
            result = {
                "round1": round1.id,
                "round2": r2_id,
                "map": mapname,
                "ended_at": round2.ended_at,
                "outcome": outcome,
                "winner_team": winner,
                "round1_time_s": round1.round_time_s,
                "round2_time_s": parsed.round_time_s,
            }
            if deferred is None:
                execute(sql.insert_map_result.sql(), sql.insert_map_result.values(result))
            else:
                deferred.add_map_result(result)

    def _cluster(self, server_id: int, mapname: str, around: datetime) -> list[ClusterRound]:
        """The rounds of one map and server chained to ``around`` (see ``cluster_around``)."""
        deferred = self._deferred
        if deferred is not None:
            return cluster_around(
                around, lambda lo, hi: deferred.cluster(server_id, mapname, lo, hi)
            )
        return cluster_around(
            around, lambda lo, hi: fetch_cluster(self._sql, server_id, mapname, lo, hi)
        )

    # ---- slow writers: a partial file replaced by its complete version

    def _replace(self, parsed: PreparedRound, content: bytes, digest: str) -> FileResult:
        """Replace the round imported from a partial version of this file (same name, same
        server) by ``parsed``, if ``parsed`` grew from it (:mod:`etbot.ingest.growth`);
        re-derive what depends on it: its rows, the round 2 paired with it, the map
        result; the caller's batch refreshes aggregates and runs the hooks on them.

        Raises:
            _NotGrown: ``parsed`` is another file, not the partial one written further.
        """
        server_id = self._server_id(parsed.server_name)
        row = (
            Round.select(Round.id, Round.source, Round.session, Round.round1)
            .where((Round.server == server_id) & (Round.file_name == parsed.file_name))
            .get()
        )
        source = SourceFile.get_by_id(row.source_id)
        old = parse_round(zlib.decompress(source.content), source.file_name)
        # Rare (a slow writer): the new file is parsed again for the whole comparison.
        problem = grew_from(old, parse_round(zlib.decompress(content), parsed.file_name))
        if problem is not None:
            raise _NotGrown(problem)
        SourceFile.update(sha256=digest, content=content, imported_at=datetime.now()).where(
            SourceFile.id == source.id
        ).execute()
        humans = parsed.humans
        Round.update(
            config=parsed.config,
            defender=parsed.defender,
            winner=parsed.winner,
            time_limit_s=parsed.time_limit_s,
            round_time_s=parsed.round_time_s,
            play_time_ms=parsed.play_time_ms,
            layout=parsed.layout,
            player_count=len(humans),
            bot_count=parsed.bot_count,
        ).where(Round.id == row.id).execute()
        # Players and aliases: only the lines the partial file did not have are new (the
        # others were counted then, with the same name: grew_from checked).
        known = {p.guid for p in old.players if not p.is_bot}
        self._upsert_players([p for p in humans if p.guid not in known], db_time(parsed.ended_at))
        player_ids = self._player_ids_for(humans)
        self._pending_rows.pop(row.id, None)  # never in fast mode, which has no _replace
        PlayerRound.delete().where(PlayerRound.round == row.id).execute()
        WeaponRound.delete().where(WeaponRound.round == row.id).execute()
        changed = [row.id]
        if parsed.round_no == 1:
            self._write_rows(row.id, parsed, player_ids, None)
            round2_id = Round.select(Round.id).where(Round.round1 == row.id).scalar()
            round2_parsed = None  # its rows depend on this round 1: re-derived from its file
        else:
            round2_id, round2_parsed = row.id, parsed
        if round2_id is not None:
            cluster = {r.id: r for r in self._cluster(server_id, parsed.map, parsed.ended_at)}
            round2 = cluster[round2_id]
            round1 = cluster.get(round2.round1_id) if round2.round1_id is not None else None
            MapResult.delete().where(MapResult.round2 == round2_id).execute()
            self._write_round2(round2, round1, round2_parsed, parsed.map)
            if round2_id != row.id:
                changed.append(round2_id)
        if row.session_id is not None:
            self._sessions_touched.add(row.session_id)
        return FileResult(
            parsed.file_name,
            "replaced",
            f"the partial file imported before grew: {len(old.players)} → "
            f"{parsed.line_count} player lines",
            round_no=parsed.round_no,
            repaired_round_ids=changed,
            player_ids=list(player_ids.values()),
        )

    # ---- sessions

    def _session_for(self, server_id: int, ended_at: datetime) -> int:
        """The gaming session a round ending at ``ended_at`` belongs to (merging if it bridges)."""
        sql = self._sql
        deferred = self._deferred
        if deferred is not None:
            plan = plan_session(ended_at, deferred.sessions_touching(server_id, ended_at))
            if plan.keep is None:
                session_id = deferred.new_session(server_id, plan)
            else:
                session_id = deferred.keep_session(server_id, plan)
            self._sessions_touched.add(session_id)
            return session_id
        plan = plan_session(ended_at, fetch_sessions(sql, server_id, ended_at))
        if plan.keep is None:
            session = {
                "server": server_id,
                "started_at": plan.started_at,
                "ended_at": plan.ended_at,
                "round_count": plan.round_count,
            }
            session_id = fetch_id(sql.insert_session.sql(), sql.insert_session.values(session))
            self._sessions_touched.add(session_id)
            return session_id
        if plan.merged:  # this round bridges sessions: merge them into the first
            Round.update(session=plan.keep).where(Round.session.in_(plan.merged)).execute()
            GamingSession.delete().where(GamingSession.id.in_(plan.merged)).execute()
        execute(sql.update_session, (plan.started_at, plan.ended_at, plan.round_count, plan.keep))
        self._sessions_touched.add(int(plan.keep))
        return int(plan.keep)


#: The reason of a file whose content is already in the database.
DUPLICATE = "same content already imported"
#: The reason of a file whose name is taken by another file of the same server.
CLASH = (
    "a different file with the same name from the same server was already imported "
    "(re-uploaded with other content?)"
)
#: What :meth:`Importer._in_savepoint` returns when the file's name is taken.
_CLASH = FileResult("", "clash", CLASH)


class _NotGrown(Exception):
    """A file with a taken name that is not the partial file written further."""


class _FileFailure(Exception):
    """A file failed in a batch written without savepoints: the batch is written again
    with one per file (:meth:`Importer._import_prepared`)."""


class _AggregateFailure(Exception):
    """Refreshing per-day aggregates failed (not for a lock): which file caused it is found
    by importing the batch again with the aggregates refreshed file by file."""


def _insert_flat(insert: Insert, params: list[Any]) -> None:
    """INSERT the rows of a flat parameter list (``insert.fields`` values per row); COPY
    them on PostgreSQL."""
    if is_postgres():
        copy_rows(insert, params)
        return
    width = len(insert.fields)
    for start, stop in row_chunks(len(params) // width):
        execute(insert.sql(stop - start), params[start * width : stop * width])


def _reparse(round_id: int) -> PreparedRound:
    """A stored round's file, parsed again (to re-derive it when its pairing changed)."""
    source = SourceFile.select().join(Round).where(Round.id == round_id).get()
    return from_parsed(parse_round(zlib.decompress(source.content), source.file_name))


def _round1_players(sql: Statements, round_id: int) -> dict[int, Round1Player]:
    """What a round 2 needs of its round 1, per player id, read back as stored."""
    out: dict[int, Round1Player] = {}
    for pid, rounds_counter, *values in execute(sql.round1_players, (round_id,)).fetchall():
        out[pid] = Round1Player(tuple(values), {}, rounds_counter)
    # Columns in statements.ROUND1_WEAPON_SELECT order.
    rows = execute(sql.round1_weapons, (round_id,)).fetchall()
    for pid, weapon, hits, shots, kills, deaths, headshots in rows:
        player = out.get(pid)
        if player is not None:
            player.weapons[weapon] = (hits, shots, kills, deaths, headshots)
    return out
