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

Atomicity: an import batch is one transaction and each file runs inside its own
savepoint, so a bad file rolls back completely while the rest of the batch goes on, and
a crash leaves no half file. Batches of several processes run one at a time
(:func:`etbot.db.lock_writers`, SQLite's IMMEDIATE transactions). Everything here is
synchronous peewee code; the bot runs it off the event loop.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from peewee import IntegrityError

from etbot import aggregates
from etbot.db import as_datetime, is_locked_error, lock_writers, retry_locked
from etbot.ingest.differential import ROUND1_FIELDS, Round1Player, derive_player
from etbot.ingest.growth import grew_from
from etbot.ingest.hooks import Batch, BatchHook, default_hooks, run_hooks
from etbot.ingest.pairing import (
    ClusterRound,
    cluster_around,
    map_outcome_from,
    plan_repair,
)
from etbot.ingest.results import FileResult, ImportReport
from etbot.ingest.sessions import SessionRow, plan_session, touch_window
from etbot.ingest.statements import Statements, execute, fetch_id
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
from etbot.statsfile import ParsedPlayer, ParsedRound, ParseError, clean_name, parse_round

log = logging.getLogger(__name__)

#: Larger than any stats file: such a file is rejected unread.
MAX_FILE_BYTES = 4 * 1024 * 1024


def sha256(data: bytes) -> str:
    """The content hash files are deduplicated by."""
    return hashlib.sha256(data).hexdigest()


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
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"not a regular file ({_kind(mode)})")
        data = fh.read(limit + 1)
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
        batch = [_prepare(name, data) for name, data in files]
        try:
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
        batch_size: int = 200,
        progress: Callable[[FileResult], None] | None = None,
    ) -> ImportReport:
        """Import files and folders; unreadable or bad files are reported, never fatal.

        Paths that are not imported at all (see :func:`iter_stats_files`) are listed in
        the report's ``skipped`` with the reason.
        """
        report = ImportReport()
        batch: list[tuple[str, bytes]] = []
        for path in iter_stats_files(paths, report.skipped):
            try:
                data = read_stats_file(path)
            except OSError as exc:
                result = FileResult(path.name, "rejected", f"cannot read: {exc.strerror or exc}")
                report.add(result)
                if progress is not None:
                    progress(result)
                continue
            batch.append((path.name, data))
            if len(batch) >= batch_size:
                self.import_many(batch, report, progress)
                batch = []
        if batch:
            self.import_many(batch, report, progress)
        return report

    # ---- one batch, one file

    def _import_batch(self, files: list[_Prepared], *, careful: bool = False) -> list[FileResult]:
        """One transaction: every file in its savepoint, then the derived data.

        The transaction first waits for any other import batch to end (the writers'
        lock, :func:`etbot.db.lock_writers`): batches derive shared rows (players,
        sessions, aggregates, ratings), so they run one at a time, in any process.

        ``careful``: refresh each file's per-day aggregates inside its own savepoint (a
        failure rejects that file) instead of once for the batch (fast, but a failure
        there belongs to no file: :class:`_AggregateFailure` rolls the batch back).
        """
        results: list[FileResult] = []
        self._sessions_touched = set()
        try:
            with database_proxy.atomic():
                lock_writers()
                for prepared in files:
                    results.append(self._import_one(prepared, careful=careful))
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
        return results

    def _import_one(self, prepared: _Prepared, *, careful: bool = False) -> FileResult:
        file_name, data, digest, parsed = prepared
        if execute(self._sql.source_exists, (digest,)).fetchone() is not None:
            return FileResult(file_name, "duplicate", DUPLICATE)
        if isinstance(parsed, ParseError):
            where = "" if parsed.line is None else f"line {parsed.line}: "
            return FileResult(file_name, "rejected", where + parsed.reason)
        result = self._in_savepoint(file_name, lambda: self._store(parsed, data, digest), careful)
        if result is _CLASH:
            # The name is taken: the file may be the complete version of a partial one.
            result = self._in_savepoint(
                file_name, lambda: self._replace(parsed, data, digest), careful
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

    def _store(self, parsed: ParsedRound, data: bytes, digest: str) -> FileResult:
        sql = self._sql
        server_id = self._server_id(parsed.server_name)
        session_id = self._session_for(server_id, parsed.ended_at)
        source = {
            "sha256": digest,
            "file_name": parsed.file_name,
            "content": zlib.compress(data, 1),
            "imported_at": datetime.now(),
        }
        source_id = fetch_id(sql.insert_source.sql(), sql.insert_source.values(source))
        humans = [p for p in parsed.players if not p.is_bot]
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
            "bot_count": len(parsed.players) - len(humans),
        }
        round_id = fetch_id(sql.insert_round.sql(), sql.insert_round.values(round_row))
        player_ids = self._upsert_players(humans, db_time(parsed.ended_at))
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

    def _upsert_players(self, humans: Sequence[ParsedPlayer], seen: str) -> dict[str, int]:
        if not humans:
            return {}
        sql = self._sql
        players = [
            {
                "guid": p.guid,
                "name": p.name,
                "raw_name": p.raw_name,
                "first_seen": seen,
                "last_seen": seen,
            }
            for p in humans
        ]
        execute(sql.upsert_player.sql(len(players)), sql.upsert_player.params(players))
        ids = self._player_ids_for(humans)
        aliases = [  # GUIDs are unique per file, so (player, name) is too
            {
                "player": ids[p.guid],
                "name": p.name,
                "name_lower": p.name.lower(),
                "raw_name": p.raw_name,
                "first_seen": seen,
                "last_seen": seen,
                "rounds": 1,
            }
            for p in humans
        ]
        execute(sql.upsert_alias.sql(len(aliases)), sql.upsert_alias.params(aliases))
        return ids

    def _player_ids_for(self, players: Iterable[ParsedPlayer]) -> dict[str, int]:
        guids = [p.guid for p in players if not p.is_bot]
        missing = [g for g in guids if g not in self._players]
        if missing:
            for pid, guid in execute(self._sql.player_ids(len(missing)), missing).fetchall():
                self._players[guid] = pid
        return {g: self._players[g] for g in guids}

    def _forget(self) -> None:
        self._servers.clear()
        self._players.clear()

    # ---- rows

    def _write_rows(
        self,
        round_id: int,
        parsed: ParsedRound,
        player_ids: dict[str, int],
        round1_id: int | None,
    ) -> None:
        """Write PlayerRound/WeaponRound rows; for a paired round 2, round-2-only values."""
        paired = parsed.round_no == 2 and round1_id is not None
        round1 = _round1_players(self._sql, round1_id) if round1_id is not None else {}
        orphan = parsed.round_no == 2 and round1_id is None
        ended_at = db_time(parsed.ended_at)
        layout = parsed.layout
        rows: list[dict[str, Any]] = []
        # Tuples in statements.WEAPON_ROUND_FIELDS order: (round, player, weapon, counters…).
        weapon_rows: list[tuple[int, ...]] = []
        for p in parsed.players:
            if p.is_bot:
                continue
            pid = player_ids[p.guid]
            derived = derive_player(p, layout, paired=paired, round1=round1.get(pid))
            values = derived.values
            values.update(
                round=round_id,
                player=pid,
                ended_at=ended_at,
                map=parsed.map,
                round_no=parsed.round_no,
                orphan=orphan,
                name=p.name,
                raw_name=p.raw_name,
                team=p.team,
                rounds_counter=p.rounds,
                reset=derived.reset,
                only_round2=derived.only_round2,
            )
            rows.append(values)
            for weapon, counts in derived.weapons.items():
                if any(counts):
                    weapon_rows.append((round_id, pid, weapon, *counts))
        sql = self._sql
        if rows:
            execute(sql.insert_player_round.sql(len(rows)), sql.insert_player_round.params(rows))
        if weapon_rows:
            execute(
                sql.insert_weapon_round.sql(len(weapon_rows)),
                [v for row in weapon_rows for v in row],
            )

    # ---- pairing

    def _repair(
        self,
        server_id: int,
        mapname: str,
        around: datetime,
        parsed_by_id: dict[int, ParsedRound],
    ) -> dict[int, int | None]:
        """Recompute pairing around ``around``; re-derive every round 2 whose partner changed.

        Returns {round 2 id: round 1 id or None} for the round 2s (re)written. A brand-new
        round 2 (in ``parsed_by_id``) is always written here.
        """
        plan = plan_repair(self._cluster(server_id, mapname, around), parsed_by_id)
        if not plan:
            return {}
        stored = [r.round2.id for r in plan if r.round2.id not in parsed_by_id]
        if stored:
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
        parsed: ParsedRound | None,
        mapname: str,
    ) -> None:
        """(Re)write a round 2 paired with ``round1`` (None: orphan): its pairing, its rows
        (from ``parsed``, else from its stored file, replacing the rows it has) and the
        map result. Its old map result must be gone already."""
        sql = self._sql
        r2_id = round2.id
        r1_id = None if round1 is None else round1.id
        execute(sql.set_round1, (r1_id, r1_id is None, r2_id))
        if parsed is None:
            parsed = _reparse(r2_id)
            PlayerRound.delete().where(PlayerRound.round == r2_id).execute()
            WeaponRound.delete().where(WeaponRound.round == r2_id).execute()
        self._write_rows(r2_id, parsed, self._player_ids_for(parsed.players), r1_id)
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
            execute(sql.insert_map_result.sql(), sql.insert_map_result.values(result))

    def _cluster(self, server_id: int, mapname: str, around: datetime) -> list[ClusterRound]:
        """The rounds of one map and server chained to ``around`` (see ``cluster_around``)."""
        sql = self._sql

        def fetch(lo: datetime, hi: datetime) -> list[ClusterRound]:
            cursor = execute(sql.cluster, (server_id, mapname, lo, hi))
            return [
                ClusterRound(rid, as_datetime(ended_at), *rest)
                for rid, ended_at, *rest in cursor.fetchall()
            ]

        return cluster_around(around, fetch)

    # ---- slow writers: a partial file replaced by its complete version

    def _replace(self, parsed: ParsedRound, data: bytes, digest: str) -> FileResult:
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
        problem = grew_from(old, parsed)
        if problem is not None:
            raise _NotGrown(problem)
        SourceFile.update(
            sha256=digest, content=zlib.compress(data, 1), imported_at=datetime.now()
        ).where(SourceFile.id == source.id).execute()
        humans = [p for p in parsed.players if not p.is_bot]
        Round.update(
            config=parsed.config,
            defender=parsed.defender,
            winner=parsed.winner,
            time_limit_s=parsed.time_limit_s,
            round_time_s=parsed.round_time_s,
            play_time_ms=parsed.play_time_ms,
            layout=parsed.layout,
            player_count=len(humans),
            bot_count=len(parsed.players) - len(humans),
        ).where(Round.id == row.id).execute()
        # Players and aliases: only the lines the partial file did not have are new (the
        # others were counted then, with the same name: grew_from checked).
        known = {p.guid for p in old.players if not p.is_bot}
        self._upsert_players([p for p in humans if p.guid not in known], db_time(parsed.ended_at))
        player_ids = self._player_ids_for(humans)
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
            f"{len(parsed.players)} player lines",
            round_no=parsed.round_no,
            repaired_round_ids=changed,
            player_ids=list(player_ids.values()),
        )

    # ---- sessions

    def _session_for(self, server_id: int, ended_at: datetime) -> int:
        """The gaming session a round ending at ``ended_at`` belongs to (merging if it bridges)."""
        sql = self._sql
        latest_start, earliest_end = touch_window(ended_at)
        cursor = execute(sql.sessions, (server_id, latest_start, earliest_end))
        touching = [
            SessionRow(sid, as_datetime(started_at), as_datetime(last), count)
            for sid, started_at, last, count in cursor.fetchall()
        ]
        plan = plan_session(ended_at, touching)
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


#: A file ready for the database: (file name, bytes, SHA-256, parsed round or its error).
_Prepared = tuple[str, bytes, str, ParsedRound | ParseError]


def _prepare(file_name: str, data: bytes) -> _Prepared:
    try:
        parsed: ParsedRound | ParseError = parse_round(data, file_name)
    except ParseError as exc:
        parsed = exc
    return file_name, data, sha256(data), parsed


class _AggregateFailure(Exception):
    """Refreshing per-day aggregates failed (not for a lock): which file caused it is found
    by importing the batch again with the aggregates refreshed file by file."""


def _reparse(round_id: int) -> ParsedRound:
    """A stored round's file, parsed again (to re-derive it when its pairing changed)."""
    source = SourceFile.select().join(Round).where(Round.id == round_id).get()
    return parse_round(zlib.decompress(source.content), source.file_name)


def _round1_players(sql: Statements, round_id: int) -> dict[int, Round1Player]:
    """What a round 2 needs of its round 1, per player id, read back as stored."""
    out: dict[int, Round1Player] = {}
    for pid, rounds_counter, *values in execute(sql.round1_players, (round_id,)).fetchall():
        out[pid] = Round1Player(dict(zip(ROUND1_FIELDS, values, strict=True)), {}, rounds_counter)
    # Columns in statements.ROUND1_WEAPON_SELECT order.
    rows = execute(sql.round1_weapons, (round_id,)).fetchall()
    for pid, weapon, hits, shots, kills, deaths, headshots in rows:
        player = out.get(pid)
        if player is not None:
            player.weapons[weapon] = (hits, shots, kills, deaths, headshots)
    return out
