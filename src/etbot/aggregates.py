"""Pre-aggregated per-player per-day sums, kept consistent with PlayerRound.

Leaderboards, summaries and comparisons over long periods read :class:`PlayerDay`
(one row per player, game server and server-local calendar day) instead of every
PlayerRound row:
on a five-year history that is ~20 times fewer rows. :class:`PlayerWeaponDay` does the
same for WeaponRound (favourite weapon) and :class:`PlayerMapDay` per map (best map).
PlayerDay also counts the stopwatch maps won and lost (from MapResult, on the day of the
map's round 2), so a re-paired round 2 refreshes them with its own (player, day) keys.

Both tables hold only rows that aggregates count: orphan rounds and spectator rows
(team 3) are left out, exactly like the per-round queries (:func:`etbot.statdefs.counted`).

Every aggregate row belongs to one game server (``server``, from the round): queries
about one server filter on it, queries about all servers sum over it, which gives exactly
the numbers of one row per (player, day).

Maintenance is by recomputation, never by increments: :func:`refresh` deletes the given
(player, day) rows of every server and rebuilds them from PlayerRound with one ``INSERT … SELECT …
GROUP BY`` per day. That makes it idempotent and correct whatever happened to the rows
(a round 2 re-derived because its pairing changed, an orphan that got paired, …). The
ingest calls :func:`refresh_rounds` (or :func:`refresh`) at the end of each import batch,
inside its transaction; :func:`rebuild_all` recomputes everything (maintenance, tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from peewee import (
    JOIN,
    SQL,
    Case,
    ColumnBase,
    DateField,
    DateTimeField,
    IntegerField,
    fn,
)

from etbot.db import among, insert_rows, is_postgres
from etbot.models import (
    BaseModel,
    MapResult,
    PlayerDay,
    PlayerMapDay,
    PlayerRound,
    PlayerWeaponDay,
    Round,
    WeaponRound,
    database_proxy,
)
from etbot.statdefs import counted, objectives_expr, revives_expr

log = logging.getLogger(__name__)

Key = tuple[int, date]
_DAY = timedelta(days=1)


def day_of(column: ColumnBase) -> ColumnBase:
    """SQL expression: the calendar date of a naive datetime column (server local)."""
    if is_postgres():
        return column.cast("date")
    return fn.date(column)


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


class _AggKey(BaseModel):
    """Temporary table of the (player, day) keys one :func:`refresh` recomputes.

    Joining it lets one INSERT … SELECT per aggregate table rebuild a whole import
    batch, instead of one statement per day (profiled: the per-day statements cost more
    than the import itself).
    """

    player_id = IntegerField()
    day = DateField()
    lo = DateTimeField()  # day start (server local)
    hi = DateTimeField()  # next day start

    class Meta:
        table_name = "etbot_agg_key"
        primary_key = False


def _rounds_query(columns: list[Any], keyed: bool) -> Any:
    """SELECT columns FROM player_round, or, when ``keyed``, driven by the key table.

    Starting from the (small) key table makes the planner walk the (player, ended_at)
    index instead of scanning every PlayerRound / WeaponRound row.
    """
    if not keyed:
        return PlayerRound.select(*columns)
    # SQLite reorders inner joins by its own estimate and, without statistics for the
    # temporary table, scans PlayerRound; a CROSS JOIN keeps the written order there
    # (it is the documented way) and means the same as the inner join everywhere.
    return (
        _AggKey.select(*columns)
        .join(PlayerRound, JOIN.CROSS)
        .where(
            (PlayerRound.player == _AggKey.player_id)
            & (PlayerRound.ended_at >= _AggKey.lo)
            & (PlayerRound.ended_at < _AggKey.hi)
        )
    )


def _with_server(query: Any) -> Any:
    """Join each PlayerRound row's Round, whose server keys the aggregate rows."""
    return query.switch(PlayerRound).join(Round, on=(Round.id == PlayerRound.round))


def _day_select(where: ColumnBase, keyed: bool = False) -> tuple[list[Any], Any]:
    day = day_of(PlayerRound.ended_at)
    columns: list[Any] = [
        PlayerRound.player,
        day,
        Round.server,
        fn.COUNT(PlayerRound.id),
        fn.MIN(PlayerRound.ended_at),
        fn.MAX(PlayerRound.ended_at),
    ]
    fields: list[Any] = [
        PlayerDay.player,
        PlayerDay.day,
        PlayerDay.server,
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
        _with_server(_rounds_query(columns, keyed))
        .switch(PlayerRound)
        .join(MapResult, JOIN.LEFT_OUTER, on=(MapResult.round2 == PlayerRound.round))
        .where(where & counted())
        .group_by(PlayerRound.player, day, Round.server)
    )
    return fields, query


def _map_select(where: ColumnBase, keyed: bool = False) -> tuple[list[Any], Any]:
    day = day_of(PlayerRound.ended_at)
    columns: list[Any] = [
        PlayerRound.player,
        day,
        Round.server,
        PlayerRound.map,
        fn.COUNT(PlayerRound.id),
        fn.SUM(PlayerRound.damage_given),
        fn.SUM(PlayerRound.time_played_s),
    ]
    fields: list[Any] = [
        PlayerMapDay.player,
        PlayerMapDay.day,
        PlayerMapDay.server,
        PlayerMapDay.map,
        PlayerMapDay.rounds,
        PlayerMapDay.damage_given,
        PlayerMapDay.time_played_s,
    ]
    query = (
        _with_server(_rounds_query(columns, keyed))
        .where(where & counted())
        .group_by(PlayerRound.player, day, Round.server, PlayerRound.map)
    )
    return fields, query


def _weapon_select(where: ColumnBase, keyed: bool = False) -> tuple[list[Any], Any]:
    day = day_of(PlayerRound.ended_at)
    columns: list[Any] = [PlayerRound.player, day, Round.server, WeaponRound.weapon]
    fields: list[Any] = [
        PlayerWeaponDay.player,
        PlayerWeaponDay.day,
        PlayerWeaponDay.server,
        PlayerWeaponDay.weapon,
    ]
    for name in WEAPON_SUMMED:
        columns.append(fn.SUM(getattr(WeaponRound, name)))
        fields.append(getattr(PlayerWeaponDay, name))
    query = (
        _with_server(_rounds_query(columns, keyed))
        .switch(PlayerRound)
        .join(
            WeaponRound,
            on=(WeaponRound.round == PlayerRound.round)
            & (WeaponRound.player == PlayerRound.player),
        )
        .where(where & counted())
        .group_by(PlayerRound.player, day, Round.server, WeaponRound.weapon)
    )
    return fields, query


def refresh(keys: Iterable[Key]) -> int:
    """Recompute the PlayerDay / PlayerWeaponDay / PlayerMapDay rows of these keys.

    Keys are (player id, day): the rows of every game server of that player and day.
    Idempotent; safe to call with keys whose rows no longer exist (their aggregate rows
    are removed). Runs in a transaction (a savepoint when called inside the ingest's).
    Returns the number of keys refreshed.
    """
    unique = sorted(set(keys))
    if not unique:
        return 0
    with database_proxy.atomic():
        _AggKey.create_table(safe=True, temporary=True)
        _AggKey.delete().execute()
        key_rows = []
        for player_id, day in unique:
            lo = datetime.combine(day, time())
            hi = lo + _DAY
            key_rows.append((player_id, day.isoformat(), lo.isoformat(" "), hi.isoformat(" ")))
        insert_rows(_AggKey, ("player_id", "day", "lo", "hi"), key_rows)
        with _keys_drive_the_plan():
            for model in (PlayerDay, PlayerWeaponDay, PlayerMapDay):
                doomed = _AggKey.select(model.id).join(
                    model,
                    on=(model.player == _AggKey.player_id) & (model.day == _AggKey.day),
                )
                model.delete().where(model.id.in_(doomed)).execute()
            everything = SQL("1 = 1")
            for model, build in (
                (PlayerDay, _day_select),
                (PlayerWeaponDay, _weapon_select),
                (PlayerMapDay, _map_select),
            ):
                fields, query = build(everything, keyed=True)
                model.insert_from(query, fields).execute()
        _AggKey.delete().execute()
    log.debug("refreshed %d player-day aggregates", len(unique))
    return len(unique)


#: PostgreSQL settings while the keys drive the aggregate statements (see below).
_PLAN_SETTINGS = {"enable_mergejoin": "off", "enable_hashjoin": "off", "jit": "off"}


@contextmanager
def _keys_drive_the_plan() -> Iterator[None]:
    """On PostgreSQL, make the key table drive an index range scan of each player's rows
    of the day, for the statements inside (the previous settings come back after them).

    The planner's estimates are stale in the middle of an import transaction (autovacuum
    never analyzes a temporary table, nor rows not yet committed): it chose a merge or
    hash join on the player alone and compared 13 million row pairs for one import batch
    (1.9-3.9 s; 0.16 s as a nested loop, measured), and with 100,000 files in the
    database its estimates made it compile the statements first (JIT: 0.35 s of a 0.4 s
    statement).
    """
    if not is_postgres():
        yield
        return
    before = {
        name: database_proxy.execute_sql("SELECT current_setting(%s)", (name,)).fetchone()[0]
        for name in _PLAN_SETTINGS
    }
    for name, value in _PLAN_SETTINGS.items():
        database_proxy.execute_sql("SELECT set_config(%s, %s, true)", (name, value))
    yield
    # Not after an error: the rollback (of the transaction or savepoint) undoes them.
    for name, value in before.items():
        database_proxy.execute_sql("SELECT set_config(%s, %s, true)", (name, value))


def keys_for_rounds(round_ids: Iterable[int]) -> set[Key]:
    """The (player id, day) keys touched by the PlayerRound rows of these rounds."""
    ids = sorted(set(round_ids))
    keys: set[Key] = set()
    day = day_of(PlayerRound.ended_at)
    query = (
        PlayerRound.select(PlayerRound.player, day).where(among(PlayerRound.round, ids)).distinct()
    )
    # One row per player and day (not per round), read with a plain cursor: an import
    # batch touches tens of thousands of rows but a few thousand keys.
    for player_id, value in database_proxy.execute(query):
        keys.add((player_id, value if isinstance(value, date) else date.fromisoformat(value)))
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
