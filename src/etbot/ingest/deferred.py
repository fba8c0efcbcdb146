"""Fast mode's deferred writes: the sources, rounds, gaming sessions and map results of
one import batch, held here while its files are stored and written at its end with a few
multi-row statements.

Storing a file asked the database six or seven small questions (its session, its pairing
cluster, the new rows' ids, …): ~36,000 statements for 5,000 files, which on PostgreSQL
were most of an import's time (one round trip each) and on SQLite a third of it.
:class:`DeferredBatch` answers them from memory instead:

* what the database already holds near the batch's rounds (the sessions of each server
  and the rounds of each map around the batch's time span) is read once, when the batch
  starts (:meth:`DeferredBatch.__init__`); a question beyond what was read (a cluster of
  rounds chained further than :data:`PREFETCH_MARGIN`) still goes to the database, with
  the batch's own rounds added to the answer;
* new rows get their ids here (:class:`IdAllocator`: PostgreSQL's sequences; on SQLite
  the next free ids, safe because the batch holds the write lock), so rounds, sessions
  and map results can refer to each other before any of them is written;
* changes to rows of *earlier* batches (re-pairing a stored round 2, merging a stored
  session) are rare in a bulk import and are written at once, as before.

:meth:`DeferredBatch.flush` writes everything in an order the foreign keys accept. It is
only used by the importer's fast mode: a failure there rolls the batch back and the
importer writes it again, file by file in savepoints, with the direct statements.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from peewee import Model

from etbot.db import is_postgres, row_chunks
from etbot.ingest.pairing import ClusterRound
from etbot.ingest.prepare import Prepared, PreparedRound
from etbot.ingest.sessions import SessionPlan, SessionRow, touch_window
from etbot.ingest.statements import (
    Insert,
    Statements,
    execute,
    fetch_cluster,
    fetch_sessions_between,
    table,
)
from etbot.models import GamingSession, MapResult, Round, SourceFile
from etbot.statsfile import ParseError

#: How far around a batch's rounds of one map the stored rounds are read at its start; a
#: pairing cluster reaching further (a chain of rounds 45 minutes apart) asks the database.
PREFETCH_MARGIN = timedelta(hours=6)


class IdAllocator:
    """Ids for new rows of a batch before they are written, in the order a file-by-file
    import would give them.

    PostgreSQL: the table's own sequence (ids no other writer gets), reserved in one
    query for what a batch is known to need (a source and a round per new file), one at a
    time beyond. SQLite: one more than the largest id, counted on from there; only one
    transaction writes at a time there (the batch's IMMEDIATE transaction holds the write
    lock), and the ids are forgotten with the batch if it rolls back.
    """

    def __init__(self) -> None:
        self._postgres = is_postgres()
        self._free: dict[str, list[int]] = {}
        self._last: dict[str, int] = {}

    def reserve(self, model: type[Model], count: int) -> None:
        """Fetch ``count`` ids of ``model`` at once (PostgreSQL; nothing to do on SQLite)."""
        if not self._postgres or count <= 0:
            return
        cursor = execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (model._meta.table_name, count),
        )
        free = self._free.setdefault(model._meta.table_name, [])
        free[:0] = sorted((int(i) for (i,) in cursor), reverse=True)

    def next(self, model: type[Model]) -> int:
        name = model._meta.table_name
        if self._postgres:
            free = self._free.get(name)
            if not free:
                self.reserve(model, 1)
                free = self._free[name]
            return free.pop()
        last = self._last.get(name)
        if last is None:
            (found,) = execute(f"SELECT COALESCE(MAX(id), 0) FROM {table(model)}").fetchone()  # noqa: S608 a table name from the models
            last = int(found)
        self._last[name] = last + 1
        return last + 1


class DeferredBatch:
    """The new rows of one fast-mode import batch, and what was read to answer its
    questions (see the module docstring)."""

    def __init__(
        self,
        sql: Statements,
        files: Sequence[Prepared],
        server_id: Callable[[str], int],
        stored: Collection[str],
    ) -> None:
        """Read what the batch's files need of the database; ``stored``: the SHA-256s of
        files stored before the batch (they will be skipped)."""
        self._sql = sql
        self._ids = IdAllocator()
        new_files = len(
            {
                f.digest
                for f in files
                if not isinstance(f.parsed, ParseError) and f.digest not in stored
            }
        )
        self._ids.reserve(SourceFile, new_files)
        self._ids.reserve(Round, new_files)
        #: New source files: insert_source values by id.
        self._sources: dict[int, dict[str, Any]] = {}
        #: New rounds: insert_round values (with ``id`` and ``round1``) by id.
        self.rounds: dict[int, dict[str, Any]] = {}
        #: The parsed file of each new round (a round 2 re-derived later in the batch).
        self.parsed: dict[int, PreparedRound] = {}
        #: Map results to insert, by round 2 id.
        self._map_results: dict[int, dict[str, Any]] = {}
        #: Rounds of each (server, map) known here: stored ones read at the start (current
        #: values) and new ones; and the time span read for it.
        self._map_rounds: dict[tuple[int, str], dict[int, ClusterRound]] = {}
        self._map_span: dict[tuple[int, str], tuple[datetime, datetime]] = {}
        self._round_key: dict[int, tuple[int, str]] = {}
        #: Every session of each server that any round of the batch can touch, by id.
        self._sessions: dict[int, dict[int, SessionRow]] = {}
        self._new_sessions: dict[int, int] = {}  # new session id -> server id
        self._changed_sessions: set[int] = set()  # stored sessions whose span changed

        server_span: dict[int, tuple[datetime, datetime]] = {}
        map_span: dict[tuple[int, str], tuple[datetime, datetime]] = {}
        for prepared in files:
            parsed = prepared.parsed
            if isinstance(parsed, ParseError):
                continue
            sid = server_id(parsed.server_name)
            _widen(server_span, sid, parsed.ended_at)
            _widen(map_span, (sid, parsed.map), parsed.ended_at)
        for sid, (lo, hi) in server_span.items():
            latest_start, _ = touch_window(hi)
            _, earliest_end = touch_window(lo)
            touching = fetch_sessions_between(sql, sid, latest_start, earliest_end)
            self._sessions[sid] = {row.id: row for row in touching}
        for key, (lo, hi) in map_span.items():
            span = (lo - PREFETCH_MARGIN, hi + PREFETCH_MARGIN)
            rounds = self._map_rounds[key] = {}
            for row in fetch_cluster(sql, *key, *span):
                rounds[row.id] = row
                self._round_key[row.id] = key
            self._map_span[key] = span

    # ---- sessions

    def sessions_touching(self, server: int, ended_at: datetime) -> list[SessionRow]:
        """The sessions of ``server`` a round ending at ``ended_at`` touches, by start
        (what the importer's ``sessions`` statement selects)."""
        latest_start, earliest_end = touch_window(ended_at)
        found = [
            s
            for s in self._sessions[server].values()
            if s.started_at <= latest_start and s.ended_at >= earliest_end
        ]
        found.sort(key=lambda s: s.started_at)
        return found

    def new_session(self, server: int, plan: SessionPlan) -> int:
        sid = self._ids.next(GamingSession)
        self._sessions[server][sid] = SessionRow(
            sid, plan.started_at, plan.ended_at, plan.round_count
        )
        self._new_sessions[sid] = server
        return sid

    def keep_session(self, server: int, plan: SessionPlan) -> int:
        """Apply ``plan``: its kept session gets the new span, the merged ones go (their
        rounds move to the kept one)."""
        keep = int(plan.keep)  # type: ignore[arg-type]
        sessions = self._sessions[server]
        for gone in plan.merged:
            del sessions[gone]
            for row in self.rounds.values():
                if row["session"] == gone:
                    row["session"] = keep
            if self._new_sessions.pop(gone, None) is not None:
                continue  # never written
            # A stored session bridged into ``keep`` (rare: files imported out of order):
            # its stored rounds move now, so ``keep`` must exist in the database.
            if keep in self._new_sessions:
                self._write_sessions([keep])
                self._changed_sessions.add(keep)
            Round.update(session=keep).where(Round.session == gone).execute()
            GamingSession.delete().where(GamingSession.id == gone).execute()
            self._changed_sessions.discard(gone)
        sessions[keep] = SessionRow(keep, plan.started_at, plan.ended_at, plan.round_count)
        if keep not in self._new_sessions:
            self._changed_sessions.add(keep)
        return keep

    def _write_sessions(self, ids: Iterable[int]) -> None:
        rows = []
        for sid in ids:
            server = self._new_sessions.pop(sid)
            s = self._sessions[server][sid]
            rows.append(
                {
                    "id": sid,
                    "server": server,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                    "round_count": s.round_count,
                }
            )
        _insert(self._sql.insert_session_with_id, rows)

    # ---- sources and rounds

    def add_source(self, values: dict[str, Any]) -> int:
        sid = self._ids.next(SourceFile)
        self._sources[sid] = {**values, "id": sid}
        return sid

    def add_round(self, values: dict[str, Any], parsed: PreparedRound) -> int:
        rid = self._ids.next(Round)
        self.rounds[rid] = {**values, "id": rid, "round1": None}
        self.parsed[rid] = parsed
        key = (values["server"], values["map"])
        self._map_rounds.setdefault(key, {})[rid] = ClusterRound(
            rid,
            parsed.ended_at,
            parsed.file_name,
            parsed.round_no,
            None,
            parsed.winner,
            parsed.defender,
            parsed.round_time_s,
        )
        self._round_key[rid] = key
        return rid

    def cluster(self, server: int, mapname: str, lo: datetime, hi: datetime) -> list[ClusterRound]:
        """The rounds of one map and server that ended in [lo, hi], in time order, as the
        database would answer after every write of the batch so far."""
        key = (server, mapname)
        known = self._map_rounds.get(key, {})
        span = self._map_span.get(key)
        if span is not None and span[0] <= lo and hi <= span[1]:
            found = [r for r in known.values() if lo <= r.ended_at <= hi]
        else:  # beyond what was read: stored rounds from the database, new ones from here
            found = fetch_cluster(self._sql, server, mapname, lo, hi)
            found += [
                r for rid, r in known.items() if rid in self.rounds and lo <= r.ended_at <= hi
            ]
        found.sort(key=lambda r: r.ended_at)
        return found

    def unpair(self, round2_ids: Sequence[int]) -> None:
        """Clear the pairing and the map result of these round 2s (before re-pairing)."""
        stored = []
        for rid in round2_ids:
            self._map_results.pop(rid, None)
            self._set_round1(rid, None)
            if rid not in self.rounds:
                stored.append(rid)
        if stored:
            Round.update(round1=None).where(Round.id.in_(stored)).execute()
            MapResult.delete().where(MapResult.round2.in_(stored)).execute()

    def pair(self, round2_id: int, round1_id: int | None) -> None:
        """Pair a round 2 with ``round1_id`` (None: an orphan)."""
        row = self.rounds.get(round2_id)
        if row is None:
            execute(self._sql.set_round1, (round1_id, round1_id is None, round2_id))
        else:
            row["orphan"] = round1_id is None
        self._set_round1(round2_id, round1_id)

    def _set_round1(self, round2_id: int, round1_id: int | None) -> None:
        row = self.rounds.get(round2_id)
        if row is not None:
            row["round1"] = round1_id
        key = self._round_key.get(round2_id)
        if key is not None:
            rounds = self._map_rounds[key]
            rounds[round2_id] = rounds[round2_id]._replace(round1_id=round1_id)

    def add_map_result(self, values: dict[str, Any]) -> None:
        self._map_results[values["round2"]] = values

    # ---- the end of the batch

    def flush(self) -> None:
        """Write every new row, in an order the foreign keys accept: sessions and sources,
        round 1s, round 2s (which name their round 1), map results."""
        self._write_sessions(list(self._new_sessions))
        for sid in sorted(self._changed_sessions):
            for server_sessions in self._sessions.values():
                s = server_sessions.get(sid)
                if s is not None:
                    execute(
                        self._sql.update_session, (s.started_at, s.ended_at, s.round_count, sid)
                    )
        _insert(self._sql.insert_source_with_id, list(self._sources.values()))
        rounds = sorted(self.rounds.values(), key=lambda r: (r["round_no"] != 1, r["id"]))
        _insert(self._sql.insert_round_with_id, rounds)
        _insert(self._sql.insert_map_result, list(self._map_results.values()))


def _widen(spans: dict[Any, tuple[datetime, datetime]], key: Any, at: datetime) -> None:
    lo, hi = spans.get(key, (at, at))
    spans[key] = (min(lo, at), max(hi, at))


def _insert(insert: Insert, rows: Sequence[dict[str, Any]]) -> None:
    for start, stop in row_chunks(len(rows)):
        chunk = rows[start:stop]
        execute(insert.sql(len(chunk)), insert.params(chunk))
