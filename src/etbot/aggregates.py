"""Pre-aggregated per-player per-day sums, kept consistent with PlayerRound.

Leaderboards, summaries and comparisons over long periods read :class:`PlayerDay`
(one row per player and server-local calendar day) instead of every PlayerRound row:
on a five-year history that is ~20 times fewer rows. :class:`PlayerWeaponDay` does the
same for WeaponRound (favourite weapon) and :class:`PlayerMapDay` per map (best map).
PlayerDay also counts the stopwatch maps won and lost (from MapResult, on the day of the
map's round 2), so a re-paired round 2 refreshes them with its own (player, day) keys.

Both tables hold only rows that aggregates count: orphan rounds and spectator rows
(team 3) are left out, exactly like the per-round queries in :mod:`etbot.stats`.

Maintenance is by recomputation, never by increments: :func:`refresh` deletes the given
(player, day) rows and rebuilds them from PlayerRound with one ``INSERT … SELECT …
GROUP BY`` per day. That makes it idempotent and correct whatever happened to the rows
(a round 2 re-derived because its pairing changed, an orphan that got paired, …). The
ingest calls :func:`refresh_rounds` (or :func:`refresh`) at the end of each import batch,
inside its transaction; :func:`rebuild_all` recomputes everything (maintenance, tests).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from peewee import JOIN, SQL, Case, ColumnBase, PostgresqlDatabase, fn

from etbot.models import (
    MapResult,
    PlayerDay,
    PlayerMapDay,
    PlayerRound,
    PlayerWeaponDay,
    WeaponRound,
    database_proxy,
)

log = logging.getLogger(__name__)

#: Max bound parameters per IN list (SQLite's historic limit is 999 per statement).
_CHUNK = 500

Key = tuple[int, date]


def is_postgres() -> bool:
    """True when the bound database is PostgreSQL."""
    return isinstance(database_proxy.obj, PostgresqlDatabase)


def day_of(column: ColumnBase) -> ColumnBase:
    """SQL expression: the calendar date of a naive datetime column (server local)."""
    if is_postgres():
        return column.cast("date")
    return fn.date(column)


def counted() -> ColumnBase:
    """WHERE clause of PlayerRound rows that aggregates count (no orphans, no spectators)."""
    return (PlayerRound.orphan == False) & (PlayerRound.team != 3)  # noqa: E712


def objectives_expr() -> ColumnBase:
    """Objectives of one PlayerRound row (the project-wide definition)."""
    return (
        PlayerRound.dynamites_planted
        + PlayerRound.dynamites_defused
        + PlayerRound.objectives_stolen
        + PlayerRound.objectives_returned
        + fn.COALESCE(PlayerRound.repairs, 0)
    )


def revives_expr() -> ColumnBase:
    """Revives given by one PlayerRound row (unknown in old layouts → 0)."""
    return fn.COALESCE(PlayerRound.revives_given, 0)


#: PlayerDay columns that are plain sums of the PlayerRound column of the same name.
SUMMED = (
    "kills",
    "deaths",
    "hits",
    "shots",
    "headshots",
    "headshot_kills",
    "damage_given",
    "damage_received",
    "team_damage_given",
    "gibs",
    "self_kills",
    "team_kills",
    "xp",
    "kill_assists",
    "time_played_s",
)
WEAPON_SUMMED = ("kills", "deaths", "hits", "shots", "headshots")


def _day_select(where: ColumnBase) -> tuple[list[Any], Any]:
    day = day_of(PlayerRound.ended_at)
    columns: list[Any] = [
        PlayerRound.player,
        day,
        fn.COUNT(PlayerRound.id),
        fn.MIN(PlayerRound.ended_at),
        fn.MAX(PlayerRound.ended_at),
    ]
    fields: list[Any] = [
        PlayerDay.player,
        PlayerDay.day,
        PlayerDay.rounds,
        PlayerDay.first_at,
        PlayerDay.last_at,
    ]
    for name in SUMMED:
        columns.append(fn.SUM(getattr(PlayerRound, name)))
        fields.append(getattr(PlayerDay, name))
    # A map counts for the day of its round 2 (MapResult.ended_at is the round 2 end).
    won = PlayerRound.team == MapResult.winner_team
    lost = MapResult.winner_team.is_null(False) & (PlayerRound.team != MapResult.winner_team)
    columns += [
        fn.SUM(objectives_expr()),
        fn.SUM(revives_expr()),
        fn.SUM(Case(None, [(won, 1)], 0)),
        fn.SUM(Case(None, [(lost, 1)], 0)),
    ]
    fields += [PlayerDay.objectives, PlayerDay.revives, PlayerDay.maps_won, PlayerDay.maps_lost]
    query = (
        PlayerRound.select(*columns)
        .join(MapResult, JOIN.LEFT_OUTER, on=(MapResult.round2 == PlayerRound.round))
        .where(where & counted())
        .group_by(PlayerRound.player, day)
    )
    return fields, query


def _map_select(where: ColumnBase) -> tuple[list[Any], Any]:
    day = day_of(PlayerRound.ended_at)
    columns: list[Any] = [
        PlayerRound.player,
        day,
        PlayerRound.map,
        fn.COUNT(PlayerRound.id),
        fn.SUM(PlayerRound.damage_given),
        fn.SUM(PlayerRound.time_played_s),
    ]
    fields: list[Any] = [
        PlayerMapDay.player,
        PlayerMapDay.day,
        PlayerMapDay.map,
        PlayerMapDay.rounds,
        PlayerMapDay.damage_given,
        PlayerMapDay.time_played_s,
    ]
    query = (
        PlayerRound.select(*columns)
        .where(where & counted())
        .group_by(PlayerRound.player, day, PlayerRound.map)
    )
    return fields, query


def _weapon_select(where: ColumnBase) -> tuple[list[Any], Any]:
    day = day_of(PlayerRound.ended_at)
    columns: list[Any] = [PlayerRound.player, day, WeaponRound.weapon]
    fields: list[Any] = [PlayerWeaponDay.player, PlayerWeaponDay.day, PlayerWeaponDay.weapon]
    for name in WEAPON_SUMMED:
        columns.append(fn.SUM(getattr(WeaponRound, name)))
        fields.append(getattr(PlayerWeaponDay, name))
    query = (
        WeaponRound.select(*columns)
        .join(
            PlayerRound,
            on=(PlayerRound.round == WeaponRound.round)
            & (PlayerRound.player == WeaponRound.player),
        )
        .where(where & counted())
        .group_by(PlayerRound.player, day, WeaponRound.weapon)
    )
    return fields, query


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def refresh(keys: Iterable[Key]) -> int:
    """Recompute the PlayerDay / PlayerWeaponDay rows of these (player id, day) keys.

    Idempotent; safe to call with keys whose rows no longer exist (their aggregate rows
    are removed). Runs in a transaction (a savepoint when called inside the ingest's).
    Returns the number of keys refreshed.
    """
    by_day: dict[date, set[int]] = defaultdict(set)
    for player_id, day in keys:
        by_day[day].add(player_id)
    if not by_day:
        return 0
    with database_proxy.atomic():
        for day, players in sorted(by_day.items()):
            lo = datetime.combine(day, time())
            hi = lo + timedelta(days=1)
            for chunk in _chunks(sorted(players)):
                in_day = (PlayerDay.day == day) & PlayerDay.player.in_(chunk)
                PlayerDay.delete().where(in_day).execute()
                PlayerWeaponDay.delete().where(
                    (PlayerWeaponDay.day == day) & PlayerWeaponDay.player.in_(chunk)
                ).execute()
                PlayerMapDay.delete().where(
                    (PlayerMapDay.day == day) & PlayerMapDay.player.in_(chunk)
                ).execute()
                where = (
                    PlayerRound.player.in_(chunk)
                    & (PlayerRound.ended_at >= lo)
                    & (PlayerRound.ended_at < hi)
                )
                fields, query = _day_select(where)
                PlayerDay.insert_from(query, fields).execute()
                fields, query = _weapon_select(where)
                PlayerWeaponDay.insert_from(query, fields).execute()
                fields, query = _map_select(where)
                PlayerMapDay.insert_from(query, fields).execute()
    n = sum(len(p) for p in by_day.values())
    log.debug("refreshed %d player-day aggregates over %d days", n, len(by_day))
    return n


def keys_for_rounds(round_ids: Iterable[int]) -> set[Key]:
    """The (player id, day) keys touched by the PlayerRound rows of these rounds."""
    ids = sorted(set(round_ids))
    keys: set[Key] = set()
    for chunk in _chunks(ids):
        rows = (
            PlayerRound.select(PlayerRound.player, PlayerRound.ended_at)
            .where(PlayerRound.round.in_(chunk))
            .tuples()
        )
        for player_id, ended_at in rows:
            keys.add((player_id, _as_datetime(ended_at).date()))
    return keys


def refresh_rounds(round_ids: Iterable[int]) -> int:
    """Refresh the aggregates of every player of these rounds on the rounds' days.

    What the ingest calls after a batch: ``refresh_rounds(new_ids + repaired_ids)``.
    """
    return refresh(keys_for_rounds(round_ids))


def rebuild_all() -> None:
    """Recompute every aggregate row from PlayerRound / WeaponRound (one transaction)."""
    with database_proxy.atomic():
        PlayerDay.delete().execute()
        PlayerWeaponDay.delete().execute()
        PlayerMapDay.delete().execute()
        fields, query = _day_select(SQL("1 = 1"))
        PlayerDay.insert_from(query, fields).execute()
        fields, query = _weapon_select(SQL("1 = 1"))
        PlayerWeaponDay.insert_from(query, fields).execute()
        fields, query = _map_select(SQL("1 = 1"))
        PlayerMapDay.insert_from(query, fields).execute()
    log.info("rebuilt player-day aggregates")


def _as_datetime(value: datetime | str) -> datetime:
    # SQLite hands back text if a value was stored in an unexpected format.
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
