"""Import stats files into the database: dedupe, pair, differential, aliases, sessions.

Rules (FORMAT.md):

* A file is identified by the SHA-256 of its bytes; the same content twice is a no-op.
* A round 2 belongs to the latest earlier round 1 of the same map (and server) that
  ended at most 45 minutes before it and is not already paired. Pairing is computed as
  a deterministic function of the set of rounds, so the import order never matters: when
  a round arrives, the pairing of its "cluster" (rounds of that map chained by gaps of
  at most 45 minutes) is recomputed and every round 2 whose partner changed is
  re-derived from its stored file.
* Round 2 files are partly cumulative; we store round-2-only values. A player absent
  from round 1, or whose counters went down (reconnect reset) or whose ``rounds``
  counter did not go up, is taken as written.
* Unpaired round 2s are orphans: stored, flagged, left out of aggregates.
* Gaming sessions: rounds of one server with no gap longer than 60 minutes.

Atomicity: each file runs inside its own savepoint within a batch transaction, so a bad
file rolls back completely while the rest of the batch goes on, and a crash leaves no
half file. Everything here is synchronous peewee code; the bot runs it off the loop.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peewee import IntegrityError

from etbot import aggregates
from etbot.db import as_datetime, is_locked_error, retry_locked
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
from etbot.statsfile import (
    MULTIKILLS,
    TAB_FIELDS,
    ParsedPlayer,
    ParsedRound,
    ParseError,
    clean_name,
    parse_round,
)

log = logging.getLogger(__name__)

PAIR_WINDOW = timedelta(minutes=45)
SESSION_GAP = timedelta(minutes=60)
MAX_FILE_BYTES = 4 * 1024 * 1024

#: TAB fields 0–7: cumulative in round 2 (besides time played and bullets fired).
CUMULATIVE_TAB = TAB_FIELDS[0:8]
#: TAB fields already round-2-only in round 2 files, stored as written: 9–19, useful kills
#: and the multikills (FORMAT.md: "fields 9–19, 25 and 27+ already cover round 2 only";
#: 25, time dead, and the layout-dependent fields below are handled apart).
PLAIN_TAB = (
    *TAB_FIELDS[9:20],
    "useful_kills",
    *MULTIKILLS,
)
#: Layout-dependent fields: NULL (unknown) where the file's layout lacks them.
OPTIONAL_TAB = ("denied_playtime", "useless_kills", "full_selfkills", "repairs", "revives_given")
WEAPON_TOTALS = ("hits", "kills", "deaths", "headshots")


# --------------------------------------------------------------------------- results


@dataclass
class FileResult:
    """What happened to one file."""

    file_name: str
    status: str  # "imported" | "duplicate" | "rejected"
    reason: str = ""
    round_id: int | None = None
    round_no: int | None = None
    paired: bool = False
    orphan: bool = False
    #: Other round 2s re-derived because this file changed their pairing.
    repaired_round_ids: list[int] = field(default_factory=list)
    player_ids: list[int] = field(default_factory=list)


@dataclass
class ImportReport:
    """Summary of an import run (what the CLI prints and the bot announces)."""

    imported: int = 0
    duplicates: int = 0
    paired: int = 0
    orphans: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    #: Rounds inserted, and round 2s re-derived because their pairing changed.
    new_round_ids: list[int] = field(default_factory=list)
    repaired_round_ids: list[int] = field(default_factory=list)
    player_ids: set[int] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(self.new_round_ids or self.repaired_round_ids)

    def add(self, result: FileResult) -> None:
        if result.status == "imported":
            self.imported += 1
            if result.round_id is not None:
                self.new_round_ids.append(result.round_id)
            self.repaired_round_ids.extend(result.repaired_round_ids)
            self.player_ids.update(result.player_ids)
            if result.round_no == 2:
                if result.paired:
                    self.paired += 1
                else:
                    self.orphans += 1
        elif result.status == "duplicate":
            self.duplicates += 1
        else:
            self.rejected.append((result.file_name, result.reason))

    def summary(self) -> str:
        return (
            f"{self.imported} imported, {self.duplicates} duplicates, "
            f"{self.paired} round 2s paired, {self.orphans} orphans, "
            f"{len(self.rejected)} rejected"
        )


# --------------------------------------------------------------------------- pure helpers


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def player_values(p: ParsedPlayer, layout: int) -> dict[str, Any]:
    """A player's values as written in the file, in PlayerRound column names."""
    tab = p.tab
    played = round(float(tab["time_played_min"] or 0.0) * 60)
    dead = round(float(tab["time_dead_min"] or 0.0) * 60)
    values: dict[str, Any] = {
        "kills": p.kills,
        "deaths": p.deaths,
        "hits": p.hits,
        "shots": p.shots,
        "headshots": p.headshots,
        "time_played_s": played,
        "time_dead_s": dead,
        "tank_meatshield": float(tab["tank_meatshield"] or 0.0),
        # Bullets fired is only meaningful in the current layout (FORMAT.md).
        "bullets_fired": tab["bullets_fired"] if layout == 38 else None,
    }
    for name in CUMULATIVE_TAB + PLAIN_TAB:
        values[name] = int(tab[name] or 0)
    for name in OPTIONAL_TAB:
        values[name] = tab[name]
    return values


def weapon_values(p: ParsedPlayer) -> dict[int, tuple[int, int, int, int, int]]:
    return {w.weapon: (w.hits, w.shots, w.kills, w.deaths, w.headshots) for w in p.weapons}


def is_reset(r2: dict[str, Any], r1: dict[str, Any], r2_rounds: int, r1_rounds: int) -> bool:
    """Did this player's counters restart between round 1 and round 2 (reconnect)?

    Any cumulative TAB field, time played or weapon total (hits, kills, deaths,
    headshots — never shots, which the game can decrement) smaller in round 2, or a
    ``rounds`` counter that did not go up.
    """
    for name in (*CUMULATIVE_TAB, "time_played_s", *WEAPON_TOTALS):
        if r2[name] < r1[name]:
            return True
    return r2_rounds <= r1_rounds


def round2_only(
    r2: dict[str, Any],
    r2_weapons: dict[int, tuple[int, ...]],
    r1: dict[str, Any],
    r1_weapons: dict[int, tuple[int, ...]],
) -> tuple[dict[str, Any], dict[int, tuple[int, ...]]]:
    """Subtract round 1 from a cumulative round 2 (weapons per weapon, floored at 0)."""
    weapons: dict[int, tuple[int, ...]] = {}
    zero = (0, 0, 0, 0, 0)
    for weapon, vals in r2_weapons.items():
        before = r1_weapons.get(weapon, zero)
        h, s, k, d, hs = vals
        bh, bs, bk, bd, bhs = before
        weapons[weapon] = (
            max(h - bh, 0),
            max(s - bs, 0),
            max(k - bk, 0),
            max(d - bd, 0),
            max(hs - bhs, 0),
        )
    out = dict(r2)
    out["hits"] = sum(w[0] for w in weapons.values())
    out["shots"] = sum(w[1] for w in weapons.values())
    out["kills"] = sum(w[2] for w in weapons.values())
    out["deaths"] = sum(w[3] for w in weapons.values())
    out["headshots"] = sum(w[4] for w in weapons.values())
    for name in CUMULATIVE_TAB:
        out[name] = r2[name] - r1[name]
    out["time_played_s"] = r2["time_played_s"] - r1["time_played_s"]
    if r2["bullets_fired"] is not None and r1.get("bullets_fired") is not None:
        out["bullets_fired"] = max(r2["bullets_fired"] - r1["bullets_fired"], 0)
    else:
        out["bullets_fired"] = None
    return out, weapons


def pair_rounds(rounds: Sequence[tuple[Any, datetime, str, int]]) -> dict[Any, Any]:
    """Deterministic pairing of a set of rounds of one map and server.

    ``rounds`` are (key, ended_at, file_name, round_no). Returns {round2 key: round1 key}
    for every paired round 2. Each round 2, in time order, takes the latest earlier
    unpaired round 1 that ended at most 45 minutes before it.
    """
    ordered = sorted(rounds, key=lambda r: (r[1], r[2]))
    available: list[tuple[Any, datetime, str, int]] = []
    pairs: dict[Any, Any] = {}
    for item in ordered:
        key, ended, _name, round_no = item
        if round_no == 1:
            available.append(item)
            continue
        best = None
        for cand in available:
            in_window = cand[1] < ended and ended - cand[1] <= PAIR_WINDOW
            if in_window and (best is None or (cand[1], cand[2]) > (best[1], best[2])):
                best = cand
        if best is not None:
            available.remove(best)
            pairs[key] = best[0]
    return pairs


def iter_stats_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Expand files and folders (recursively) into ``*.txt`` stats files, sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.txt") if p.is_file())
        else:
            yield path


# --------------------------------------------------------------------------- importer


class _Sql:
    """Hand-built SQL for the hot paths of an import.

    peewee's query builder costs more than the database itself when thousands of small
    files arrive (measured: about 60% of import time), so the statements run for every
    file are built once per database here. Everything stays parameterised; the SQL is
    the same on SQLite (≥ 3.35 for RETURNING) and PostgreSQL.
    """

    def __init__(self) -> None:
        p = database_proxy.param
        self.p = p
        self.pr_cols = [f.column_name for f in PlayerRound._meta.sorted_fields if f.name != "id"]
        self.pr_names = [f.name for f in PlayerRound._meta.sorted_fields if f.name != "id"]
        self.pr_getter = operator.itemgetter(*self.pr_names)
        self.source_exists = f'SELECT 1 FROM "source_file" WHERE "sha256" = {p} LIMIT 1'
        self.insert_source = (
            'INSERT INTO "source_file" ("sha256", "file_name", "content", "imported_at") '
            f'VALUES ({p}, {p}, {p}, {p}) RETURNING "id"'
        )
        round_cols = [
            "source_id",
            "file_name",
            "server_id",
            "map",
            "round_no",
            "ended_at",
            "config",
            "defender",
            "winner",
            "time_limit_s",
            "round_time_s",
            "play_time_ms",
            "layout",
            "orphan",
            "session_id",
            "player_count",
            "bot_count",
        ]
        self.insert_round = (
            f'INSERT INTO "round" ({", ".join(round_cols)}) '
            f"VALUES ({', '.join([p] * len(round_cols))}) RETURNING id"
        )
        newer = 'excluded.last_seen >= "player".last_seen'
        self.upsert_player_head = (
            'INSERT INTO "player" (guid, name, raw_name, first_seen, last_seen) VALUES '
        )
        self.upsert_player_tail = (
            " ON CONFLICT (guid) DO UPDATE SET "
            f'name = CASE WHEN {newer} THEN excluded.name ELSE "player".name END, '
            f'raw_name = CASE WHEN {newer} THEN excluded.raw_name ELSE "player".raw_name END, '
            f'last_seen = CASE WHEN {newer} THEN excluded.last_seen ELSE "player".last_seen END, '
            'first_seen = CASE WHEN excluded.first_seen < "player".first_seen '
            'THEN excluded.first_seen ELSE "player".first_seen END'
        )
        anewer = 'excluded.last_seen >= "alias".last_seen'
        self.upsert_alias_head = (
            'INSERT INTO "alias" (player_id, name, name_lower, raw_name, first_seen, last_seen, '
            "rounds) VALUES "
        )
        self.upsert_alias_tail = (
            " ON CONFLICT (player_id, name) DO UPDATE SET "
            'rounds = "alias".rounds + 1, '
            f'raw_name = CASE WHEN {anewer} THEN excluded.raw_name ELSE "alias".raw_name END, '
            f'last_seen = CASE WHEN {anewer} THEN excluded.last_seen ELSE "alias".last_seen END, '
            'first_seen = CASE WHEN excluded.first_seen < "alias".first_seen '
            'THEN excluded.first_seen ELSE "alias".first_seen END'
        )
        self.cluster = (
            "SELECT id, ended_at, file_name, round_no, round1_id, winner, defender, round_time_s "
            f'FROM "round" WHERE server_id = {p} AND map = {p} AND ended_at >= {p} '
            f"AND ended_at <= {p} ORDER BY ended_at"
        )
        self.set_round1 = f'UPDATE "round" SET round1_id = {p}, orphan = {p} WHERE id = {p}'
        self.insert_map_result = (
            'INSERT INTO "map_result" (round1_id, round2_id, map, ended_at, outcome, '
            f"winner_team, round1_time_s, round2_time_s) VALUES ({', '.join([p] * 8)})"
        )
        self.sessions = (
            'SELECT id, started_at, ended_at, round_count FROM "gaming_session" '
            f"WHERE server_id = {p} AND started_at <= {p} AND ended_at >= {p} ORDER BY started_at"
        )
        self.update_session = (
            f'UPDATE "gaming_session" SET started_at = {p}, ended_at = {p}, round_count = {p} '
            f"WHERE id = {p}"
        )
        self.insert_session = (
            'INSERT INTO "gaming_session" (server_id, started_at, ended_at, round_count) '
            f"VALUES ({p}, {p}, {p}, 1) RETURNING id"
        )

    def values(self, ncols: int, nrows: int) -> str:
        row = "(" + ", ".join([self.p] * ncols) + ")"
        return ", ".join([row] * nrows)


def _execute(sql: str, params: Sequence[Any] = ()) -> Any:
    return database_proxy.execute_sql(sql, params)


class Importer:
    """Imports stats files into the bound database. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        self._servers: dict[str, int] = {}
        self._players: dict[str, int] = {}
        self._sql_cache: _Sql | None = None

    @property
    def _sql(self) -> _Sql:
        if self._sql_cache is None:
            self._sql_cache = _Sql()
        return self._sql_cache

    # ---- public API

    def import_many(
        self,
        files: Iterable[tuple[str, bytes]],
        report: ImportReport | None = None,
        progress: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Import several files in one transaction, each inside its own savepoint.

        When SQLite reports "database is locked" (another writer held the lock longer than
        the busy timeout), the whole batch is rolled back and run again.
        """
        batch = list(files)
        results = retry_locked(lambda: self._import_batch(batch))
        report = report if report is not None else ImportReport()
        for result in results:  # only once committed
            report.add(result)
            if progress is not None:
                progress(result)
        return results

    def _import_batch(self, files: list[tuple[str, bytes]]) -> list[FileResult]:
        results: list[FileResult] = []
        try:
            with database_proxy.atomic():
                for file_name, data in files:
                    results.append(self._import_one(file_name, data))
                # Derived tables follow the rows in the same transaction.
                touched = [r.round_id for r in results if r.round_id is not None]
                touched += [i for r in results for i in r.repaired_round_ids]
                if touched:
                    aggregates.refresh_rounds(touched)
        except BaseException:
            self._forget()  # ids cached inside the rolled-back transaction are gone
            raise
        return results

    def import_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        batch_size: int = 200,
        progress: Callable[[FileResult], None] | None = None,
    ) -> ImportReport:
        """Import files and folders; unreadable or bad files are reported, never fatal."""
        report = ImportReport()
        batch: list[tuple[str, bytes]] = []
        for path in iter_stats_files(paths):
            try:
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    raise OSError(f"file is {size} bytes, larger than any stats file")
                data = path.read_bytes()
            except OSError as exc:
                result = FileResult(path.name, "rejected", f"cannot read: {exc}")
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

    # ---- one file

    def _import_one(self, file_name: str, data: bytes) -> FileResult:
        digest = sha256(data)
        if _execute(self._sql.source_exists, (digest,)).fetchone() is not None:
            return FileResult(file_name, "duplicate", "same content already imported")
        try:
            parsed = parse_round(data, file_name)
        except ParseError as exc:
            reason = exc.reason if exc.line is None else f"line {exc.line}: {exc.reason}"
            return FileResult(file_name, "rejected", reason)
        try:
            with database_proxy.savepoint():
                return self._store(parsed, data, digest)
        except IntegrityError as exc:
            self._forget()
            if "file_name" in str(exc) or "round_server_id_file_name" in str(exc):
                reason = (
                    "a different file with the same name from the same server was already "
                    "imported (re-uploaded with other content?)"
                )
            else:
                reason = f"database error: {exc}"
            return FileResult(file_name, "rejected", reason)
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
        source_id = _execute(
            sql.insert_source,
            (digest, parsed.file_name, zlib.compress(data, 1), datetime.now()),
        ).fetchone()[0]
        humans = [p for p in parsed.players if not p.is_bot]
        round_id = _execute(
            sql.insert_round,
            (
                source_id,
                parsed.file_name,
                server_id,
                parsed.map,
                parsed.round_no,
                parsed.ended_at,
                parsed.config,
                parsed.defender,
                parsed.winner,
                parsed.time_limit_s,
                parsed.round_time_s,
                parsed.play_time_ms,
                parsed.layout,
                parsed.round_no == 2,
                session_id,
                len(humans),
                len(parsed.players) - len(humans),
            ),
        ).fetchone()[0]
        player_ids = self._upsert_players(humans, db_time(parsed.ended_at))
        if parsed.round_no == 1:
            self._write_rows(round_id, parsed, player_ids, None)
        pairs = self._repair(server_id, parsed.map, parsed.ended_at, {round_id: parsed})
        paired = pairs.get(round_id) is not None
        return FileResult(
            parsed.file_name,
            "imported",
            round_id=round_id,
            round_no=parsed.round_no,
            paired=paired,
            orphan=parsed.round_no == 2 and not paired,
            repaired_round_ids=[r for r in pairs if r != round_id],
            player_ids=list(player_ids.values()),
        )

    # ---- players and aliases

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
        params: list[Any] = []
        for p in humans:
            params += (p.guid, p.name, p.raw_name, seen, seen)
        _execute(
            sql.upsert_player_head + sql.values(5, len(humans)) + sql.upsert_player_tail, params
        )
        ids = self._player_ids_for(humans)
        params = []
        for p in humans:  # GUIDs are unique per file, so (player, name) is too
            params += (ids[p.guid], p.name, p.name.lower(), p.raw_name, seen, seen, 1)
        _execute(sql.upsert_alias_head + sql.values(7, len(humans)) + sql.upsert_alias_tail, params)
        return ids

    def _player_ids_for(self, players: Iterable[ParsedPlayer]) -> dict[str, int]:
        guids = [p.guid for p in players if not p.is_bot]
        missing = [g for g in guids if g not in self._players]
        if missing:
            marks = ", ".join([self._sql.p] * len(missing))
            rows = _execute(f'SELECT id, guid FROM "player" WHERE guid IN ({marks})', missing)
            for pid, guid in rows.fetchall():
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
        r1_values: dict[int, tuple[dict[str, Any], dict[int, tuple[int, ...]], int]] = {}
        if round1_id is not None:
            r1_values = _stored_values(round1_id)
        rows: list[dict[str, Any]] = []
        weapon_rows: list[tuple[Any, ...]] = []
        orphan = parsed.round_no == 2 and round1_id is None
        ended_at = db_time(parsed.ended_at)
        for p in parsed.players:
            if p.is_bot:
                continue
            pid = player_ids[p.guid]
            values = player_values(p, parsed.layout)
            weapons: dict[int, tuple[int, ...]] = weapon_values(p)  # type: ignore[assignment]
            reset = False
            only_r2 = False
            if parsed.round_no == 2 and round1_id is not None:
                before = r1_values.get(pid)
                if before is None:
                    only_r2 = True
                elif is_reset(values, before[0], p.rounds, before[2]):
                    reset = True
                else:
                    values, weapons = round2_only(values, weapons, before[0], before[1])
            if values["time_dead_s"] > values["time_played_s"]:
                values["time_dead_s"] = values["time_played_s"]
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
                reset=reset,
                only_round2=only_r2,
            )
            rows.append(values)
            for weapon, vals in weapons.items():
                if any(vals):
                    weapon_rows.append((round_id, pid, weapon, *vals))
        sql = self._sql
        if rows:
            params: list[Any] = []
            for values in rows:
                params += sql.pr_getter(values)
            _execute(
                f'INSERT INTO "player_round" ({", ".join(sql.pr_cols)}) VALUES '
                + sql.values(len(sql.pr_cols), len(rows)),
                params,
            )
        if weapon_rows:
            _execute(
                'INSERT INTO "weapon_round" (round_id, player_id, weapon, hits, shots, kills, '
                "deaths, headshots) VALUES " + sql.values(8, len(weapon_rows)),
                [v for r in weapon_rows for v in r],
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
        cluster = self._cluster(server_id, mapname, around)
        pairs = pair_rounds([(r[0], r[1], r[2], r[3]) for r in cluster])
        changed = [
            r for r in cluster if r[3] == 2 and (pairs.get(r[0]) != r[4] or r[0] in parsed_by_id)
        ]
        if not changed:
            return {}
        stored = [r[0] for r in changed if r[0] not in parsed_by_id]
        if stored:
            # Clear first so the unique round1 column never sees a transient duplicate.
            Round.update(round1=None).where(Round.id.in_(stored)).execute()
            MapResult.delete().where(MapResult.round2.in_(stored)).execute()
        sql = self._sql
        by_id = {r[0]: r for r in cluster}
        written: dict[int, int | None] = {}
        for r2 in changed:
            r2_id = r2[0]
            r1_id = pairs.get(r2_id)
            written[r2_id] = r1_id
            _execute(sql.set_round1, (r1_id, r1_id is None, r2_id))
            parsed = parsed_by_id.get(r2_id)
            if parsed is None:
                parsed = _reparse(r2_id)
                PlayerRound.delete().where(PlayerRound.round == r2_id).execute()
                WeaponRound.delete().where(WeaponRound.round == r2_id).execute()
            self._write_rows(r2_id, parsed, self._player_ids_for(parsed.players), r1_id)
            if r1_id is not None:
                r1 = by_id[r1_id]
                outcome, winner = map_outcome_from(r1[5], r1[6], parsed.winner, parsed.defender)
                _execute(
                    sql.insert_map_result,
                    (r1_id, r2_id, mapname, r2[1], outcome, winner, r1[7], parsed.round_time_s),
                )
        return written

    def _cluster(self, server_id: int, mapname: str, around: datetime) -> list[tuple[Any, ...]]:
        """Rounds of this map and server chained to ``around`` by gaps of at most 45 minutes.

        Rows: (id, ended_at, file_name, round_no, round1_id, winner, defender, round_time_s).
        """
        lo = hi = around
        while True:
            rounds = [
                (r[0], as_datetime(r[1]), *r[2:])
                for r in _execute(
                    self._sql.cluster, (server_id, mapname, lo - PAIR_WINDOW, hi + PAIR_WINDOW)
                ).fetchall()
            ]
            new_lo = min((r[1] for r in rounds), default=lo)
            new_hi = max((r[1] for r in rounds), default=hi)
            if new_lo >= lo and new_hi <= hi:
                return rounds
            lo, hi = min(lo, new_lo), max(hi, new_hi)

    # ---- sessions

    def _session_for(self, server_id: int, ended_at: datetime) -> int:
        """The gaming session a round ending at ``ended_at`` belongs to (merging if it bridges)."""
        sql = self._sql
        touching = [
            (r[0], as_datetime(r[1]), as_datetime(r[2]), r[3])
            for r in _execute(
                sql.sessions, (server_id, ended_at + SESSION_GAP, ended_at - SESSION_GAP)
            ).fetchall()
        ]
        if not touching:
            return int(_execute(sql.insert_session, (server_id, ended_at, ended_at)).fetchone()[0])
        keep = touching[0][0]
        start = min([ended_at] + [s[1] for s in touching])
        end = max([ended_at] + [s[2] for s in touching])
        count = 1 + sum(s[3] for s in touching)
        others = [s[0] for s in touching[1:]]
        if others:  # this round bridges sessions: merge them into the first
            Round.update(session=keep).where(Round.session.in_(others)).execute()
            GamingSession.delete().where(GamingSession.id.in_(others)).execute()
        _execute(sql.update_session, (start, end, count, keep))
        return int(keep)


def map_outcome_from(
    r1_winner: int, r1_defender: int, r2_winner: int, r2_defender: int
) -> tuple[str, int | None]:
    """Stopwatch result of a map: (outcome, winning team in round 2 colours)."""
    if r2_winner != r2_defender:
        return "beat_time", r2_winner
    if r1_winner != r1_defender:
        return "held", r2_winner
    return "draw", None


def db_time(value: datetime) -> str:
    """A timestamp as the database stores it, formatted once per file instead of once per
    row (sqlite3 would call its adapter for every value; PostgreSQL casts the text)."""
    return value.isoformat(" ")


def _reparse(round_id: int) -> ParsedRound:
    source = SourceFile.select().join(Round).where(Round.id == round_id).get()
    return parse_round(zlib.decompress(source.content), source.file_name)


def _stored_values(
    round_id: int,
) -> dict[int, tuple[dict[str, Any], dict[int, tuple[int, ...]], int]]:
    """Round 1 values per player id, as stored (round 1 is stored as written)."""
    out: dict[int, tuple[dict[str, Any], dict[int, tuple[int, ...]], int]] = {}
    cols = ["kills", "deaths", "hits", "shots", "headshots", "time_played_s", "bullets_fired"]
    cols += list(CUMULATIVE_TAB)
    p = database_proxy.param
    for row in _execute(
        f'SELECT player_id, rounds_counter, {", ".join(cols)} FROM "player_round" '
        f"WHERE round_id = {p}",
        (round_id,),
    ).fetchall():
        out[row[0]] = (dict(zip(cols, row[2:], strict=True)), {}, row[1])
    for pid, weapon, *vals in _execute(
        'SELECT player_id, weapon, hits, shots, kills, deaths, headshots FROM "weapon_round" '
        f"WHERE round_id = {p}",
        (round_id,),
    ).fetchall():
        if pid in out:
            out[pid][1][weapon] = tuple(vals)
    return out
