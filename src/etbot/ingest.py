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
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peewee import EXCLUDED, Case, fn

from etbot.models import (
    Alias,
    GamingSession,
    MapResult,
    Player,
    PlayerRound,
    Round,
    Server,
    SourceFile,
    WeaponRound,
    database_proxy,
)
from etbot.statsfile import ParsedPlayer, ParsedRound, ParseError, clean_name, parse_round

log = logging.getLogger(__name__)

PAIR_WINDOW = timedelta(minutes=45)
SESSION_GAP = timedelta(minutes=60)
MAX_FILE_BYTES = 4 * 1024 * 1024

#: TAB fields that are cumulative in round 2 (besides time played and bullets fired).
CUMULATIVE_TAB = (
    "damage_given",
    "damage_received",
    "team_damage_given",
    "team_damage_received",
    "gibs",
    "self_kills",
    "team_kills",
    "team_gibs",
)
#: TAB fields already round-2-only in round 2 files, stored as written.
PLAIN_TAB = (
    "xp",
    "killing_spree",
    "death_spree",
    "kill_assists",
    "kill_steals",
    "headshot_kills",
    "objectives_stolen",
    "objectives_returned",
    "dynamites_planted",
    "dynamites_defused",
    "times_revived",
    "useful_kills",
    "multikill_2",
    "multikill_3",
    "multikill_4",
    "multikill_5",
    "multikill_6",
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


class _FileRejected(Exception):
    """Internal: a file is rejected inside its savepoint (rolls it back)."""


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
        weapons[weapon] = tuple(max(a - b, 0) for a, b in zip(vals, before, strict=True))
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


def map_outcome(r1: Round | ParsedRound, r2: Round | ParsedRound) -> tuple[str, int | None]:
    """Stopwatch result of a map: (outcome, winning team in round 2 colours)."""
    if r2.winner != r2.defender:
        return "beat_time", r2.winner
    if r1.winner != r1.defender:
        return "held", r2.winner
    return "draw", None


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


class Importer:
    """Imports stats files into the bound database. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        self._servers: dict[str, int] = {}
        self._players: dict[str, int] = {}

    # ---- public API

    def import_bytes(self, data: bytes, file_name: str) -> FileResult:
        """Import one file in its own transaction."""
        report = ImportReport()
        return self.import_many([(file_name, data)], report)[0]

    def import_many(
        self,
        files: Iterable[tuple[str, bytes]],
        report: ImportReport | None = None,
        progress: Callable[[FileResult], None] | None = None,
    ) -> list[FileResult]:
        """Import several files in one transaction, each inside its own savepoint."""
        report = report if report is not None else ImportReport()
        results: list[FileResult] = []
        try:
            with database_proxy.atomic():
                for file_name, data in files:
                    result = self._import_one(file_name, data, report)
                    results.append(result)
                    report.add(result)
                    if progress is not None:
                        progress(result)
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

    def _import_one(self, file_name: str, data: bytes, report: ImportReport) -> FileResult:
        digest = sha256(data)
        if SourceFile.select(SourceFile.id).where(SourceFile.sha256 == digest).exists():
            return FileResult(file_name, "duplicate", "same content already imported")
        try:
            parsed = parse_round(data, file_name)
        except ParseError as exc:
            reason = exc.reason if exc.line is None else f"line {exc.line}: {exc.reason}"
            return FileResult(file_name, "rejected", reason)
        try:
            with database_proxy.savepoint():
                return self._store(parsed, data, digest, report)
        except _FileRejected as exc:
            self._forget()
            return FileResult(file_name, "rejected", str(exc))
        except Exception as exc:
            # Any database error rolls back this whole file (the savepoint), never half.
            self._forget()
            log.exception("database error while importing %s", file_name)
            return FileResult(file_name, "rejected", f"database error: {exc}")

    def _store(
        self, parsed: ParsedRound, data: bytes, digest: str, report: ImportReport
    ) -> FileResult:
        server_id = self._server_id(parsed.server_name)
        clash = Round.select(Round.id).where(
            (Round.server == server_id) & (Round.file_name == parsed.file_name)
        )
        if clash.exists():
            raise _FileRejected(
                "a different file with the same name from the same server was already "
                "imported (re-uploaded with other content?)"
            )
        source_id = SourceFile.insert(
            sha256=digest,
            file_name=parsed.file_name,
            content=zlib.compress(data, 6),
            imported_at=datetime.now(),
        ).execute()
        humans = [p for p in parsed.players if not p.is_bot]
        round_id = Round.insert(
            source=source_id,
            file_name=parsed.file_name,
            server=server_id,
            map=parsed.map,
            round_no=parsed.round_no,
            ended_at=parsed.ended_at,
            config=parsed.config,
            defender=parsed.defender,
            winner=parsed.winner,
            time_limit_s=parsed.time_limit_s,
            round_time_s=parsed.round_time_s,
            play_time_ms=parsed.play_time_ms,
            layout=parsed.layout,
            orphan=parsed.round_no == 2,
            player_count=len(humans),
            bot_count=len(parsed.players) - len(humans),
        ).execute()
        player_ids = self._upsert_players(humans, parsed.ended_at)
        report.new_round_ids.append(round_id)
        report.player_ids.update(player_ids.values())
        if parsed.round_no == 1:
            self._write_rows(round_id, parsed, player_ids, None)
        self._assign_session(round_id, server_id, parsed.ended_at)
        changed = self._repair(server_id, parsed.map, parsed.ended_at, {round_id: parsed})
        report.repaired_round_ids.extend(r for r in changed if r != round_id)
        paired = False
        if parsed.round_no == 2:
            paired = Round.get_by_id(round_id).round1_id is not None
        return FileResult(
            parsed.file_name,
            "imported",
            round_id=round_id,
            round_no=parsed.round_no,
            paired=paired,
            orphan=parsed.round_no == 2 and not paired,
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

    def _upsert_players(self, humans: Sequence[ParsedPlayer], seen: datetime) -> dict[str, int]:
        if not humans:
            return {}
        newer = EXCLUDED.last_seen >= Player.last_seen
        Player.insert_many(
            [
                {
                    "guid": p.guid,
                    "name": p.name,
                    "raw_name": p.raw_name,
                    "first_seen": seen,
                    "last_seen": seen,
                }
                for p in humans
            ]
        ).on_conflict(
            conflict_target=[Player.guid],
            update={
                Player.name: Case(None, [(newer, EXCLUDED.name)], Player.name),
                Player.raw_name: Case(None, [(newer, EXCLUDED.raw_name)], Player.raw_name),
                Player.last_seen: Case(None, [(newer, EXCLUDED.last_seen)], Player.last_seen),
                Player.first_seen: Case(
                    None,
                    [(EXCLUDED.first_seen < Player.first_seen, EXCLUDED.first_seen)],
                    Player.first_seen,
                ),
            },
        ).execute()
        missing = [p.guid for p in humans if p.guid not in self._players]
        if missing:
            for pid, guid in (
                Player.select(Player.id, Player.guid).where(Player.guid.in_(missing)).tuples()
            ):
                self._players[guid] = pid
        ids = {p.guid: self._players[p.guid] for p in humans}
        alias_newer = EXCLUDED.last_seen >= Alias.last_seen
        Alias.insert_many(
            [
                {
                    "player": ids[p.guid],
                    "name": p.name,
                    "name_lower": p.name.lower(),
                    "raw_name": p.raw_name,
                    "first_seen": seen,
                    "last_seen": seen,
                    "rounds": 1,
                }
                for p in humans  # GUIDs are unique per file, so (player, name) is too
            ]
        ).on_conflict(
            conflict_target=[Alias.player, Alias.name],
            update={
                Alias.rounds: Alias.rounds + 1,
                Alias.raw_name: Case(None, [(alias_newer, EXCLUDED.raw_name)], Alias.raw_name),
                Alias.last_seen: Case(None, [(alias_newer, EXCLUDED.last_seen)], Alias.last_seen),
                Alias.first_seen: Case(
                    None,
                    [(EXCLUDED.first_seen < Alias.first_seen, EXCLUDED.first_seen)],
                    Alias.first_seen,
                ),
            },
        ).execute()
        return ids

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
                ended_at=parsed.ended_at,
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
        if rows:
            PlayerRound.insert_many(rows).execute()
        if weapon_rows:
            WeaponRound.insert_many(
                weapon_rows,
                fields=[
                    WeaponRound.round,
                    WeaponRound.player,
                    WeaponRound.weapon,
                    WeaponRound.hits,
                    WeaponRound.shots,
                    WeaponRound.kills,
                    WeaponRound.deaths,
                    WeaponRound.headshots,
                ],
            ).execute()

    # ---- pairing

    def _repair(
        self,
        server_id: int,
        mapname: str,
        around: datetime,
        parsed_by_id: dict[int, ParsedRound],
    ) -> list[int]:
        """Recompute pairing around ``around``; re-derive every round 2 whose partner changed.

        Returns the ids of round 2s (re)written. A brand-new round 2 (in
        ``parsed_by_id``) is always written here.
        """
        cluster = _cluster(server_id, mapname, around)
        pairs = pair_rounds([(r.id, r.ended_at, r.file_name, r.round_no) for r in cluster])
        changed = [
            r
            for r in cluster
            if r.round_no == 2 and (pairs.get(r.id) != r.round1_id or r.id in parsed_by_id)
        ]
        if not changed:
            return []
        ids = [r.id for r in changed]
        # Clear first so the unique round1 column never sees a transient duplicate.
        Round.update(round1=None).where(Round.id.in_(ids)).execute()
        MapResult.delete().where(MapResult.round2.in_(ids)).execute()
        by_id = {r.id: r for r in cluster}
        for r2 in changed:
            r1_id = pairs.get(r2.id)
            Round.update(round1=r1_id, orphan=r1_id is None).where(Round.id == r2.id).execute()
            parsed = parsed_by_id.get(r2.id)
            if parsed is None:
                parsed = _reparse(r2.id)
                PlayerRound.delete().where(PlayerRound.round == r2.id).execute()
                WeaponRound.delete().where(WeaponRound.round == r2.id).execute()
            player_ids = self._player_ids_for(parsed)
            self._write_rows(r2.id, parsed, player_ids, r1_id)
            if r1_id is not None:
                r1 = by_id[r1_id]
                outcome, winner = map_outcome(r1, parsed)
                MapResult.insert(
                    round1=r1_id,
                    round2=r2.id,
                    map=mapname,
                    ended_at=r2.ended_at,
                    outcome=outcome,
                    winner_team=winner,
                    round1_time_s=r1.round_time_s,
                    round2_time_s=parsed.round_time_s,
                ).execute()
        return ids

    def _player_ids_for(self, parsed: ParsedRound) -> dict[str, int]:
        guids = [p.guid for p in parsed.players if not p.is_bot]
        missing = [g for g in guids if g not in self._players]
        if missing:
            for pid, guid in (
                Player.select(Player.id, Player.guid).where(Player.guid.in_(missing)).tuples()
            ):
                self._players[guid] = pid
        return {g: self._players[g] for g in guids}

    # ---- sessions

    def _assign_session(self, round_id: int, server_id: int, ended_at: datetime) -> None:
        touching = list(
            GamingSession.select()
            .where(
                (GamingSession.server == server_id)
                & (GamingSession.started_at <= ended_at + SESSION_GAP)
                & (GamingSession.ended_at >= ended_at - SESSION_GAP)
            )
            .order_by(GamingSession.started_at)
        )
        if not touching:
            session_id = GamingSession.insert(
                server=server_id, started_at=ended_at, ended_at=ended_at, round_count=1
            ).execute()
            Round.update(session=session_id).where(Round.id == round_id).execute()
            return
        keep = touching[0]
        start = min([ended_at] + [s.started_at for s in touching])
        end = max([ended_at] + [s.ended_at for s in touching])
        count = 1 + sum(s.round_count for s in touching)
        others = [s.id for s in touching[1:]]
        if others:  # this round bridges sessions: merge them into the first
            Round.update(session=keep.id).where(Round.session.in_(others)).execute()
            GamingSession.delete().where(GamingSession.id.in_(others)).execute()
        GamingSession.update(started_at=start, ended_at=end, round_count=count).where(
            GamingSession.id == keep.id
        ).execute()
        Round.update(session=keep.id).where(Round.id == round_id).execute()


def _cluster(server_id: int, mapname: str, around: datetime) -> list[Round]:
    """Rounds of this map and server chained to ``around`` by gaps of at most 45 minutes."""
    lo = hi = around
    while True:
        rounds = list(
            Round.select(
                Round.id,
                Round.ended_at,
                Round.file_name,
                Round.round_no,
                Round.round1,
                Round.winner,
                Round.defender,
                Round.round_time_s,
            )
            .where(
                (Round.server == server_id)
                & (Round.map == mapname)
                & (Round.ended_at >= lo - PAIR_WINDOW)
                & (Round.ended_at <= hi + PAIR_WINDOW)
            )
            .order_by(Round.ended_at)
        )
        new_lo = min(r.ended_at for r in rounds) if rounds else lo
        new_hi = max(r.ended_at for r in rounds) if rounds else hi
        if (new_lo, new_hi) == (lo, hi):
            return rounds
        lo, hi = min(lo, new_lo), max(hi, new_hi)


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
    fields = [PlayerRound.player, PlayerRound.rounds_counter] + [
        getattr(PlayerRound, c) for c in cols
    ]
    for row in PlayerRound.select(*fields).where(PlayerRound.round == round_id).tuples():
        out[row[0]] = (dict(zip(cols, row[2:], strict=True)), {}, row[1])
    for pid, weapon, *vals in (
        WeaponRound.select(
            WeaponRound.player,
            WeaponRound.weapon,
            WeaponRound.hits,
            WeaponRound.shots,
            WeaponRound.kills,
            WeaponRound.deaths,
            WeaponRound.headshots,
        )
        .where(WeaponRound.round == round_id)
        .tuples()
    ):
        if pid in out:
            out[pid][1][weapon] = tuple(vals)
    return out


def rebuild_counts() -> None:
    """Recompute derived counters from the rows (maintenance; not needed by ingest)."""
    counts = (
        PlayerRound.select(PlayerRound.player, PlayerRound.name, fn.COUNT(PlayerRound.id))
        .group_by(PlayerRound.player, PlayerRound.name)
        .tuples()
    )
    for pid, name, n in counts:
        Alias.update(rounds=n).where((Alias.player == pid) & (Alias.name == name)).execute()
